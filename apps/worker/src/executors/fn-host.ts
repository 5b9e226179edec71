import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { assertNever, type Logger, type UserCodeIdentity } from '@aloft/core';
import { Outbox, type FromHost, type ToHost } from '../fn-host-protocol.js';
import type { CallbackMessage, RunMessage } from '../fn-runner.js';
import { killTaskProcesses } from '../process-group.js';
import { startTicks, TASK_TAG_ENV } from '../task-processes.mjs';
import type { FnPoolOptions } from './fn-pool.js';
import type { SecretLookup, TrySecrets } from '../try-secrets.js';
import type { ExecEnv, ExecResult, ProcessTag, RunningTask } from './types.js';

const BOOT = fileURLToPath(new URL('../fn-host-boot.mjs', import.meta.url));

export interface FnHostOptions {
  /** The host's runner threads: how many kept warm, idle stop, heap cap (FnPool). */
  pool: FnPoolOptions;
  /** The host's environment: the allow-listed one (UserCodePolicy.env), never a credential. */
  env: Record<string, string>;
  /** Who the host runs as; unset: the worker's own user. */
  identity?: UserCodeIdentity | undefined;
  logger: Logger;
  /** Between SIGTERM and SIGKILL for what functions started, once their host has ended. */
  killGraceMs: number;
  /** Told of each host started (its own process group, and the tag its processes carry) and ended: for the reaper. */
  onStart?: (pgid: number, tag: ProcessTag) => void;
  onEnd?: (pgid: number) => void;
}

interface HostTask {
  log: Pick<ExecEnv['log'], 'write'>;
  secret: SecretLookup | undefined;
  settle: (r: ExecResult) => void;
  settled: Promise<void>;
}

interface Host {
  child: ChildProcess;
  out: Outbox<ToHost>;
  tasks: Map<number, HostTask>;
  warm: Promise<void>;
  startedAt: number;
  /** What its processes carry (task-processes.mjs). */
  tag: ProcessTag;
  /** The end of its stderr, for the reason its tasks fail when it dies. */
  stderr: string;
  /** Resolves once what its functions started is ended too. */
  gone: Promise<void>;
}

/**
 * The worker's side of its fn host (fn-host-process.ts): one child process that runs every
 * function of this worker in its warm runner threads, so that user code never runs inside
 * the worker process, where it could read the worker's environment, memory and credential
 * files. Tasks and their results, log lines and cancels travel over the IPC channel, batched
 * per turn of the event loop (fn-host-protocol.ts).
 *
 * A host that dies (killed, out of memory) fails the tasks it was running with the reason,
 * which then retry as their policy says; the next host starts at once when runners are kept
 * warm, otherwise with the next task. A host that dies within a second of starting is
 * started again after a second, not in a loop. Whenever a host ends (crash, shutdown), the
 * worker ends its process group and whatever its functions started that carries its tag.
 * When the worker dies, the host's IPC channel closes and it exits, and the reaper ends the rest.
 */
export class FnHost {
  readonly #o: FnHostOptions;
  #host: Host | undefined;
  #nextId = 0;
  #closed = false;
  #restart: NodeJS.Timeout | undefined;
  /** For tests and the worker's log: hosts started so far, and the pid of the current one. */
  readonly stats = { started: 0, pid: undefined as number | undefined };

  constructor(o: FnHostOptions) {
    this.#o = o;
  }

  /** What the host's user must be able to read: its entry and the TypeScript loader. */
  static codePaths(): string[] {
    const paths = [BOOT];
    try {
      paths.push(createRequire(BOOT).resolve('tsx/esm/api'));
    } catch {
      // Resolved by the host itself; a failure shows there.
    }
    return paths;
  }

  /** Starts the host and resolves once its warm runners are up (or it failed). */
  prewarm(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#ensure().warm;
  }

