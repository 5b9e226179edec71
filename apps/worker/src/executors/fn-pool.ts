import { Worker } from 'node:worker_threads';
import { CELLS, PROGRESS, STARTED, WITHDRAWN } from '../fn-cells.js';
import type { CallbackMessage, ChildMessage, Handed, RunMessage, RunnerData, SecretReply } from '../fn-runner.js';
import type { SecretLookup } from '../try-secrets.js';
import { LineSplitter } from '../task-log.js';
import type { ExecEnv, ExecResult, RunningTask } from './types.js';

const BOOT = new URL('../fn-runner-boot.mjs', import.meta.url);

/** Where a task's output goes; without safeCut a line that never ends is cut at any point. */
type PoolLog = Pick<ExecEnv['log'], 'write'> & Partial<Pick<ExecEnv['log'], 'safeCut'>>;

/** A task handed to the pool, from dispatch until it settles. */
interface Task {
  msg: RunMessage | CallbackMessage;
  log: PoolLog;
  /** Answers the function's ctx.conn and ctx.variable; absent: it has no secrets to ask for. */
  secret: SecretLookup | undefined;
  tag: number;
  cell: number;
  slot: Slot | undefined;
  cancelled: string | undefined;
  settled: boolean;
  settle: (r: ExecResult) => void;
}

interface Slot {
  thread: Worker;
  ready: Promise<void>;
  resolveReady?: () => void;
  /** Booted at least once; a runner that ends before that fails its tasks rather than moving them. */
  booted: boolean;
  alive: boolean;
  cells: Int32Array;
  freeCells: number[];
  /** Handed to this runner and neither settled nor withdrawn, in the order sent; the first may be running. */
  tasks: Task[];
  /** Runs a task that held its queue up past `holdMs`; gets no queue until that task ends. */
  stuck: boolean;
  /** The runner's started count when the watchdog last saw it move, and when. */
  progress: number;
  progressAt: number;
  idleSince: number;
  /** The task whose output the line splitters are collecting. */
  outTo: Task | undefined;
  out: LineSplitter;
  err: LineSplitter;
}

export interface FnPoolOptions {
  /** Runner threads started ahead of demand and kept while idle. */
  warm: number;
  /** Runners beyond `warm` that sit idle this long are stopped. */
  idleMs: number;
  /** Heap cap of one runner; a function past it fails alone, the worker lives on. */
  maxHeapMb?: number;
  /** Tasks handed to one runner at a time, the running one included (default 8). */
  queueDepth?: number;
  /**
   * A runner that starts nothing for this long while tasks wait behind its current one
   * gets those tasks taken back; they start on idle runners (default 10 ms).
   */
  holdMs?: number;
}

/**
 * Worker threads that run task functions. A runner runs one task at a time, but is handed
 * up to `queueDepth` tasks, which it runs in order: a burst of short tasks then keeps a
 * few threads busy instead of waking one thread per task (on two cores, a no-op task cost
 * about a third of the CPU as it did with 16 threads). Tasks queued behind one that takes
 * longer than `holdMs` are withdrawn (fn-cells.ts) and start on idle runners, so a long or
 * blocked function delays the others by at most about twice `holdMs`.
 *
 * A runner whose task is cancelled, times out or crashes is terminated; the tasks queued
 * behind it move to other runners first. Starting a runner costs loading the TypeScript
 * loader and the DAG file, so `warm` runners are started ahead (one after another, in the
 * background) and extra runners stop after `idleMs` idle. Messages between the pool and a
 * runner stay in the process (no pipe, no JSON), which is most of why a thread is used. The
 * pool lives in the worker's fn host (fn-host-process.ts), not in the worker.
 */
export class FnPool {
  /** In the order started: tasks go to the first runner with room, so the last ones idle and stop. */
  readonly #slots: Slot[] = [];
  readonly #reap: NodeJS.Timeout;
  readonly #depth: number;
  readonly #holdMs: number;
  #watchdog: NodeJS.Timeout | undefined;
  #nextTag = 0;
  #closed = false;

  constructor(
    private readonly runnerEnv: NodeJS.ProcessEnv,
    private readonly o: FnPoolOptions = { warm: 0, idleMs: 600_000 },
  ) {
    this.#depth = Math.min(CELLS - 1, Math.max(1, o.queueDepth ?? 8));
    this.#holdMs = o.holdMs ?? 10;
    this.#reap = setInterval(() => this.#reapIdle(), Math.max(1000, Math.min(o.idleMs, 60_000)));
    this.#reap.unref();
  }

  get size(): number {
    return this.#slots.length;
  }

  /** Starts runners, one at a time, until `warm` of them exist. */
  async prewarm(): Promise<void> {
    while (!this.#closed && this.#slots.length < this.o.warm) {
      try {
        await this.#spawn().ready;
      } catch {
        return;
      }
    }
  }

