import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, Keys, SecretCipher, SecretStore } from '../src/index.js';
import { startRedis, type RedisHandle } from '../src/testing/index.js';

const KEY_A = `a:${Buffer.alloc(32, 7).toString('base64')}`;
const KEY_B = `b:${Buffer.alloc(32, 9).toString('base64')}`;

/** Aloft's own secret store against a real redis-server: sealed at rest, write-only, audited, rotated. */
describe('SecretStore (real redis-server)', () => {
  let redis: RedisHandle;
  let conn: ReturnType<typeof createRedis>;
  const keys = new Keys(`ss${Math.random().toString(36).slice(2, 7)}`);

  /** Every byte Aloft keeps in Redis under the prefix, as one string. */
  async function everything(): Promise<string> {
    const out: string[] = [];
    for (const k of await conn.keys(`${keys.prefix}:*`)) {
      const type = await conn.type(k);
      if (type === 'hash') out.push(JSON.stringify(await conn.hgetall(k)));
      else if (type === 'stream') out.push(JSON.stringify(await conn.xrange(k, '-', '+')));
      else out.push(JSON.stringify(await conn.dump(k)));
    }
    return out.join('\n');
  }

  beforeAll(async () => {
    redis = await startRedis();
    conn = createRedis(redis.url);
  });
  afterAll(async () => {
    conn.disconnect();
    await redis.stop();
  });

  it('without a key, refuses secrets and keeps plain values', async () => {
    const s = new SecretStore(conn, keys, undefined);
    await expect(s.setConnection('db', { type: 'postgres', host: 'h', password: 'hunter2', extra: {} }, 'alice')).rejects.toThrow(
      /has a password, and Aloft's store keeps secrets only sealed: set ALOFT_SECRETS_KEYS/,
    );
    await expect(s.setConnection('db', { type: 'http', host: 'h', extra: { api_key: 'k-123' } }, 'alice')).rejects.toThrow(/extra "api_key"/);
    await expect(s.setVariable('db_password', 'hunter2', {}, 'alice')).rejects.toThrow(/variable "db_password" is secret \(its name says so\)/);
    await expect(s.setVariable('plain', 'hunter2', { secret: true }, 'alice')).rejects.toThrow(/variable "plain" is secret, and/);
    await s.setVariable('region', 'eu-west-1', {}, 'alice');
    await s.setConnection('public-api', { type: 'http', host: 'api', extra: { timeout: '5' } }, 'alice');
    expect(await s.variable('region')).toEqual({ value: 'eu-west-1', secret: false });
    expect((await s.connection('public-api'))?.extra).toEqual({ timeout: '5' });
    expect(await everything()).not.toContain('hunter2');
  });

  it('with a key, seals every value, shows only names and shapes, and audits who without the value', async () => {
    const s = new SecretStore(conn, keys, SecretCipher.fromSetting(KEY_A));
    const summary = await s.setConnection(
      'db',
      {
        type: 'postgres',
        host: 'db.internal',
        port: 5432,
        login: 'etl',
        password: 'hunter2',
        schema: 'w',
        extra: { sslmode: 'require', token: 'tok-999' },
        description: 'warehouse',
      },
      'alice',
    );
    expect(summary).toEqual({
      id: 'db',
      type: 'postgres',
      host: 'db.internal',
      port: 5432,
      login: 'etl',
      schema: 'w',
      description: 'warehouse',
      hasPassword: true,
      extraKeys: ['sslmode', 'token'],
      updatedAt: expect.any(Number),
      updatedBy: 'alice',
    });
    await s.setVariable('api_secret', 's3cr3t-var', {}, 'bob');
    await s.setVariable('limits', '{"max":3}', {}, 'bob');
    const c = await s.connection('db');
    expect(c).toMatchObject({ password: 'hunter2', extra: { sslmode: 'require', token: 'tok-999' } });
    expect(c?.uri).toBe('postgres://etl:hunter2@db.internal:5432/w?sslmode=require&token=tok-999');
    expect(await s.variable('api_secret')).toEqual({ value: 's3cr3t-var', secret: true });
    expect(JSON.stringify(await s.listConnections())).not.toMatch(/hunter2|tok-999/);
    const all = await everything();
    for (const v of ['hunter2', 'tok-999', 's3cr3t-var', 'require', '"max":3']) expect(all).not.toContain(v);
    // Moving a sealed value to another name does not open it there.
    await conn.hset(keys.variables, 'stolen', (await conn.hget(keys.variables, 'api_secret'))!);
    await expect(s.variable('stolen')).rejects.toThrow(/does not open/);
    await s.delete('variable', 'stolen', 'carol');
    const audit = await s.audit();
    expect(audit.map((a) => `${a.actor} ${a.action} ${a.kind} ${a.id}`)).toEqual([
      'carol deleted variable stolen',
      'bob created variable limits',
      'bob created variable api_secret',
      'alice created connection db',
      'alice created connection public-api',
      'alice created variable region',
    ]);
  });

  it('rotates every value to the new key (and seals the ones kept in clear), after which the old key can go', async () => {
    const s = new SecretStore(conn, keys, SecretCipher.fromSetting(`${KEY_B},${KEY_A}`));
    expect(await s.rotate('ops')).toEqual({ resealed: 5, total: 5 });
    expect(await s.rotate('ops')).toEqual({ resealed: 0, total: 5 });
    const onlyB = new SecretStore(conn, keys, SecretCipher.fromSetting(KEY_B));
    expect((await onlyB.connection('db'))?.password).toBe('hunter2');
    expect(await onlyB.variable('region')).toEqual({ value: 'eu-west-1', secret: false });
    expect((await onlyB.connection('public-api'))?.extra).toEqual({ timeout: '5' });
    expect(await everything()).not.toContain('eu-west-1');
  });
});
