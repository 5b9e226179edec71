import { Worker } from 'node:worker_threads';
import type { CallbackMessage, ChildMessage, RunMessage } from '../fn-runner.js';
import { LineSplitter } from '../task-log.js';
import type { ExecEnv, ExecResult, RunningTask } from './types.js';

const BOOT = new URL('../fn-runner-boot.mjs', import.meta.url);

interface Slot {
  thread: Worker;
  ready: Promise<void>;
  alive: boolean;
  current: ((m: ChildMessage) => void) | undefined;
  onOutput: ((stream: 'stdout' | 'stderr', line: string) => void) | undefined;
  onExit: ((code: number, error: Error | undefined) => void) | undefined;
  /** Output the runner sends as messages, so it stays in order with its 'done'. */
  push?: (stream: 'stdout' | 'stderr', text: string) => void;
  flush?: () => void;
}

export interface FnPoolOptions {
  /** Runner threads started ahead of demand and kept while idle. */
  warm: number;
  /** Runners beyond `warm` that sit idle this long are stopped. */
  idleMs: number;
  /** Heap cap of one runner; a function past it fails alone, the worker lives on. */
  maxHeapMb?: number;
}

/**
 * Warm worker threads that run task functions, at most one task per thread at a time.
 * A thread whose task is cancelled, times out or crashes is terminated and replaced on
 * demand. Starting a runner costs loading the TypeScript loader and the DAG file, so `warm`
 * runners are started ahead (one after another, in the background) and the pool keeps what
 * it grew to until a runner has been idle for `idleMs`. Messages between the worker and a
 * runner stay in the process (no pipe, no JSON), which is most of why a thread is used.
 */
export class FnPool {
  readonly #idle: { slot: Slot; since: number }[] = [];
  readonly #all = new Set<Slot>();
  readonly #reap: NodeJS.Timeout;
  #closed = false;

  constructor(
    private readonly runnerEnv: NodeJS.ProcessEnv,
    private readonly o: FnPoolOptions = { warm: 0, idleMs: 600_000 },
  ) {
    this.#reap = setInterval(() => this.#reapIdle(), Math.max(1000, Math.min(o.idleMs, 60_000)));
    this.#reap.unref();
  }

  get size(): number {
    return this.#all.size;
  }

  /** Starts runners, one at a time, until `warm` of them exist. */
  async prewarm(): Promise<void> {
    while (!this.#closed && this.#all.size < this.o.warm) {
      const slot = this.#spawn();
      try {
        await slot.ready;
      } catch {
        return;
      }
      if (!this.#closed) this.#idle.push({ slot, since: Date.now() });
    }
  }

  #reapIdle(): void {
    const cutoff = Date.now() - this.o.idleMs;
    // Oldest idle first; keep `warm` runners.
    let size = this.#all.size;
    while (size > this.o.warm && this.#idle.length && this.#idle[0]!.since < cutoff) {
      const { slot } = this.#idle.shift()!;
      this.#all.delete(slot);
      void slot.thread.terminate();
      size--;
    }
  }

