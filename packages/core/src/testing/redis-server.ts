import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisHandle {
  url: string;
  port: number;
  dir: string;
  /** The process, when this handle started one (not for REDIS_URL). */
  process: ChildProcess | undefined;
  stop(): Promise<void>;
  /**
   * Stops redis-server (SIGTERM, or SIGKILL with `kill`) and starts it again on the same port
   * and folder, after `downMs`; with AOF on it comes back with its data. Not for REDIS_URL.
   */
  restart(opts?: { downMs?: number; kill?: boolean }): Promise<void>;
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** The redis-server binary: on PATH, or installed from Debian's package when root. */
export function ensureRedisServer(): string {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  if (process.getuid?.() === 0 && existsSync('/etc/debian_version')) {
    spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server'], { stdio: ['ignore', 2, 2] });
    const again = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
    if (again.status === 0 && again.stdout.trim()) return again.stdout.trim();
  }
  throw new Error('redis-server is not installed: install the Debian/Ubuntu package redis-server (apt-get install -y redis-server) or set REDIS_URL');
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('error', () => resolve(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
  });
}

/**
 * Starts a real redis-server on a free port in a temporary folder (or uses REDIS_URL when it
 * is set and neither `args` nor `port` is given). `args` go to redis-server after Aloft's own
 * (e.g. `['--replicaof', '127.0.0.1', '6379']`). `stop()` shuts it down and removes the folder.
 */
export async function startRedis(opts: { appendonly?: boolean; args?: string[]; port?: number } = {}): Promise<RedisHandle> {
  const external = process.env['REDIS_URL'];
  if (external && !opts.args && !opts.port) {
    const restart = () => Promise.reject(new Error('cannot restart the Redis of REDIS_URL'));
    return { url: external, port: Number(new URL(external).port || 6379), dir: '', process: undefined, stop: async () => undefined, restart };
  }
  const bin = ensureRedisServer();
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'aloft-redis-'));
  const launch = async (): Promise<ChildProcess> => {
    const child = spawn(
      bin,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', opts.appendonly ? 'yes' : 'no', '--dir', dir, ...(opts.args ?? [])],
      {
        stdio: 'ignore',
      },
    );
    const deadline = Date.now() + 10_000;
    while (!(await ping(port))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
      await new Promise((r) => setTimeout(r, 30));
    }
    return child;
  };
  const halt = async (child: ChildProcess, signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  };
  const handle: RedisHandle = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    process: await launch(),
    async stop() {
      if (handle.process) await halt(handle.process, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    async restart({ downMs = 0, kill = false } = {}) {
      if (handle.process) await halt(handle.process, kill ? 'SIGKILL' : 'SIGTERM');
      await new Promise((r) => setTimeout(r, downMs));
      handle.process = await launch();
    },
  };
  return handle;
}
