/**
 * A long-lived worker thread that runs `fn`, `branch` and `shortCircuit` functions and
 * callbacks from DAG files, one at a time, so a function that blocks, hangs or crashes never stalls the
 * worker's event loop: the worker terminates this thread instead. It has its own event
 * loop, heap (capped) and copy of the environment; `process.exit()` in a function ends only
 * this thread. Started through fn-runner-boot.mjs, which registers the TypeScript loader.
 */
import { statSync } from 'node:fs';
import { format } from 'node:util';
import { parentPort } from 'node:worker_threads';
import { importDagFile, SkipSignal, type Dag, type HttpSensorResponse, type TaskContext } from '@aloft/core';
import { callbackContext, taskContext, type CallbackContextData } from './task-context.js';

export interface RunMessage {
  type: 'run';
  file: string;
  dagId: string;
  taskId: string;
  /** An HTTP sensor's answer: the task's function is its responseCheck, called as (response, ctx). */
  response?: HttpSensorResponse | undefined;
  ctx: {
    dagId: string;
    runId: string;
    taskId: string;
    mapIndex: number;
    tryNumber: number;
    args: Record<string, unknown>;
    logicalDate: number;
    dataIntervalStart: number;
    dataIntervalEnd: number;
    ds: string;
    params: Record<string, unknown>;
    conf: Record<string, unknown>;
    outputs: Record<string, unknown>;
  };
}

/** Runs a callback of the DAG by reference (`task:<id>:onFailure`, `dag:onSuccess`). */
export interface CallbackMessage {
  type: 'callback';
  file: string;
  dagId: string;
  ref: string;
  ctx: CallbackContextData;
}

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; line: string }
  | { type: 'out'; stream: 'stdout' | 'stderr'; text: string }
  | { type: 'done'; ok: true; valueJson: string | undefined; skipped?: string | undefined }
  | { type: 'done'; ok: false; error: string };

const send = (m: ChildMessage): void => {
  parentPort?.postMessage(m);
};

const dagsByFile = new Map<string, { mtimeKey: string; checkedAt: number; dags: Map<string, Dag> }>();
let abort: AbortController | undefined;
/**
 * How long a loaded DAG file is used without looking at its modification time again. A
 * no-op task costs a few microseconds without the stat; an edited file is picked up within
 * this time (the scheduler takes longer than that to notice the edit itself).
 */
const RECHECK_MS = 1000;

async function loadDag(file: string, dagId: string): Promise<Dag> {
  const now = performance.now();
  let entry = dagsByFile.get(file);
  if (!entry || now - entry.checkedAt > RECHECK_MS) {
    const mtimeKey = String(statSync(file).mtimeMs);
    if (!entry || entry.mtimeKey !== mtimeKey) {
      const dags = await importDagFile(file);
      entry = { mtimeKey, checkedAt: now, dags: new Map(dags.map((d) => [d.id, d])) };
      dagsByFile.set(file, entry);
    } else {
      entry.checkedAt = now;
    }
  }
  const d = entry.dags.get(dagId);
  if (!d) throw new Error(`DAG "${dagId}" is no longer declared in ${file}`);
  return d;
}

async function run(m: RunMessage): Promise<void> {
  abort = new AbortController();
  try {
    const d = await loadDag(m.file, m.dagId);
    const fn = d.functionOf(m.taskId);
    if (!fn) throw new Error(`task "${m.taskId}" of DAG "${m.dagId}" has no function in ${m.file}`);
    const ctx = taskContext(m.ctx, (level, msg, args) => send({ type: 'log', level, line: format(msg, ...args) }), abort.signal);
    const value = m.response ? await (fn as unknown as (r: HttpSensorResponse, c: TaskContext) => unknown)(m.response, ctx) : await fn(ctx);
    let valueJson: string | undefined;
    if (value !== undefined) {
      // TaskRefs returned by a branch become their ids.
      valueJson = JSON.stringify(value);
    }
    send({ type: 'done', ok: true, valueJson });
  } catch (err) {
    if (err instanceof SkipSignal) send({ type: 'done', ok: true, valueJson: undefined, skipped: err.message });
    else send({ type: 'done', ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  } finally {
    abort = undefined;
  }
}

async function runCallback(m: CallbackMessage): Promise<void> {
  abort = new AbortController();
  try {
    const d = await loadDag(m.file, m.dagId);
    const fn = d.callbackOf(m.ref);
    if (!fn) throw new Error(`callback "${m.ref}" of DAG "${m.dagId}" is not a function in ${m.file}`);
    await fn(callbackContext(m.ctx, (level, msg, args) => send({ type: 'log', level, line: format(msg, ...args) }), abort.signal));
    send({ type: 'done', ok: true, valueJson: undefined });
  } catch (err) {
    send({ type: 'done', ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  } finally {
    abort = undefined;
  }
}

// console.log and process.stdout.write travel as messages on the same port as 'done', so
// every line a function prints reaches its task's log before the task is reported over.
for (const stream of ['stdout', 'stderr'] as const) {
  const target = process[stream];
  target.write = ((chunk: string | Uint8Array, enc?: unknown, cb?: unknown): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    send({ type: 'out', stream, text });
    const done = typeof enc === 'function' ? enc : cb;
    if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
    return true;
  }) as typeof target.write;
}

parentPort?.on('message', (m: RunMessage | CallbackMessage | { type: 'abort' }) => {
  if (m.type === 'abort') abort?.abort(new Error('task cancelled'));
  else if (m.type === 'callback') void runCallback(m);
  else void run(m);
});
send({ type: 'ready' });
