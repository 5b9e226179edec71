import { stat } from 'node:fs/promises';
import { attemptSignal, pokeVerdict, type HttpSensorResponse, type PokeVerdict, type SensorCheck, type Store, type TemplateInfo } from '@aloft/core';
import { renderParts, type TaskTemplates } from '../template-renderer.js';
import type { ExecEnv, ExecResult, RunningTask } from './types.js';

/** One poke's answer: a verdict, or an end of the try (failed or skipped) decided by the check. */
export type PokeAnswer = PokeVerdict | ExecResult;

export interface PokeInput {
  check: SensorCheck;
  info: TemplateInfo;
  /** Renders the check's templated fields. */
  templates: TaskTemplates;
  store: Store;
  softFail: boolean;
  /** Runs the task's function from the DAG file (a sensor's `poke`, an HTTP sensor's `responseCheck`) isolated. */
  runFunction: (response?: HttpSensorResponse) => RunningTask;
  /** Aborted when the try is cancelled. */
  signal: AbortSignal;
  /** Lets the caller cancel a function that is running. */
  onRunning: (running: RunningTask | undefined) => void;
}

const MAX_BODY_BYTES = 1 << 20;

/** Checks a sensor's condition once. */
export function poke(input: PokeInput, env: ExecEnv): Promise<PokeAnswer> {
  const { check } = input;
  switch (check.type) {
    case 'fn':
      return viaFunction(input, undefined);
    case 'file':
      return pokeFile(check, input, env);
    case 'http':
      return pokeHttp(check, input, env);
    case 'externalTask':
      return pokeExternal(check, input, env);
  }
}

async function viaFunction(input: PokeInput, response: HttpSensorResponse | undefined): Promise<PokeAnswer> {
  const running = input.runFunction(response);
  input.onRunning(running);
  try {
    const r = await running.result;
    return r.outcome === 'success' ? pokeVerdict(r.outputJson) : r;
  } finally {
    input.onRunning(undefined);
  }
}

async function pokeFile(check: Extract<SensorCheck, { type: 'file' }>, input: PokeInput, env: ExecEnv): Promise<PokeAnswer> {
  const { path } = await renderParts(input.templates, `${input.info.dagId}.${input.info.taskId}`, { path: check.path });
  try {
    await stat(path);
    env.log.system(`${path} exists`);
    return { done: true };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    env.log.system(code === 'ENOENT' ? `${path} does not exist yet` : `cannot check ${path}: ${(err as Error).message}`);
    return { done: false };
  }
}

async function pokeHttp(check: Extract<SensorCheck, { type: 'http' }>, input: PokeInput, env: ExecEnv): Promise<PokeAnswer> {
  const where = `${input.info.dagId}.${input.info.taskId}`;
  const rendered = await renderParts(input.templates, where, {
    url: check.url,
    headers: check.headers,
    ...(check.body === undefined ? {} : { body: check.body }),
  });
  const url = rendered.url;
  let parsed: URL;
  try {
    parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    // The rendered URL may hold a secret: say which field, not what it is.
    return { outcome: 'failed', reason: `${where}: url is not an http:// or https:// URL once rendered` };
  }
  const { headers } = rendered;
  const body = rendered.body;
  // Only the host and path are logged: query strings and headers may carry secrets.
  const shown = `${check.method} ${parsed.host}${parsed.pathname}`;
  let response: HttpSensorResponse;
  const attempt = attemptSignal(input.signal, check.requestTimeoutMs);
  try {
    const res = await fetch(parsed, {
      method: check.method,
      headers,
      body,
      redirect: 'follow',
      signal: attempt.signal,
    });
    const text = check.hasResponseCheck ? await readCapped(res) : '';
    if (!check.hasResponseCheck) await res.body?.cancel();
    response = { status: res.status, headers: Object.fromEntries(res.headers), body: text };
  } catch (err) {
    if (input.signal.aborted) throw err;
    const e = err as Error & { cause?: { code?: string } };
    const why = attempt.timedOut() ? `no answer within ${check.requestTimeoutMs} ms` : (e.cause?.code ?? e.message);
    env.log.system(`${shown}: ${why}`);
    return { done: false };
  } finally {
    attempt.done();
  }
  env.log.system(`${shown} → ${response.status}`);
  if (response.status < 200 || response.status > 299) return { done: false };
  return check.hasResponseCheck ? viaFunction(input, response) : { done: true };
}

async function readCapped(res: Response): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= MAX_BODY_BYTES) {
      await reader.cancel();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8');
}

async function pokeExternal(check: Extract<SensorCheck, { type: 'externalTask' }>, input: PokeInput, env: ExecEnv): Promise<PokeAnswer> {
  const { store, info } = input;
  const logical = info.logicalDate.getTime() - check.executionDeltaMs;
  const what = check.externalTaskId ? `task "${check.externalTaskId}" of DAG "${check.externalDagId}"` : `DAG "${check.externalDagId}"`;
  const at = new Date(logical).toISOString();
  const runIds = await store.runIdsAt(check.externalDagId, logical);
  if (runIds.length === 0) {
    env.log.system(`no run of DAG "${check.externalDagId}" for logical date ${at} yet`);
    return { done: false };
  }
  const states: { runId: string; state: string | undefined }[] = [];
  for (const runId of runIds) {
    const state = check.externalTaskId
      ? (await store.getTi({ dagId: check.externalDagId, runId, taskId: check.externalTaskId, mapIndex: -1 }))?.state
      : (await store.getRun(check.externalDagId, runId))?.state;
    states.push({ runId, state });
  }
  const allowed = states.find((s) => s.state !== undefined && check.allowedStates.includes(s.state));
  if (allowed) {
    env.log.system(`${what} is ${allowed.state} in run ${allowed.runId} (${at})`);
    return { done: true };
  }
  const failed = states.find((s) => s.state !== undefined && check.failedStates.includes(s.state));
  if (failed) {
    const reason = `${what} is ${failed.state} in run ${failed.runId} (logical date ${at})`;
    return { outcome: input.softFail ? 'skipped' : 'failed', reason };
  }
  env.log.system(`${what} for ${at} is ${states.map((s) => s.state ?? 'not there').join(', ')}; waiting for ${check.allowedStates.join(' or ')}`);
  return { done: false };
}
