import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '@aloft/core';
import { startRedis, type RedisHandle } from '@aloft/core/testing';
import { ROOT } from './support/system.js';

const KEYS = `k1:${Buffer.alloc(32, 5).toString('base64')}`;
const PASSWORD = 'cli-hunter2-9f3e';

/** `aloft connections|variables|secrets` against a real redis-server, as an operator types them. */
describe('the CLI for connections and variables (real redis-server)', () => {
  let redis: RedisHandle;
  const prefix = `c${Math.random().toString(36).slice(2, 7)}`;
  const tmp = mkdtempSync(join(tmpdir(), 'aloft-cli-secrets-'));

  const cli = (args: string[], o: { stdin?: string; keys?: string | undefined } = {}) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: redis.url, ALOFT_KEY_PREFIX: prefix };
      delete env['ALOFT_SECRETS_KEYS_FILE'];
      if (o.keys === undefined) delete env['ALOFT_SECRETS_KEYS'];
      else env['ALOFT_SECRETS_KEYS'] = o.keys;
      const child = spawn(process.execPath, [join(ROOT, 'scripts', 'aloft.mjs'), ...args], { cwd: tmp, env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.stdin.end(o.stdin ?? '');
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('adds a connection with its password from stdin, lists and shows it without the password, and audits who', async () => {
    const add = await cli(
      ['connections', 'add', 'warehouse', '--uri', 'postgres://etl@db.internal:5432/wh?sslmode=require', '--password-stdin', '--description', 'sales'],
      { stdin: `${PASSWORD}\n`, keys: KEYS },
    );
    expect(add).toMatchObject({ code: 0, stdout: 'connection "warehouse" saved (postgres db.internal, password sealed)\n' });
    const list = await cli(['--json', 'connections', 'list']);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({
        id: 'warehouse',
        type: 'postgres',
        host: 'db.internal',
        port: 5432,
        login: 'etl',
        schema: 'wh',
        hasPassword: true,
        extraKeys: ['sslmode'],
        description: 'sales',
      }),
    ]);
    const get = await cli(['connections', 'get', 'warehouse']);
    expect(get.stdout).toContain('hasPassword');
    expect(`${list.stdout}${get.stdout}`).not.toContain(PASSWORD);
    expect(`${list.stdout}${get.stdout}`).not.toContain('require');
    const conn = createRedis(redis.url);
    expect(JSON.stringify(await conn.hgetall(`${prefix}:connections`))).not.toContain(PASSWORD);
    conn.disconnect();
    const audit = await cli(['--json', 'secrets', 'audit']);
    expect(JSON.parse(audit.stdout)).toEqual([
      expect.objectContaining({ action: 'created', kind: 'connection', id: 'warehouse', actor: expect.stringMatching(/^cli:/) }),
    ]);
  });

  it('refuses a secret without the keyring, and a connection it cannot read, naming what is wrong', async () => {
    const noKey = await cli(['variables', 'set', 'db_password', 'x']);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('variable "db_password" is secret (its name says so), and Aloft\'s store keeps secrets only sealed: set ALOFT_SECRETS_KEYS');
    const bad = await cli(['connections', 'add', 'broken', '--stdin'], { stdin: '{"type":"pg","password":"leak-me-not","colour":1}', keys: KEYS });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('stdin: value: Unrecognized key');
    expect(bad.stderr).not.toContain('leak-me-not');
    const usage = await cli(['variables', 'set', 'x']);
    expect(usage).toMatchObject({ code: 2, stderr: 'aloft: variables set needs a value or --stdin (one of them)\n' });
  });

  it('sets, imports, shows only plain variables, and keeps an existing one with --if-absent', async () => {
    const file = join(tmp, 'vars.json');
    writeFileSync(file, JSON.stringify({ region: 'eu-west-1', limits: { max: 3 }, api_token: 'tok-never-shown' }));
    const imported = await cli(['variables', 'import', file], { keys: KEYS });
    expect(imported).toMatchObject({ code: 0, stdout: 'imported 3 variable(s)\n' });
    expect((await cli(['variables', 'get', 'limits'], { keys: KEYS })).stdout).toBe('{"max":3}\n');
    const secretGet = await cli(['variables', 'get', 'api_token']);
    expect(secretGet).toMatchObject({ code: 1, stderr: 'aloft: variable "api_token" is secret: its value is not shown after it is set\n' });
    expect((await cli(['variables', 'set', 'region', 'us-east-1', '--if-absent'], { keys: KEYS })).stdout).toBe('variable "region" exists; kept\n');
    expect((await cli(['variables', 'get', 'region'], { keys: KEYS })).stdout).toBe('eu-west-1\n');
    const list = await cli(['--json', 'variables', 'list']);
    expect(JSON.parse(list.stdout).map((v: { key: string; secret: boolean }) => `${v.key}:${v.secret}`)).toEqual([
      'api_token:true',
      'limits:false',
      'region:false',
    ]);
    expect(list.stdout).not.toContain('tok-never-shown');
  });

  it('rotates to a new key, after which the old one can go', async () => {
    const next = `k2:${Buffer.alloc(32, 6).toString('base64')}`;
    const rotate = await cli(['secrets', 'rotate'], { keys: `${next},${KEYS}` });
    expect(rotate).toMatchObject({ code: 0, stdout: 're-sealed 4 of 4 value(s) with the current key\n' });
    expect((await cli(['variables', 'get', 'region'], { keys: next })).stdout).toBe('eu-west-1\n');
    const del = await cli(['connections', 'delete', 'warehouse'], { keys: next });
    expect(del.stdout).toBe('connection "warehouse" deleted\n');
    expect((await cli(['connections', 'delete', 'warehouse'])).stderr).toBe('aloft: connection "warehouse" not found\n');
  });
});
