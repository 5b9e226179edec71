import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keys, SecretStore } from '@aloft/core';
import { ROOT, System, waitFor } from './support/system.js';

const TMP = join(ROOT, '.test-results', `secrets-${process.pid}`);
const DAGS = join(TMP, 'dags');
const DIR = join(TMP, 'secrets');
const PASSWORD = 'Hunter2/s3cret';
const TOKEN = 'tok-7f3a9e21';
// Every form a secret could leave in: plain, %-encoded, and each half of a split one.
const LEAKS = [PASSWORD, encodeURIComponent(PASSWORD), TOKEN];

/**
 * Connections and variables end to end: a worker reads them from each backend (env, a
 * mounted folder, Aloft's store in Redis) when a task asks, and masks every secret it hands
 * out in the task's log, output and failure reason, whatever form the task prints it in.
 */
describe('connections and variables (real redis-server, scheduler, worker)', () => {
  const sys = new System({
    dagsFolder: DAGS,
    env: {
      ALOFT_CONN_WAREHOUSE: `postgres://etl:${encodeURIComponent(PASSWORD)}@db.internal:5432/wh`,
      ALOFT_VAR_LIMITS: '{"max":7}',
      ALOFT_SECRETS_DIR: DIR,
    },
  });
  let runId = '';

  beforeAll(async () => {
    rmSync(TMP, { recursive: true, force: true });
    mkdirSync(join(DIR, 'variables'), { recursive: true });
    mkdirSync(join(DIR, 'connections'), { recursive: true });
    writeFileSync(join(DIR, 'variables', 'api_token'), `${TOKEN}\n`);
    cpSync(join(ROOT, 'tests', 'fixtures', 'secret-dags'), DAGS, { recursive: true });
    await sys.start();
    // The store backend: a plain variable needs no key.
    await new SecretStore(sys.client.store.redis, new Keys(sys.prefix), undefined).setVariable('region', 'eu-west-1', {}, 'test');
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker');
    await waitFor('secret_use stored', async () => (await sys.client.listDags()).some((d) => d.dag.id === 'secret_use'), 60_000);
    runId = (await sys.client.trigger('secret_use')).runId;
    await sys.client.waitForRun('secret_use', runId, { timeoutMs: 90_000, pollMs: 200 });
  }, 150_000);
  afterAll(async () => {
    await sys.stop();
    rmSync(TMP, { recursive: true, force: true });
  });

  const lines = async (task: string) => (await sys.client.getLog('secret_use', runId, task)).map((l) => l.line);
  const ti = (task: string) => sys.client.getTaskInstance('secret_use', runId, task);

  it('gives a function its connection and variables from each backend, masked in its log and output', async () => {
    expect((await ti('fn_reads')).state).toBe('success');
    const log = await lines('fn_reads');
    expect(log).toContain('connecting to postgres://etl:***@db.internal:5432/wh');
    expect(log).toContain('[info] password=***;');
    expect(log).toContain('split:***:end');
    expect(await sys.client.getOutput('secret_use', runId, 'fn_reads')).toEqual({
      host: 'db.internal',
      region: 'eu-west-1',
      max: 7,
      token: '***',
      fallback: 'dflt',
    });
  });

  it('puts a connection into a command’s environment, not its command line, masked however it is printed', async () => {
    expect((await ti('cmd_env')).state).toBe('success');
    const log = await lines('cmd_env');
    expect(log).toContain('pw is ***');
    // Printed in two writes 100 ms apart, and %-encoded by a child process.
    expect(log.filter((l) => l === '***').length).toBe(2);
    expect(log).toContain('eu-west-1 7 db.internal');
  });

  it('masks a secret in a failure’s reason', async () => {
    const t = await ti('fn_throws');
    expect(t.state).toBe('failed');
    expect(t.reason).toContain('login refused for etl:***');
  });

  it('fails a task that names an unknown connection or variable, naming it and every backend tried', async () => {
    const f = await ti('fn_unknown');
    expect(f.state).toBe('failed');
    expect(f.reason).toContain(
      `connection "nowhere" not found; tried env ALOFT_CONN_NOWHERE, dir ${join(DIR, 'connections', 'nowhere')}, store connections/nowhere`,
    );
    const c = await ti('cmd_unknown');
    expect(c.state).toBe('failed');
    expect(c.reason).toContain(`variable "not_set" not found; tried env ALOFT_VAR_NOT_SET, dir ${join(DIR, 'variables', 'not_set')}, store variables/not_set`);
  });

  it('leaves no secret anywhere in Redis or in the services’ logs', async () => {
    const redis = sys.client.store.redis;
    const dump: string[] = [];
    for (const k of await redis.keys('*')) {
      const type = await redis.type(k);
      if (type === 'hash') dump.push(JSON.stringify(await redis.hgetall(k)));
      else if (type === 'list') dump.push(JSON.stringify(await redis.lrange(k, 0, -1)));
      else if (type === 'stream') dump.push(JSON.stringify(await redis.xrange(k, '-', '+')));
      else if (type === 'string') dump.push((await redis.get(k)) ?? '');
      else if (type === 'zset') dump.push(JSON.stringify(await redis.zrange(k, 0, -1)));
      else if (type === 'set') dump.push(JSON.stringify(await redis.smembers(k)));
    }
    const all = dump.join('\n');
    expect(all).toContain('eu-west-1');
    for (const leak of LEAKS) expect(all).not.toContain(leak);
    for (const s of sys.services) {
      const text = readFileSync(s.logFile, 'utf8');
      for (const leak of LEAKS) expect(text, s.logFile).not.toContain(leak);
    }
  });
});
