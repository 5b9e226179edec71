import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '@aloft/k8s-emulator';
import { createClient, type AloftClient, type TaskInstance } from '@aloft/core';
import { freePort } from '@aloft/core/testing';
import { createToken, launchChromium, signIn } from './support/dashboard.js';
import { ROOT, waitFor } from './support/system.js';

/**
 * `node scripts/up.mjs` itself. With no cluster configured (no KUBECONFIG, a HOME without
 * ~/.kube) it starts the local pod stand-in and says so, and kubernetes_sample_pod (the pod
 * version of kubernetes_sample) passes and fails as in Airflow's example; with KUBECONFIG set, the
 * same DAG runs on that cluster.
 */
const TMP = join(ROOT, '.test-results', `quick-start-${process.pid}`);
const PASSWORD = 'quick-start-admin-1';

interface Up {
  out: () => string;
  client: AloftClient;
  base: string;
  stop(): Promise<void>;
}

/** Runs up.mjs with its data, ports and HOME in a scratch dir; resolves once the pod sample is stored. */
async function startUp(name: string, extra: Record<string, string>): Promise<Up> {
  const dir = join(TMP, name);
  mkdirSync(join(dir, 'home'), { recursive: true });
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  for (const k of ['KUBECONFIG', 'ALOFT_K8S_KUBECONFIG', 'KUBERNETES_SERVICE_HOST', 'REDIS_URL']) delete env[k];
  const dashboardPort = await freePort();
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'scripts', 'up.mjs')], {
    cwd: ROOT,
    env: {
      ...env,
      HOME: join(dir, 'home'),
      ALOFT_DATA_DIR: join(dir, 'data'),
      ALOFT_REDIS_PORT: String(await freePort()),
      ALOFT_DASHBOARD_PORT: String(dashboardPort),
      ALOFT_DASHBOARD_ADMIN_PASSWORD: PASSWORD,
      ALOFT_LOG_PRETTY: '0',
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  const redisUrl = await waitFor('up to record its Redis', async () => readFileSync(join(dir, 'data', 'redis-url'), 'utf8').trim(), 60_000);
  const client = createClient({ redisUrl, prefix: 'aloft' });
  await waitFor('kubernetes_sample_pod stored', async () => (await client.listDags()).some((d) => d.dag.id === 'kubernetes_sample_pod'), 90_000);
  return {
    out: () => out,
    client,
    base: `http://127.0.0.1:${dashboardPort}`,
    async stop() {
      await client.close();
      if (child.exitCode === null) child.kill('SIGINT');
      await exited;
    },
  };
}

/** Runs kubernetes_sample_pod and checks Airflow's outcome: passing prints hello world, failing fails after its retry. */
async function runSample(client: AloftClient): Promise<Record<string, TaskInstance>> {
  const run = await client.trigger('kubernetes_sample_pod');
  const done = await client.waitForRun('kubernetes_sample_pod', run.runId, { timeoutMs: 90_000, pollMs: 200 });
  expect(done.state).toBe('failed');
  const tis = Object.fromEntries((await client.listTaskInstances('kubernetes_sample_pod', run.runId)).map((t) => [t.taskId, t]));
  expect(tis['run_this_first']?.state).toBe('success');
  expect(tis['passing'], tis['passing']?.reason).toMatchObject({ state: 'success', try: 1, exitCode: 0 });
  const log = await client.getLog('kubernetes_sample_pod', run.runId, 'passing');
  expect(log.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['hello world']);
  expect(tis['failing']).toMatchObject({ state: 'failed', try: 2, exitCode: 128 });
  expect(tis['failing']?.reason).toMatch(/^exit code 128 \(StartError: .*"python": executable file not found in \$PATH/);
  return tis;
}

const STAND_IN_LOG_LINE = 'pods run on a local stand-in, not a cluster: the quick start found no KUBECONFIG';

describe('the quick start without a cluster runs pods on a local stand-in', () => {
  let up: Up;
  beforeAll(async () => {
    up = await startUp('stand-in', {});
  });
  afterAll(() => up?.stop());

  it('says so in its banner', () => {
    expect(up.out()).toMatch(/aloft\s+\|\S* \S*pods run on a local stand-in, not a cluster\S*: no KUBECONFIG/);
  });

  it('kubernetes_sample_pod: passing prints hello world, failing fails after its retry, each pod log saying where it ran', async () => {
    const tis = await runSample(up.client);
    const log = await up.client.getLog('kubernetes_sample_pod', tis['passing']!.runId, 'passing');
    expect(log.map((l) => l.line)).toContain(STAND_IN_LOG_LINE);
  });

  it('the dashboard notes it on DAGs with pod tasks, and only there', async () => {
    const token = await createToken(up.base, PASSWORD, 'quick-start', 'viewer');
    const dag = async (id: string) =>
      (await (await fetch(`${up.base}/api/v1/dags/${id}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { id: string; podNote?: string };
    expect((await dag('kubernetes_sample_pod')).podNote).toMatch(/^Pods run on a local stand-in, not a cluster: the quick start found no KUBECONFIG/);
    const plain = await dag('kubernetes_sample');
    expect(plain.id).toBe('kubernetes_sample');
    expect(plain.podNote).toBeUndefined();
  });

  it('the DAG page shows the note', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await signIn(page, up.base, '/dags/kubernetes_sample_pod', PASSWORD);
      const note = page.getByRole('note');
      await note.waitFor();
      expect(await note.textContent()).toMatch(/^Pods run on a local stand-in, not a cluster/);
    } finally {
      await browser.close();
    }
  });
});

describe('the quick start with KUBECONFIG runs pods on that cluster', () => {
  let up: Up;
  let cluster: Emulator;
  beforeAll(async () => {
    // The cluster here is an emulator of this test's own, so it can count the pods created on it.
    cluster = await startEmulator();
    mkdirSync(TMP, { recursive: true });
    const kubeconfig = join(TMP, 'cluster-kubeconfig');
    cluster.writeKubeconfig(kubeconfig);
    up = await startUp('cluster', { KUBECONFIG: kubeconfig });
  });
  afterAll(async () => {
    await up?.stop();
    await cluster?.stop();
  });

  it('starts no stand-in, and kubernetes_sample_pod creates its pods on the cluster', async () => {
    expect(up.out()).toContain('pods: on the cluster in your kubeconfig');
    expect(up.out()).not.toContain('local stand-in');
    const tis = await runSample(up.client);
    const log = await up.client.getLog('kubernetes_sample_pod', tis['passing']!.runId, 'passing');
    expect(log.map((l) => l.line)).not.toContain(STAND_IN_LOG_LINE);
    const created = cluster.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/namespaces/default/pods');
    expect(created).toHaveLength(3);
  });
});