  run(
    msg: RunMessage | CallbackMessage,
    env: { log: Pick<ExecEnv['log'], 'write'>; killGraceMs: number; secrets?: Pick<TrySecrets, 'lookup'> | undefined },
  ): RunningTask {
    if (this.#closed) return { result: Promise.resolve({ outcome: 'failed', reason: 'the worker is shutting down' }), cancel: async () => undefined };
    const host = this.#ensure();
    const id = ++this.#nextId;
    let settle: (r: ExecResult) => void = () => undefined;
    const result = new Promise<ExecResult>((resolve) => {
      settle = resolve;
    });
    const task: HostTask = { log: env.log, secret: env.secrets?.lookup, settle, settled: result.then(() => undefined) };
    host.tasks.set(id, task);
    host.out.push({ t: 'run', id, msg, killGraceMs: env.killGraceMs });
    return {
      result,
      cancel: async (reason) => {
        if (!host.tasks.has(id)) return;
        host.out.push({ t: 'cancel', id, reason });
        await task.settled;
      },
    };
  }

  /** Stops the host: its runners end, and so do the tasks still running there and what they started. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#restart);
    const host = this.#host;
    if (!host) return;
    host.out.push({ t: 'close' });
    const timer = setTimeout(() => host.child.kill('SIGKILL'), 5000);
    await host.gone;
    clearTimeout(timer);
  }

  #ensure(): Host {
    if (this.#host) return this.#host;
    clearTimeout(this.#restart);
    const tag = randomBytes(12).toString('hex');
    const child = spawn(process.execPath, ['--conditions=aloft-source', BOOT, JSON.stringify(this.#o.pool)], {
      env: { ...this.#o.env, [TASK_TAG_ENV]: tag },
      uid: this.#o.identity?.uid,
      gid: this.#o.identity?.gid,
      // Its own process group: the reaper ends it, and a Ctrl-C meant for the worker does not.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let warmed: () => void = () => undefined;
    let gone: () => void = () => undefined;
    const host: Host = {
      child,
      out: new Outbox<ToHost>((batch) => {
        if (child.connected) child.send(batch);
      }),
      tasks: new Map(),
      warm: new Promise<void>((resolve) => {
        warmed = resolve;
      }),
      startedAt: Date.now(),
      tag: { tag, since: child.pid === undefined ? 0 : (startTicks(child.pid) ?? 0) },
      stderr: '',
      gone: new Promise<void>((resolve) => {
        gone = resolve;
      }),
    };
    this.#host = host;
    this.stats.started++;
    this.stats.pid = child.pid;
    if (child.pid !== undefined) this.#o.onStart?.(child.pid, host.tag);
    child.on('message', (batch: FromHost[]) => {
      for (const m of batch) this.#onMessage(host, m, warmed);
    });
    child.stdout!.on('data', (c: Buffer) => this.#o.logger.info({ fnHost: child.pid }, c.toString().trimEnd()));
    child.stderr!.on('data', (c: Buffer) => {
      host.stderr = (host.stderr + c.toString()).slice(-2000);
      this.#o.logger.warn({ fnHost: child.pid }, c.toString().trimEnd());
    });
    child.once('error', (err) => this.#ended(host, `could not start: ${err.message}`, warmed, gone));
    child.once('exit', (code, signal) => this.#ended(host, signal ? `killed by ${signal}` : `exit code ${code}`, warmed, gone));
    return host;
  }

  #onMessage(host: Host, m: FromHost, warmed: () => void): void {
    switch (m.t) {
      case 'warm':
        warmed();
        return;
      case 'log':
        host.tasks.get(m.id)?.log.write(m.stream, m.line);
        return;
      case 'secret':
        void this.#answer(host, m);
        return;
      case 'done': {
        const task = host.tasks.get(m.id);
        host.tasks.delete(m.id);
        task?.settle(m.result);
        return;
      }
      default:
        assertNever(m, 'fn host message');
    }
  }

  async #answer(host: Host, m: Extract<FromHost, { t: 'secret' }>): Promise<void> {
    const lookup = host.tasks.get(m.id)?.secret;
    try {
      if (!lookup) throw new Error('connections and variables are not available to this function');
      host.out.push({ t: 'secret', req: m.req, ok: true, value: await lookup(m.kind, m.name, m.optional) });
    } catch (err) {
      host.out.push({ t: 'secret', req: m.req, ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  }

  /**
   * The host is gone: its tasks fail with the reason, what its functions started is ended
   * (its process group and what carries its tag), and the next host starts.
   */
  #ended(host: Host, how: string, warmed: () => void, gone: () => void): void {
    if (this.#host !== host) return;
    this.#host = undefined;
    warmed();
    const pgid = host.child.pid;
    if (pgid === undefined) gone();
    else {
      void killTaskProcesses({ pgid, ...host.tag }, this.#o.killGraceMs).then(() => {
        this.#o.onEnd?.(pgid);
        gone();
      });
    }
    const last = host.stderr.trim().split('\n').slice(-1)[0];
    const reason = `the function host ended (${how})${last && !this.#closed ? `: ${last.slice(0, 300)}` : ''}`;
    if (!this.#closed) this.#o.logger.error({ fnHost: host.child.pid, tasks: host.tasks.size }, reason);
    for (const task of host.tasks.values()) task.settle({ outcome: 'failed', reason: this.#closed ? 'the worker is shutting down' : reason });
    host.tasks.clear();
    if (this.#closed || !this.#o.pool.warm) return;
    const soon = Date.now() - host.startedAt < 1000;
    this.#restart = setTimeout(() => void this.prewarm(), soon ? 1000 : 0);
    this.#restart.unref();
  }
}