  #spawn(): Slot {
    const thread = new Worker(BOOT, {
      execArgv: ['--conditions=aloft-source'],
      env: this.runnerEnv,
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: this.o.maxHeapMb ?? 1024 },
    });
    const slot: Slot = { thread, ready: Promise.resolve(), alive: true, current: undefined, onOutput: undefined, onExit: undefined };
    let error: Error | undefined;
    slot.ready = new Promise<void>((resolve, reject) => {
      const onMsg = (m: ChildMessage) => {
        if (m.type === 'ready') {
          thread.off('message', onMsg);
          resolve();
        }
      };
      thread.on('message', onMsg);
      thread.once('exit', (code) => reject(new Error(`function runner ended before it was ready (exit code ${code}${error ? `: ${error.message}` : ''})`)));
    });
    slot.ready.catch(() => undefined);
    thread.on('message', (m: ChildMessage) => slot.current?.(m));
    thread.on('error', (err) => {
      error = err;
    });
    const out = new LineSplitter((l) => slot.onOutput?.('stdout', l));
    const err = new LineSplitter((l) => slot.onOutput?.('stderr', l));
    slot.push = (stream, text) => (stream === 'stdout' ? out : err).push(text);
    slot.flush = () => {
      out.end();
      err.end();
    };
    // Anything written past the runner's own capture (native code, very late writes).
    thread.stdout.on('data', (c: Buffer) => out.push(c));
    thread.stderr.on('data', (c: Buffer) => err.push(c));
    thread.once('exit', (code) => {
      slot.alive = false;
      out.end();
      err.end();
      this.#all.delete(slot);
      const i = this.#idle.findIndex((e) => e.slot === slot);
      if (i >= 0) this.#idle.splice(i, 1);
      slot.onExit?.(code, error);
    });
    this.#all.add(slot);
    return slot;
  }

  /** Runs a task's function, or a callback (whose output, if any, is ignored). */
  run(msg: RunMessage | CallbackMessage, env: { log: Pick<ExecEnv['log'], 'write'>; killGraceMs: number }): RunningTask {
    // Most recently used first, so the least used drift to the reaper.
    const slot = this.#idle.pop()?.slot ?? this.#spawn();
    let cancelled: string | undefined;
    let settled = false;
    let settle: (r: ExecResult) => void = () => undefined;
    const result = new Promise<ExecResult>((resolve) => {
      settle = resolve;
    });
    const release = () => {
      slot.current = undefined;
      slot.onOutput = undefined;
      slot.onExit = undefined;
    };
    const finish = (r: ExecResult, reusable: boolean) => {
      if (settled) return;
      settled = true;
      slot.flush?.();
      release();
      if (reusable && !this.#closed && slot.alive) this.#idle.push({ slot, since: Date.now() });
      else void slot.thread.terminate();
      settle(r);
    };
    slot.onExit = (code, error) => {
      const why = error ? `${error.name}: ${error.message}` : `exit code ${code}`;
      finish({ outcome: 'failed', reason: cancelled ?? `the function's runner ended (${why})` }, false);
    };
    slot.onOutput = (stream, line) => env.log.write(stream, line);
    slot.current = (m) => {
      if (m.type === 'out') slot.push?.(m.stream, m.text);
      else if (m.type === 'log') env.log.write(m.level === 'info' ? 'stdout' : 'stderr', `[${m.level}] ${m.line}`);
      else if (m.type === 'done') {
        if (!m.ok) {
          env.log.write('stderr', m.error);
          finish({ outcome: 'failed', reason: firstLine(m.error) }, true);
        } else if (m.skipped !== undefined) finish({ outcome: 'skipped', reason: m.skipped }, true);
        else finish({ outcome: 'success', outputJson: m.valueJson }, true);
      }
    };
    slot.ready.then(
      () => slot.thread.postMessage(msg),
      (err: unknown) => finish({ outcome: 'failed', reason: err instanceof Error ? err.message : String(err) }, false),
    );
    return {
      result,
      pgid: undefined,
      async cancel(reason: string) {
        cancelled = reason;
        if (slot.alive) slot.thread.postMessage({ type: 'abort' });
        // Give the function a moment to notice its AbortSignal, then end the thread, unless
        // it finished meanwhile and the runner already serves another task.
        await new Promise((r) => setTimeout(r, Math.min(env.killGraceMs, 1000)));
        if (!settled) {
          settled = true;
          slot.flush?.();
          release();
          await slot.thread.terminate();
          settle({ outcome: 'failed', reason });
        }
      },
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#reap);
    await Promise.all([...this.#all].map((s) => s.thread.terminate()));
    this.#all.clear();
    this.#idle.length = 0;
  }
}

function firstLine(s: string): string {
  return (s.split('\n')[0] ?? s).slice(0, 500);
}
