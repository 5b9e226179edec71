import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type AloftClient } from '@aloft/core';
import { freePort } from '@aloft/core/testing';
import { createToken, launchChromium, signIn } from './support/dashboard.js';
import { ROOT, waitFor } from './support/system.js';

/**
 * `node scripts/up.mjs` itself, on a machine with no cluster configured (no KUBECONFIG, a
 * HOME without ~/.kube): it starts the local pod stand-in, says so, and the pod twin of
 * kubernetes_sample passes and fails as in Airflow's example; the dashboard says so too.
 */
const TMP = join(ROOT, '.test-results', `quick-start-${process.pid}`);
const PASSWORD = 'quick-start-admin-1';

describe('the quick start without a cluster runs pods on a local stand-in', () => {
  let up: ChildProcess;
  let out = '';
  let client: AloftClient;
  let base: string;

  beforeAll(async () => {
    mkdirSync(join(TMP, 'home'), { recursive: true });
    const env: Record<string, string> = { ...(process.env as Record<string, string>) };
    for (const k of ['KUBECONFIG', 'ALOFT_K8S_KUBECONFIG', 'KUBERNETES_SERVICE_HOST', 'REDIS_URL']) delete env[k];
    const dashboardPort = await freePort();
    base = `http://127.0.0.1:${dashboardPort}`;
    up = spawn(process.execPath, [join(ROOT, 'scripts', 'up.mjs')], {
      cwd: ROOT,
      env: {
        ...env,
        HOME: join(TMP, 'home'),
        ALOFT_DATA_DIR: join(TMP, 'data'),
        ALOFT_REDIS_PORT: String(await freePort()),
        ALOFT_DASHBOARD_PORT: String(dashboardPort),
        ALOFT_DASHBOARD_ADMIN_PASSWORD: PASSWORD,
        ALOFT_LOG_PRETTY: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    up.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    up.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const redisUrl = await waitFor('up to record its Redis', async () => readFileSync(join(TMP, 'data', 'redis-url'), 'utf8').trim(), 60_000);
    client = createClient({ redisUrl, prefix: 'aloft' });
    await waitFor('kubernetes_sample_pod stored', async () => (await client.listDags()).some((d) => d.dag.id === 'kubernetes_sample_pod'), 90_000);
  });
  afterAll(async () => {
    await client?.close();
    if (up && up.exitCode === null) {
      const exited = new Promise((r) => up.once('exit', r));
      up.kill('SIGINT');
      await exited;
    }
  });

  it('says so in its banner', () => {
    expect(out).toMatch(/aloft\s+\|\S* \S*pods run on a local stand-in, not a cluster\S*: no KUBECONFIG/);
  });

  it('kubernetes_sample_pod: passing prints hello world, failing fails after its retry, each pod log saying where it ran', async () => {
    const run = await client.trigger('kubernetes_sample_pod');
    const done = await client.waitForRun('kubernetes_sample_pod', run.runId, { timeoutMs: 90_000, pollMs: 200 });
    expect(done.state).toBe('failed');
    const tis = Object.fromEntries((await client.listTaskInstances('kubernetes_sample_pod', run.runId)).map((t) => [t.taskId, t]));
    expect(tis['run_this_first']?.state).toBe('success');
    expect(tis['passing']).toMatchObject({ state: 'success', try: 1, exitCode: 0 });
    const log = await client.getLog('kubernetes_sample_pod', run.runId, 'passing');
    expect(log.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['hello world']);
    expect(log.map((l) => l.line)).toContain('pods run on a local stand-in, not a cluster: the quick start found no KUBECONFIG');
    expect(tis['failing']).toMatchObject({ state: 'failed', try: 2, exitCode: 128 });
    expect(tis['failing']?.reason).toMatch(/^exit code 128 \(StartError: .*"python": executable file not found in \$PATH/);
  });

  it('the dashboard notes it on DAGs with pod tasks, and only there', async () => {
    const token = await createToken(base, PASSWORD, 'quick-start', 'viewer');
    const dag = async (id: string) => (await (await fetch(`${base}/api/v1/dags/${id}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { id: string; podNote?: string };
    expect((await dag('kubernetes_sample_pod')).podNote).toMatch(/^Pods run on a local stand-in, not a cluster: the quick start found no KUBECONFIG/);
    const plain = await dag('kubernetes_sample');
    expect(plain.id).toBe('kubernetes_sample');
    expect(plain.podNote).toBeUndefined();
  });

  it('the DAG page shows the note', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await signIn(page, base, '/dags/kubernetes_sample_pod', PASSWORD);
      const note = page.getByRole('note');
      await note.waitFor();
      expect(await note.textContent()).toMatch(/^Pods run on a local stand-in, not a cluster/);
    } finally {
      await browser.close();
    }
  });
});
