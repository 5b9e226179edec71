import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type AloftClient } from '@aloft/core';
import { freePort } from '@aloft/core/testing';
import { ROOT, waitFor } from './support/system.js';

/**
 * User code cannot read a service's credentials. `node scripts/up.mjs`
 * runs with a DAG folder whose file tries every route to them (tests/fixtures/thief): at
 * import, as an `fn` task, as a command, as a pod on the local stand-in, and through a
 * template. Each prints what looked like a credential; a canary each context can read by
 * right shows that the search works, and neither the Redis password nor the dashboard's
 * admin password may ever be among the findings, in a log, an output or an error.
 */
const TMP = join(ROOT, '.test-results', `credentials-${process.pid}`);
const ADMIN_PASSWORD = 'credentials-admin-Secret-7';

interface Theft {
  uid: number;
  tried: number;
  denied: number;
  found: string[];
  redis: string;
}

const dagFile = (dataDir: string, redisPort: number) => `
import { dag } from '@aloft/core';
import { steal } from './_thief.mjs';

const where = { dataDir: ${JSON.stringify(dataDir)}, redisPort: ${redisPort} };
process.env.CANARY = 'redis://:canary-parse@nowhere';
const atImport = await steal(where);

const d = dag({ id: 'thief', schedule: null, params: { atImport }, defaultArgs: { retries: 0 } });
d.fn({
  id: 'fn',
  run: async () => {
    process.env.CANARY = 'redis://:canary-fn@nowhere';
    return steal(where);
  },
});
d.command({
  id: 'command',
  command: ['node', ${JSON.stringify(join(TMP, 'dags', '_thief.mjs'))}, where.dataDir, String(where.redisPort)],
  env: { CANARY: 'redis://:canary-command@nowhere' },
});
d.command({
  id: 'template',
  command: 'echo "T:{{ range.constructor(\\'return JSON.stringify(process.env)\\')() }}"',
});
d.kubernetesPod({
  id: 'pod',
  image: 'node:20-slim',
  cmds: ['node', ${JSON.stringify(join(TMP, 'dags', '_thief.mjs'))}, where.dataDir, String(where.redisPort)],
  env: { CANARY: 'redis://:canary-pod@nowhere' },
  getLogs: true,
});
`;

function theftIn(lines: string[]): Theft | undefined {
  const line = lines.find((l) => l.startsWith('THIEF '));
  return line ? (JSON.parse(line.slice('THIEF '.length)) as Theft) : undefined;
}