  /** Runs a task's function, or a callback (whose output, if any, is ignored). */
  run(msg: RunMessage | CallbackMessage, env: { log: PoolLog; killGraceMs: number; secret?: SecretLookup | undefined }): RunningTask {
    let settle: (r: ExecResult) => void = () => undefined;
    const result = new Promise<ExecResult>((resolve) => {
      settle = resolve;
    });
    const task: Task = { msg, log: env.log, secret: env.secret, tag: 0, cell: 0, slot: undefined, cancelled: undefined, settled: false, settle };
    this.#dispatch(task, this.#depth);
    return { result, pgid: undefined, cancel: (reason) => this.#cancel(task, reason, env.killGraceMs) };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#reap);
    clearTimeout(this.#watchdog);
    await Promise.all(this.#slots.map((s) => s.thread.terminate()));
  }

  /** Hands the task to the first live runner with fewer than `depth` tasks, or a new one. */
  #dispatch(task: Task, depth: number): void {
    if (this.#closed) {
      this.#settle(task, { outcome: 'failed', reason: 'the worker is shutting down' });
      return;
    }
    const slot = this.#slots.find((s) => s.alive && !s.stuck && s.tasks.length < depth) ?? this.#spawn();
    this.#nextTag = (this.#nextTag % 0x3fffffff) + 1;
    task.tag = this.#nextTag;
    task.cell = slot.freeCells.pop()!;
    task.slot = slot;
    Atomics.store(slot.cells, task.cell, task.tag);
    if (slot.tasks.push(task) === 2) {
      slot.progress = Atomics.load(slot.cells, PROGRESS);
      slot.progressAt = performance.now();
      this.#watchdog ??= setTimeout(() => this.#watch(), this.#holdMs);
    }
    const handed: Handed = { ...task.msg, tag: task.tag, cell: task.cell };
    slot.thread.postMessage(handed);
  }

  /** Takes a queued task back from its runner; false when the runner has started it. */
  #withdraw(task: Task): boolean {
    const slot = task.slot;
    if (!slot || Atomics.compareExchange(slot.cells, task.cell, task.tag, WITHDRAWN) !== task.tag) return false;
    this.#detach(slot, task);
    return true;
  }

  #detach(slot: Slot, task: Task): void {
    const i = slot.tasks.indexOf(task);
    if (i >= 0) slot.tasks.splice(i, 1);
    slot.freeCells.push(task.cell);
    task.slot = undefined;
    if (slot.tasks.length === 0) slot.idleSince = Date.now();
  }

