/**
 * A long-lived worker thread that runs `fn`, `branch` and `shortCircuit` functions and
 * callbacks from DAG files, one at a time, so a function that blocks, hangs or crashes never stalls the
 * worker's event loop: the worker terminates this thread instead. It has its own event
 * loop, heap (capped) and copy of the environment; `process.exit()` in a function ends only
 * this thread. Started through fn-runner-boot.mjs, which registers the TypeScript loader.
 *
 * The worker may hand a runner several tasks at once; they run in order, one after another,
 * so a burst of short tasks wakes one thread rather than one thread each. A task still
 * queued here can be withdrawn by the worker (fn-cells.ts) and is then skipped.
 */
import { statSync } from 'node:fs';
import { format } from 'node:util';
import { parentPort, workerData } from 'node:worker_threads';
import { importDagFile, isNonRetryable, SkipSignal, type Dag, type HttpSensorResponse, type TaskContext } from '@aloft/core';
import { PROGRESS, STARTED } from './fn-cells.js';
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

/** A task as handed to a runner: its tag, and the cell that says whether it started. */
export type Handed = (RunMessage | CallbackMessage) & { tag: number; cell: number };

/** From a runner; `tag` names the task a message belongs to. */
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'log'; tag: number; level: 'info' | 'warn' | 'error'; line: string }
  | { type: 'out'; tag: number; stream: 'stdout' | 'stderr'; text: string }
  /** A connection or variable the function asked for (ctx.conn, ctx.variable); answered by a SecretReply. */
  | { type: 'secret'; tag: number; req: number; kind: 'conn' | 'var'; name: string; optional: boolean }
  | { type: 'done'; tag: number; ok: true; valueJson: string | undefined; skipped?: string | undefined }
  /** `noRetry`: the function threw a NonRetryableError (or an error marked so), known here by name and mark. */
  | { type: 'done'; tag: number; ok: false; error: string; noRetry?: true | undefined; errorName?: string | undefined };

/** To a runner: the answer to its 'secret' message `req`. */
export type SecretReply = { type: 'secret'; req: number; ok: true; value: unknown } | { type: 'secret'; req: number; ok: false; error: string };

export interface RunnerData {
  /** fn-cells.ts */
  cells: SharedArrayBuffer;
}

const send = (m: ChildMessage): void => {
  parentPort?.postMessage(m);
};

const cells = new Int32Array((workerData as RunnerData).cells);
const dagsByFile = new Map<string, { mtimeKey: string; checkedAt: number; dags: Map<string, Dag> }>();
const asked = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let nextReq = 0;
/** Asks the worker, through the pool and the fn host, for a connection or variable of task `tag`. */
function secret(tag: number, kind: 'conn' | 'var', name: string, optional: boolean): Promise<unknown> {
  const req = ++nextReq;
  return new Promise((resolve, reject) => {
    asked.set(req, { resolve, reject });
    send({ type: 'secret', tag, req, kind, name, optional });
  });
}

/** The task running now. */
let current: { tag: number; abort: AbortController } | undefined;
const queue: Handed[] = [];
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

async function run(m: RunMessage, tag: number, signal: AbortSignal): Promise<void> {
  try {
    const d = await loadDag(m.file, m.dagId);
    const fn = d.functionOf(m.taskId);
    if (!fn) throw new Error(`task "${m.taskId}" of DAG "${m.dagId}" has no function in ${m.file}`);
    const ctx = taskContext(
      m.ctx,
      (level, msg, args) => send({ type: 'log', tag, level, line: format(msg, ...args) }),
      signal,
      (kind, name, optional) => secret(tag, kind, name, optional),
    );
    const value = m.response ? await (fn as unknown as (r: HttpSensorResponse, c: TaskContext) => unknown)(m.response, ctx) : await fn(ctx);
    let valueJson: string | undefined;
    if (value !== undefined) {
      // TaskRefs returned by a branch become their ids.
      valueJson = JSON.stringify(value);
    }
    send({ type: 'done', tag, ok: true, valueJson });
  } catch (err) {
    if (err instanceof SkipSignal) send({ type: 'done', tag, ok: true, valueJson: undefined, skipped: err.message });
    else
      send({
        type: 'done',
        tag,
        ok: false,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
        noRetry: isNonRetryable(err) || undefined,
        errorName: err instanceof Error ? err.name : undefined,
      });
  }
}

async function runCallback(m: CallbackMessage, tag: number, signal: AbortSignal): Promise<void> {
  try {
    const d = await loadDag(m.file, m.dagId);
    const fn = d.callbackOf(m.ref);
    if (!fn) throw new Error(`callback "${m.ref}" of DAG "${m.dagId}" is not a function in ${m.file}`);
    await fn(callbackContext(m.ctx, (level, msg, args) => send({ type: 'log', tag, level, line: format(msg, ...args) }), signal));
    send({ type: 'done', tag, ok: true, valueJson: undefined });
  } catch (err) {
    send({ type: 'done', tag, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
}

/** Starts the next queued task the worker has not withdrawn, once the current one is done. */
function next(): void {
  while (!current && queue.length) {
    const m = queue.shift()!;
    if (Atomics.compareExchange(cells, m.cell, m.tag, STARTED) !== m.tag) continue;
    Atomics.add(cells, PROGRESS, 1);
    const task = { tag: m.tag, abort: new AbortController() };
    current = task;
    const ran = m.type === 'callback' ? runCallback(m, task.tag, task.abort.signal) : run(m, task.tag, task.abort.signal);
    const done = () => {
      current = undefined;
      next();
    };
    void ran.then(done, done);
  }
}

// console.log and process.stdout.write travel as messages on the same port as 'done', so
// every line a function prints reaches its task's log before the task is reported over.
for (const stream of ['stdout', 'stderr'] as const) {
  const target = process[stream];
  target.write = ((chunk: string | Uint8Array, enc?: unknown, cb?: unknown): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    // Output after a task ended, from a timer it left behind, goes to the task running now,
    // if any (tag 0 matches none).
    send({ type: 'out', tag: current?.tag ?? 0, stream, text });
    const done = typeof enc === 'function' ? enc : cb;
    if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
    return true;
  }) as typeof target.write;
}

parentPort?.on('message', (m: Handed | SecretReply | { type: 'abort'; tag: number }) => {
  if (m.type === 'secret') {
    const a = asked.get(m.req);
    asked.delete(m.req);
    if (m.ok) a?.resolve(m.value);
    else a?.reject(new Error(m.error));
  } else if (m.type === 'abort') {
    if (current?.tag === m.tag) current.abort.abort(new Error('task cancelled'));
  } else {
    queue.push(m);
    next();
  }
});
send({ type: 'ready' });