describe('user code cannot read the services credentials (up.mjs, run as root)', () => {
  let child: ChildProcess;
  let out = '';
  let client: AloftClient;
  let redisUrl: string;
  let redisPassword: string;
  const dataDir = join(TMP, 'data');

  beforeAll(async () => {
    // Folders `nobody` can read, as a checkout is: user code then runs as nobody.
    mkdirSync(join(TMP, 'dags'), { recursive: true, mode: 0o755 });
    mkdirSync(join(TMP, 'home'), { recursive: true });
    copyFileSync(join(ROOT, 'tests', 'fixtures', 'thief', '_thief.mjs'), join(TMP, 'dags', '_thief.mjs'));
    const redisPort = await freePort();
    writeFileSync(join(TMP, 'dags', 'thief.ts'), dagFile(dataDir, redisPort));
    const env: Record<string, string> = { ...(process.env as Record<string, string>) };
    for (const k of ['KUBECONFIG', 'ALOFT_K8S_KUBECONFIG', 'KUBERNETES_SERVICE_HOST', 'REDIS_URL']) delete env[k];
    child = spawn(process.execPath, [join(ROOT, 'scripts', 'up.mjs')], {
      cwd: ROOT,
      env: {
        ...env,
        HOME: join(TMP, 'home'),
        ALOFT_DATA_DIR: dataDir,
        ALOFT_DAGS_FOLDER: join(TMP, 'dags'),
        ALOFT_REDIS_PORT: String(redisPort),
        ALOFT_DASHBOARD_PORT: String(await freePort()),
        ALOFT_DASHBOARD_ADMIN_PASSWORD: ADMIN_PASSWORD,
        ALOFT_LOG_PRETTY: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    redisUrl = await waitFor('up to record its Redis', async () => readFileSync(join(dataDir, 'redis-url'), 'utf8').trim(), 60_000);
    redisPassword = decodeURIComponent(new URL(redisUrl).password);
    client = createClient({ redisUrl, prefix: 'aloft' });
    await waitFor('the thief DAG stored', async () => (await client.listDags()).some((d) => d.dag.id === 'thief'), 90_000);
  }, 180_000);

  afterAll(async () => {
    await client?.close();
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
    }
    rmSync(TMP, { recursive: true, force: true });
  });

  /** The services' credentials, and the example secrets up.mjs made: its store's keyring and the secrets folder's token. */
  const secrets = () => {
    const keyring = readFileSync(join(dataDir, 'credentials', 'aloft-secrets-keys'), 'utf8')
      .trim()
      .split(':')[1]!;
    const api = (JSON.parse(readFileSync(join(dataDir, 'secrets', 'connections', 'reporting_api'), 'utf8')) as { password: string }).password;
    return [keyring, api];
  };
  const leaks = (text: string) => [redisPassword, ADMIN_PASSWORD, ...secrets()].filter((s) => text.includes(s));

  it('Redis has a password, and up hands it to the services in a file only their user reads', () => {
    expect(redisPassword.length).toBeGreaterThanOrEqual(16);
    expect(readFileSync(join(dataDir, 'redis-url'), 'utf8')).toContain(redisPassword);
    expect(out).not.toContain(redisPassword);
  });

  it('at import, in fn tasks, commands, pods and templates: canaries found, credentials not', async () => {
    const stored = (await client.listDags()).find((d) => d.dag.id === 'thief')!;
    const atImport = stored.dag.params['atImport']?.default as Theft | undefined;
    const run = await client.trigger('thief');
    await client.waitForRun('thief', run.runId, { timeoutMs: 120_000, pollMs: 250 });
    const tis = Object.fromEntries((await client.listTaskInstances('thief', run.runId)).map((t) => [t.taskId, t]));
    const thefts: Record<string, Theft | undefined> = { parse: atImport };
    thefts['fn'] = (await client.getOutput('thief', run.runId, 'fn')) as Theft | undefined;
    for (const id of ['command', 'pod']) thefts[id] = theftIn((await client.getLog('thief', run.runId, id)).map((l) => l.line));
    const report = Object.entries(thefts).map(
      ([k, t]) => `${k}: uid ${t?.uid}, ${t?.denied}/${t?.tried} denied, redis ${t?.redis}, found ${JSON.stringify(t?.found)}`,
    );
    console.log(`credential routes tried:\n  ${report.join('\n  ')}`);
    for (const [context, theft] of Object.entries(thefts)) {
      expect(theft, `${context}: ${JSON.stringify(tis[context])}`).toBeDefined();
      // The search works: each context finds its own canary...
      expect(
        theft!.found.some((f) => f.includes(`canary-${context}`)),
        `${context} canary`,
      ).toBe(true);
      // ...and nothing of the services'.
      expect(leaks(JSON.stringify(theft)), context).toEqual([]);
      expect(theft!.uid, `${context} runs as another user than the services`).not.toBe(0);
      expect(theft!.redis, `${context}: Redis without its password`).toMatch(/^-NOAUTH/);
    }
    // The template cannot reach the JavaScript runtime.
    expect(tis['template']?.state).toBe('failed');
    expect(tis['template']?.reason).toMatch(/template in .*command/);
    const templateLog = (await client.getLog('thief', run.runId, 'template')).map((l) => l.line).join('\n');
    expect(templateLog).not.toMatch(/T:\{/);
    // Nothing anywhere: every log line of every task, their reasons, and the services' output.
    for (const id of Object.keys(tis)) {
      const all = JSON.stringify(tis[id]) + (await client.getLog('thief', run.runId, id)).map((l) => l.line).join('\n');
      expect(leaks(all), id).toEqual([]);
    }
    expect(leaks(out)).toEqual([]);
  }, 180_000);
});
