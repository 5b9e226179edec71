import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureRedisServer, freePort, type RedisHandle } from '@aloft/core/testing';

/** Sends one inline command; resolves with the first reply line ('' when the server closed). */
function send(port: number, command: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.once('error', () => resolve(''));
    s.once('connect', () => s.write(`${command}\r\n`));
    s.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n')) s.destroy();
    });
    s.once('close', () => resolve(got.split('\r\n')[0] ?? ''));
  });
}

/**
 * A redis-server with AOF that a test can stop and start again on the same port and data
 * folder, as an operator restarting Redis would. `appendfsync always`: every write is on
 * disk before Redis answers it, so even kill -9 loses nothing a client was told is done (with
 * `everysec` a kill -9 may drop the last second of acknowledged writes, which no
 * orchestrator can be asked to survive; a failover test covers such losses).
 */
export class AofRedis implements RedisHandle {
  process: ChildProcess | undefined;
  restarts = 0;
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<AofRedis> {
    const r = new AofRedis(await freePort(), mkdtempSync(join(tmpdir(), 'aloft-aof-')));
    await r.launch();
    return r;
  }

  private async launch(): Promise<void> {
    const bin = ensureRedisServer();
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'];
    const child = spawn(bin, args, { stdio: 'ignore' });
    this.process = child;
    const deadline = Date.now() + 20_000;
    // PONG only once the AOF is loaded (-LOADING before).
    while ((await send(this.port, 'PING')) !== '+PONG') {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on port ${this.port} with the AOF in ${this.dir}`);
      await new Promise((r) => setTimeout(r, 30));
    }
  }

  /** Stops Redis: `nosave` is SHUTDOWN NOSAVE (the AOF is still flushed), `kill` is kill -9. */
  async down(how: 'nosave' | 'kill'): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    if (how === 'kill') child.kill('SIGKILL');
    else await send(this.port, 'SHUTDOWN NOSAVE');
    await exited;
  }

  /** Starts Redis again on the same port from the same AOF. */
  async up(): Promise<void> {
    this.restarts++;
    await this.launch();
  }

  /** RedisHandle's restart: down (SIGTERM, or kill -9 with `kill`), `downMs`, up again. */
  async restart({ downMs = 0, kill = false }: { downMs?: number; kill?: boolean } = {}): Promise<void> {
    const child = this.process;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(kill ? 'SIGKILL' : 'SIGTERM');
      await exited;
    }
    await new Promise((r) => setTimeout(r, downMs));
    await this.up();
  }

  async stop(): Promise<void> {
    await this.down('kill');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
