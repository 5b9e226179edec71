import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis } from '@aloft/core';
import { ensureRedisServer, freePort, startRedis, type RedisHandle } from '@aloft/core/testing';

export const PRIMARY_NAME = 'aloftmain';

/**
 * A real Redis primary with AOF, one replica and three Sentinels (quorum 2) on loopback:
 * what docs/deploy.md recommends for failover, small enough for a test.
 */
export class SentinelSet {
  primary!: RedisHandle;
  replica!: RedisHandle;
  readonly sentinels: { port: number; child: ChildProcess; exited: Promise<unknown> }[] = [];
  readonly #dir = mkdtempSync(join(tmpdir(), 'aloft-sentinels-'));

  async start(): Promise<this> {
    this.primary = await startRedis({ appendonly: true, args: ['--appendfsync', 'everysec'] });
    this.replica = await startRedis({ appendonly: true, args: ['--replicaof', '127.0.0.1', String(this.primary.port)] });
    await this.#until('the replica is in sync', async () => (await this.info(this.replica.port, 'replication')).includes('master_link_status:up'));
    const bin = ensureRedisServer();
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(this.#dir, `sentinel-${i}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${this.#dir}`,
          `sentinel monitor ${PRIMARY_NAME} 127.0.0.1 ${this.primary.port} 2`,
          `sentinel down-after-milliseconds ${PRIMARY_NAME} 1000`,
          `sentinel failover-timeout ${PRIMARY_NAME} 4000`,
          `sentinel parallel-syncs ${PRIMARY_NAME} 1`,
          '',
        ].join('\n'),
      );
      const child = spawn(bin, [conf, '--sentinel'], { stdio: 'ignore' });
      this.sentinels.push({ port, child, exited: new Promise((r) => child.once('exit', r)) });
    }
    // Each Sentinel must know the replica and the other two before a failover can work.
    await this.#until('the Sentinels see the replica and each other', async () => {
      for (const s of this.sentinels) {
        const r = createRedis(`redis://127.0.0.1:${s.port}`, { lazyConnect: true, retryStrategy: () => null });
        r.on('error', () => undefined);
        try {
          await r.connect();
          const m = (await r.call('SENTINEL', 'MASTER', PRIMARY_NAME)) as string[];
          const f = Object.fromEntries(m.flatMap((v, i) => (i % 2 === 0 ? [[v, m[i + 1]]] : [])));
          if (Number(f['num-slaves']) < 1 || Number(f['num-other-sentinels']) < 2) return false;
        } finally {
          r.disconnect();
        }
      }
      return true;
    });
    return this;
  }

  /** The env that points Aloft's services at the Sentinels. */
  get env(): Record<string, string> {
    return { ALOFT_REDIS_SENTINELS: this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(','), ALOFT_REDIS_SENTINEL_NAME: PRIMARY_NAME };
  }

  async info(port: number, section: string): Promise<string> {
    const r = createRedis(`redis://127.0.0.1:${port}`, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    r.on('error', () => undefined);
    try {
      await r.connect();
      return await r.info(section);
    } finally {
      r.disconnect();
    }
  }

  /** The port of the server the Sentinels name as primary now. */
  async primaryPort(): Promise<number> {
    const r = createRedis(`redis://127.0.0.1:${this.sentinels[0]!.port}`, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
    r.on('error', () => undefined);
    try {
      const [, port] = (await r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', PRIMARY_NAME)) as [string, string];
      return Number(port);
    } finally {
      r.disconnect();
    }
  }

  /**
   * The replica falls behind for real: stopped, and cut off by the primary, so what the
   * primary writes from now on reaches neither its socket nor its kernel buffer. SIGCONT
   * lets it go on (it then finds the primary gone, if the test killed it).
   */
  async cutOffReplica(): Promise<void> {
    this.replica.process!.kill('SIGSTOP');
    const r = createRedis(this.primary.url, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
    r.on('error', () => undefined);
    try {
      await r.call('CLIENT', 'KILL', 'TYPE', 'replica');
    } finally {
      r.disconnect();
    }
  }

  /** Waits until every Sentinel lists the replica on `port` as a healthy replica. */
  async knowReplica(port: number, timeoutMs = 30_000): Promise<void> {
    await this.#until(
      `the Sentinels to find the replica on port ${port}`,
      async () => {
        for (const s of this.sentinels) {
          const r = createRedis(`redis://127.0.0.1:${s.port}`, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
          r.on('error', () => undefined);
          try {
            const list = (await r.call('SENTINEL', 'REPLICAS', PRIMARY_NAME)) as string[][];
            const ok = list.some((m) => {
              const f = Object.fromEntries(m.flatMap((v, i) => (i % 2 === 0 ? [[v, m[i + 1]]] : [])));
              return Number(f['port']) === port && !String(f['flags']).includes('down') && f['master-link-status'] === 'ok';
            });
            if (!ok) return false;
          } finally {
            r.disconnect();
          }
        }
        return true;
      },
      timeoutMs,
    );
  }

  /** Waits until the Sentinels have promoted the replica and it accepts writes. */
  async failedOver(timeoutMs = 30_000): Promise<void> {
    await this.#until(
      'the Sentinels to promote the replica',
      async () => (await this.primaryPort()) === this.replica.port && (await this.info(this.replica.port, 'replication')).includes('role:master'),
      timeoutMs,
    );
  }

  async #until(what: string, fn: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await fn().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    for (const s of this.sentinels) s.child.kill('SIGKILL');
    await Promise.all(this.sentinels.map((s) => s.exited));
    for (const h of [this.primary, this.replica]) {
      if (h?.process && h.process.exitCode === null && h.process.signalCode === null) {
        h.process.kill('SIGCONT');
        h.process.kill('SIGKILL');
      }
      if (h) rmSync(h.dir, { recursive: true, force: true });
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
