import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, RunMessage } from '../fn-child.js';
import { LineSplitter } from '../task-log.js';
import type { ExecEnv, ExecResult, RunningTask } from './types.js';

const CHILD = fileURLToPath(new URL('../fn-child.ts', import.meta.url));

interface Slot {
  child: ChildProcess;
  ready: Promise<void>;
  current: ((m: ChildMessage) => void) | undefined;
  onOutput: ((stream: 'stdout' | 'stderr', line: string) => void) | undefined;
}

export interface FnPoolOptions {
  /** Runner processes started ahead of demand and kept while idle. */
  warm: number;
  /** Runners beyond `warm` that sit idle this long are stopped. */
  idleMs: number;
}

/**
 * Warm child processes that run task functions, at most one task per child at a time.
 * A child that is cancelled, times out or crashes is killed and replaced on demand.
 * Starting a runner costs a Node process boot and the import of the DAG file, so `warm`
 * runners are started ahead (one after another, in the background) and the pool keeps
 * what it grew to until a runner has been idle for `idleMs`.
 */
export class FnPool {
  readonly #idle: { slot: Slot; since: number }[] = [];
  readonly #all = new Set<Slot>();
  readonly #reap: NodeJS.Timeout;
  #closed = false;

  constructor(
    private readonly childEnv: NodeJS.ProcessEnv,
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
    while (this.#all.size > this.o.warm && this.#idle.length && this.#idle[0]!.since < cutoff) {
      this.#idle.shift()!.slot.child.kill('SIGKILL');
    }
  }

  #spawn(): Slot {
    const child = fork(CHILD, [], {
      execArgv: ['--conditions=aloft-source', '--import', import.meta.resolve('tsx')],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: this.childEnv,
      serialization: 'json',
    });
    const slot: Slot = { child, ready: Promise.resolve(), current: undefined, onOutput: undefined };
    slot.ready = new Promise<void>((resolve, reject) => {
      const onMsg = (m: ChildMessage) => {
        if (m.type === 'ready') {
          child.off('message', onMsg);
          resolve();
        }
      };
      child.on('message', onMsg);
      child.once('exit', (code, signal) => reject(new Error(`function runner exited before it was ready (${signal ?? `code ${code}`})`)));
    });
    slot.ready.catch(() => undefined);
    child.on('message', (m: ChildMessage) => slot.current?.(m));
    const out = new LineSplitter((l) => slot.onOutput?.('stdout', l));
    const err = new LineSplitter((l) => slot.onOutput?.('stderr', l));
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    child.once('exit', () => {
      this.#all.delete(slot);
      const i = this.#idle.findIndex((e) => e.slot === slot);
      if (i >= 0) this.#idle.splice(i, 1);
    });
    this.#all.add(slot);
    return slot;
  }

  run(msg: RunMessage, env: ExecEnv): RunningTask {
    // Most recently used first, so the least used drift to the reaper.
    const slot = this.#idle.pop()?.slot ?? this.#spawn();
    let cancelled: string | undefined;
    let settled = false;
    let settle: (r: ExecResult) => void = () => undefined;
    const result = new Promise<ExecResult>((resolve) => {
      settle = resolve;
    });
    const finish = (r: ExecResult, reusable: boolean) => {
      if (settled) return;
      settled = true;
      slot.current = undefined;
      slot.onOutput = undefined;
      slot.child.off('exit', onExit);
      if (reusable && !this.#closed && slot.child.connected) this.#idle.push({ slot, since: Date.now() });
      else slot.child.kill('SIGKILL');
      settle(r);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      finish({ outcome: 'failed', reason: cancelled ?? `the function's process died (${signal ?? `exit code ${code}`})` }, false);
    };
    slot.child.once('exit', onExit);
    slot.onOutput = (stream, line) => env.log.write(stream, line);
    slot.current = (m) => {
      if (m.type === 'log') env.log.write(m.level === 'info' ? 'stdout' : 'stderr', `[${m.level}] ${m.line}`);
      else if (m.type === 'done') {
        if (!m.ok) {
          env.log.write('stderr', m.error);
          finish({ outcome: 'failed', reason: firstLine(m.error) }, true);
        } else if (m.skipped !== undefined) finish({ outcome: 'skipped', reason: m.skipped }, true);
        else finish({ outcome: 'success', outputJson: m.valueJson }, true);
      }
    };
    slot.ready.then(
      () => slot.child.send(msg),
      (err: unknown) => finish({ outcome: 'failed', reason: String(err) }, false),
    );
    return {
      result,
      pgid: undefined,
      async cancel(reason: string) {
        cancelled = reason;
        if (slot.child.connected) slot.child.send({ type: 'abort' });
        // Give the function a moment to notice its AbortSignal, then end the process, unless
        // it finished meanwhile and the runner already serves another task.
        await new Promise((r) => setTimeout(r, Math.min(env.killGraceMs, 1000)));
        if (!settled) {
          settled = true;
          slot.current = undefined;
          slot.onOutput = undefined;
          slot.child.off('exit', onExit);
          slot.child.kill('SIGKILL');
          settle({ outcome: 'failed', reason });
        }
      },
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#reap);
    for (const s of this.#all) s.child.kill('SIGKILL');
    this.#all.clear();
    this.#idle.length = 0;
  }
}

function firstLine(s: string): string {
  return (s.split('\n')[0] ?? s).slice(0, 500);
}
