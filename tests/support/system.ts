import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, type AloftClient } from '@aloft/core';
import { freePort, startRedis, type RedisHandle } from '@aloft/core/testing';

export const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const LOG_DIR = join(ROOT, '.test-results', 'logs');

export interface Service {
  name: string;
  child: ChildProcess;
  port: number;
  /** Where its stdout and stderr go. */
  logFile: string;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A real Aloft: its own redis-server, plus scheduler, workers and dashboard as processes. */
export class System {
  readonly services: Service[] = [];
  readonly prefix = `t${Math.random().toString(36).slice(2, 8)}`;
  redis!: RedisHandle;
  client!: AloftClient;

  /** Where the services find the Redis URL: REDIS_URL, or REDIS_URL_FILE (a 0600 file). */
  redisUrlFile: string | undefined;

  /**
   * `appendonly`: Redis keeps an AOF, as `up` runs it, so a restart keeps the data.
   * `redisPassword`: Redis requires it (set after start, so it is not on redis-server's
   * command line, which every user can read); the URL carries it. `redisUrlVia`: how the
   * services get that URL (default `env`).
   */
  constructor(
    readonly opts: { dagsFolder: string; env?: Record<string, string>; appendonly?: boolean; redisPassword?: string; redisUrlVia?: 'env' | 'file' },
  ) {}

  async start(): Promise<this> {
    this.redis = await startRedis({ appendonly: this.opts.appendonly ?? false });
    if (this.opts.redisPassword) {
      const open = createClient({ redisUrl: this.redis.url, prefix: this.prefix });
      await open.store.redis.config('SET', 'requirepass', this.opts.redisPassword);
      await open.close().catch(() => undefined);
      const url = new URL(this.redis.url);
      url.password = this.opts.redisPassword;
      this.redis = { ...this.redis, url: url.toString() };
    }
    if (this.opts.redisUrlVia === 'file') {
      mkdirSync(LOG_DIR, { recursive: true });
      this.redisUrlFile = join(LOG_DIR, `${this.prefix}-redis-url`);
      writeFileSync(this.redisUrlFile, this.redis.url, { mode: 0o600 });
    }
    this.client = createClient({ redisUrl: this.redis.url, prefix: this.prefix });
    return this;
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...(process.env as Record<string, string>),
      ...(this.redisUrlFile ? { REDIS_URL_FILE: this.redisUrlFile } : { REDIS_URL: this.redis.url }),
      ALOFT_KEY_PREFIX: this.prefix,
      ALOFT_DAGS_FOLDER: this.opts.dagsFolder,
      ALOFT_LOG_LEVEL: 'debug',
      ALOFT_LOG_PRETTY: '0',
      ALOFT_SCHEDULER_LOOP_MS: '200',
      ALOFT_SWEEP_MS: '1000',
      ALOFT_DAG_SCAN_MS: '300',
      ALOFT_HEARTBEAT_MS: '300',
      ...this.opts.env,
      ...extra,
    };
  }

  async spawn(app: 'scheduler' | 'worker' | 'dashboard', name: string, extra: Record<string, string> = {}): Promise<Service> {
    const port = await freePort();
    const portVar = { scheduler: 'ALOFT_SCHEDULER_HTTP_PORT', worker: 'ALOFT_WORKER_HTTP_PORT', dashboard: 'ALOFT_DASHBOARD_PORT' }[app];
    mkdirSync(LOG_DIR, { recursive: true });
    const logFile = join(LOG_DIR, `${this.prefix}-${name}.log`);
    const log = createWriteStream(logFile);
    const child = spawn(process.execPath, ['--conditions=aloft-source', '--import', 'tsx', join(ROOT, 'apps', app, 'src', 'main.ts')], {
      cwd: ROOT,
      // User code runs as the worker's own user unless a test asks for another: the fixtures'
      // commands and functions write marks into folders that only root may write to.
      // tests/user-code-credentials.test.ts runs it as nobody.
      env: this.env({
        [portVar]: String(port),
        ALOFT_WORKER_ID: name,
        ...(app === 'worker' && !this.opts.env?.['ALOFT_USER_CODE_USER'] ? { ALOFT_USER_CODE_USER: String(process.getuid?.() ?? 0) } : {}),
        ...extra,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const svc: Service = {
      name,
      child,
      port,
      logFile,
      exited,
      async kill(signal: NodeJS.Signals = 'SIGTERM') {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        return exited;
      },
    };
    this.services.push(svc);
    return svc;
  }

  async stop(): Promise<void> {
    await Promise.all(this.services.map((s) => s.kill('SIGKILL')));
    await this.client?.close();
    await this.redis?.stop();
  }
}

/** Polls `fn` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