  #settle(task: Task, r: ExecResult): void {
    if (task.settled) return;
    task.settled = true;
    const slot = task.slot;
    if (slot) {
      if (slot.outTo === task) {
        slot.out.end();
        slot.err.end();
        slot.outTo = undefined;
      }
      this.#detach(slot, task);
      slot.stuck = false;
    }
    task.settle(r);
  }

  /** Moves the tasks queued behind a runner that started nothing for `holdMs`. */
  #watch(): void {
    this.#watchdog = undefined;
    const now = performance.now();
    let waiting = false;
    for (const slot of this.#slots) {
      if (slot.tasks.length < 2 || !slot.alive) continue;
      const progress = Atomics.load(slot.cells, PROGRESS);
      if (progress !== slot.progress || !slot.booted) {
        slot.progress = progress;
        slot.progressAt = now;
      } else if (now - slot.progressAt >= this.#holdMs && Atomics.load(slot.cells, slot.tasks[0]!.cell) === STARTED) {
        // (A runner that has not yet taken its first task waits for a core; another would too.)
        slot.stuck = true;
        for (const t of [...slot.tasks]) if (this.#withdraw(t)) this.#dispatch(t, 1);
      }
      if (slot.tasks.length > 1) waiting = true;
    }
    if (waiting) this.#watchdog = setTimeout(() => this.#watch(), this.#holdMs);
  }

  async #cancel(task: Task, reason: string, killGraceMs: number): Promise<void> {
    if (task.settled) return;
    task.cancelled = reason;
    if (this.#withdraw(task)) {
      this.#settle(task, { outcome: 'failed', reason });
      return;
    }
    const slot = task.slot;
    if (!slot?.alive) return;
    slot.thread.postMessage({ type: 'abort', tag: task.tag });
    // Give the function a moment to notice its AbortSignal, then end the thread, unless
    // it finished meanwhile and the runner already serves another task.
    await new Promise((r) => setTimeout(r, Math.min(killGraceMs, 1000)));
    if (task.settled || !slot.alive) return;
    // A queued task the runner has started means this one ended and its 'done' is on its way.
    for (const t of slot.tasks.slice(slot.tasks.indexOf(task) + 1)) {
      if (!this.#withdraw(t)) return;
      this.#dispatch(t, 1);
    }
    await slot.thread.terminate();
  }

  #reapIdle(): void {
    const cutoff = Date.now() - this.o.idleMs;
    // The last runners are the least used; keep `warm` runners.
    for (let i = this.#slots.length - 1; i >= this.o.warm; i--) {
      const slot = this.#slots[i]!;
      if (slot.alive && slot.booted && slot.tasks.length === 0 && slot.idleSince < cutoff) {
        slot.alive = false;
        void slot.thread.terminate();
      }
    }
  }

  #spawn(): Slot {
    const cells = new SharedArrayBuffer(CELLS * Int32Array.BYTES_PER_ELEMENT);
    const data: RunnerData = { cells };
    const thread = new Worker(BOOT, {
      execArgv: ['--conditions=aloft-source'],
      env: this.runnerEnv,
      workerData: data,
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: this.o.maxHeapMb ?? 1024 },
    });
    const slot: Slot = {
      thread,
      ready: Promise.resolve(),
      booted: false,
      alive: true,
      cells: new Int32Array(cells),
      freeCells: Array.from({ length: CELLS - 1 }, (_, i) => CELLS - 1 - i),
      tasks: [],
      stuck: false,
      progress: 0,
      progressAt: 0,
      idleSince: Date.now(),
      outTo: undefined,
      out: new LineSplitter(
        (l) => slot.outTo?.log.write('stdout', l),
        (t) => slot.outTo?.log.safeCut?.(t) ?? t.length,
      ),
      err: new LineSplitter(
        (l) => slot.outTo?.log.write('stderr', l),
        (t) => slot.outTo?.log.safeCut?.(t) ?? t.length,
      ),
    };
    let error: Error | undefined;
    slot.ready = new Promise<void>((resolve, reject) => {
      thread.once('exit', (code) => reject(new Error(`function runner ended before it was ready (exit code ${code})`)));
      slot.resolveReady = resolve;
    });
    slot.ready.catch(() => undefined);
    thread.on('message', (m: ChildMessage) => this.#onMessage(slot, m));
    thread.on('error', (err) => {
      error = err;
    });
    // Anything written past the runner's own capture (native code, very late writes).
    thread.stdout.on('data', (c: Buffer) => this.#output(slot, slot.tasks[0], 'stdout', c));
    thread.stderr.on('data', (c: Buffer) => this.#output(slot, slot.tasks[0], 'stderr', c));
    thread.once('exit', (code) => this.#onExit(slot, code, error));
    this.#slots.push(slot);
    return slot;
  }

  #onMessage(slot: Slot, m: ChildMessage): void {
    if (m.type === 'ready') {
      slot.booted = true;
      slot.resolveReady?.();
      return;
    }
    const task = slot.tasks.find((t) => t.tag === m.tag);
    if (!task) return;
    if (m.type === 'out') this.#output(slot, task, m.stream, m.text);
    else if (m.type === 'secret') void this.#answer(slot, task, m);
    else if (m.type === 'log') task.log.write(m.level === 'info' ? 'stdout' : 'stderr', `[${m.level}] ${m.line}`);
    else if (!m.ok) {
      task.log.write('stderr', m.error);
      this.#settle(task, {
        outcome: 'failed',
        reason: firstLine(m.error),
        ...(m.noRetry ? { noRetry: true } : {}),
        ...(m.errorName ? { errorName: m.errorName } : {}),
      });
    } else if (m.skipped !== undefined) this.#settle(task, { outcome: 'skipped', reason: m.skipped });
    else this.#settle(task, { outcome: 'success', outputJson: m.valueJson });
  }

  async #answer(slot: Slot, task: Task, m: Extract<ChildMessage, { type: 'secret' }>): Promise<void> {
    let reply: SecretReply;
    try {
      if (!task.secret) throw new Error('connections and variables are not available here');
      reply = { type: 'secret', req: m.req, ok: true, value: await task.secret(m.kind, m.name, m.optional) };
    } catch (err) {
      reply = { type: 'secret', req: m.req, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    if (slot.alive) slot.thread.postMessage(reply);
  }

  /** Output stays in order with 'done': it travels on the same port, split into lines per task. */
  #output(slot: Slot, task: Task | undefined, stream: 'stdout' | 'stderr', text: string | Buffer): void {
    if (!task) return;
    if (slot.outTo !== task) {
      slot.out.end();
      slot.err.end();
      slot.outTo = task;
    }
    (stream === 'stdout' ? slot.out : slot.err).push(text);
  }

  /**
   * A runner ended (crash, heap limit, `process.exit()`, terminate): its running task fails;
   * the tasks queued behind it move to other runners, unless it never booted.
   */
  #onExit(slot: Slot, code: number, error: Error | undefined): void {
    slot.alive = false;
    const i = this.#slots.indexOf(slot);
    if (i >= 0) this.#slots.splice(i, 1);
    const reason = slot.booted
      ? `the function's runner ended (${error ? `${error.name}: ${error.message}` : `exit code ${code}`})`
      : `function runner ended before it was ready (exit code ${code}${error ? `: ${error.message}` : ''})`;
    for (const task of [...slot.tasks]) {
      if (slot.booted && this.#withdraw(task)) this.#dispatch(task, 1);
      else {
        this.#settle(task, { outcome: 'failed', reason: task.cancelled ?? reason });
      }
    }
  }
}

function firstLine(s: string): string {
  return (s.split('\n')[0] ?? s).slice(0, 500);
}
