import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedis, loadRedisConnection } from '../src/index.js';
import { ensureRedisServer, freePort, startRedis, type RedisHandle } from '../src/testing/index.js';

/** Connections beyond one plain Redis: an ACL user from the URL, and Sentinel. */
describe.skipIf(Boolean(process.env['REDIS_URL']))('Redis connection settings', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('takes an ACL user and password from the URL', async () => {
    const r: RedisHandle = await startRedis();
    cleanups.push(() => r.stop());
    const admin = createRedis(r.url);
    await admin.call('ACL', 'SETUSER', 'aloft', 'on', '>s3cret', '~*', '&*', '+@all');
    await admin.quit();
    const asUser = createRedis(`redis://aloft:s3cret@127.0.0.1:${r.port}/2`);
    expect(await asUser.call('ACL', 'WHOAMI')).toBe('aloft');
    await asUser.set('k', 'v');
    expect(await asUser.get('k')).toBe('v');
    await asUser.quit();
    const wrong = createRedis(`redis://aloft:wrong@127.0.0.1:${r.port}`, { lazyConnect: true, retryStrategy: () => null });
    const errors: string[] = [];
    wrong.on('error', (e: Error) => errors.push(e.message));
    await wrong.connect().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    expect(errors.join('\n')).toMatch(/WRONGPASS|invalid username-password/);
    wrong.disconnect();
  });

  it('speaks TLS to a rediss:// URL, trusting the CA in ALOFT_REDIS_TLS_CA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aloft-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    const gen = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    if (gen.status !== 0) throw new Error('openssl could not make a test certificate');
    const port = await freePort();
    const server = spawn(
      ensureRedisServer(),
      [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        cert,
        '--tls-key-file',
        key,
        '--tls-auth-clients',
        'no',
        '--requirepass',
        'pw',
        '--save',
        '',
        '--bind',
        '127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    cleanups.push(() => void server.kill('SIGKILL'));
    const r = createRedis(loadRedisConnection({ REDIS_URL: `rediss://:pw@127.0.0.1:${port}`, ALOFT_REDIS_TLS_CA: cert }), {
      retryStrategy: (n) => (n > 50 ? null : 100),
    });
    r.on('error', () => undefined);
    expect(await r.ping()).toBe('PONG');
    await r.quit();
    // Without the CA the certificate is refused.
    const untrusted = createRedis(loadRedisConnection({ REDIS_URL: `rediss://:pw@127.0.0.1:${port}` }), { lazyConnect: true, retryStrategy: () => null });
    const errors: string[] = [];
    untrusted.on('error', (e: Error) => errors.push(e.message));
    await untrusted.connect().catch(() => undefined);
    await new Promise((res) => setTimeout(res, 100));
    expect(errors.join('\n')).toMatch(/self[- ]signed|certificate/i);
    untrusted.disconnect();
  });

  it('finds the primary through Sentinel (ALOFT_REDIS_SENTINELS)', async () => {
    const primary = await startRedis();
    cleanups.push(() => primary.stop());
    const dir = mkdtempSync(join(tmpdir(), 'aloft-sentinel-'));
    const port = await freePort();
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor aloftmain 127.0.0.1 ${primary.port} 1`,
        'sentinel down-after-milliseconds aloftmain 2000',
        '',
      ].join('\n'),
    );
    const sentinel = spawn(ensureRedisServer(), [conf, '--sentinel'], { stdio: 'ignore' });
    cleanups.push(() => {
      sentinel.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    // The URL's host is not used with Sentinel: the Sentinel names the primary.
    const env = { REDIS_URL: 'redis://unused-host:1/0', ALOFT_REDIS_SENTINELS: `127.0.0.1:${port}`, ALOFT_REDIS_SENTINEL_NAME: 'aloftmain' };
    const viaSentinel = createRedis(loadRedisConnection(env), { retryStrategy: (n) => (n > 50 ? null : 100) });
    viaSentinel.on('error', () => undefined);
    await viaSentinel.set('through', 'sentinel');
    const info = await viaSentinel.info('server');
    expect(Number(/^tcp_port:(\d+)/m.exec(info)?.[1])).toBe(primary.port);
    const direct = createRedis(primary.url);
    expect(await direct.get('through')).toBe('sentinel');
    await direct.quit();
    await viaSentinel.quit();
  });
});
