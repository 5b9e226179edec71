import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '@aloft/k8s-emulator';
import { ROOT, System, waitFor } from './support/system.js';

/**
 * Pod tasks against the project's Kubernetes API emulator, only for what a real API server
 * (tests/kubernetes.test.ts, real-kube) cannot script or observe: 429 storms with
 * Retry-After, a ResourceQuota running full (real-kube runs no quota controller), every API
 * request counted (no per-pod polling; 500 pods through one watch), and what no real kubelet
 * does to Aloft's pods (crash-looping a restartPolicy Never pod; InvalidImageName, which
 * real-kube's stand-in kubelet does not report; evicting only a try's first pod).
 */
const TMP = join(ROOT, '.test-results', `k8s-emu-${process.pid}`);

describe('kubernetesPod tasks (Kubernetes API emulator)', () => {
  let emu: Emulator;
  const kubeconfig = join(TMP, 'kubeconfig');
  const dags = join(TMP, 'dags');
  const sys = new System({
    dagsFolder: dags,
    env: { ALOFT_KILL_GRACE_MS: '500', ALOFT_LOCK_MS: '2000', ALOFT_K8S_ORPHAN_SWEEP_MS: '500', ALOFT_DAG_PARSE_TIMEOUT_MS: '120000' },
  });

  const stdout = async (dagId: string, runId: string, taskId: string) =>
    (await sys.client.getLog(dagId, runId, taskId)).filter((l) => l.stream === 'stdout').map((l) => l.line);

  beforeAll(async () => {
    mkdirSync(dags, { recursive: true });
    copyFileSync(join(ROOT, 'tests', 'fixtures', 'k8s-dags', 'pods.ts'), join(dags, 'pods.ts'));
    copyFileSync(join(ROOT, 'tests', 'fixtures', 'k8s-emulator-dags', 'evicted_once.ts'), join(dags, 'evicted_once.ts'));
    emu = await startEmulator();
    emu.writeKubeconfig(kubeconfig);
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker-1', { KUBECONFIG: kubeconfig });
    await sys.spawn('worker', 'worker-2', { KUBECONFIG: kubeconfig });
    await waitFor('pod DAGs stored', async () => (await sys.client.listDags()).length >= 10, 60_000);
  });
  afterAll(async () => {
    await sys.stop();
    await emu?.stop();
    rmSync(TMP, { recursive: true, force: true });
  });

  it('fails a crash-looping pod and an invalid image name at once, in words', async () => {
    const run = await sys.client.trigger('pods_emulated');
    await sys.client.waitForRun('pods_emulated', run.runId, { timeoutMs: 60_000, pollMs: 100 });
    const t = Object.fromEntries((await sys.client.listTaskInstances('pods_emulated', run.runId)).map((x) => [x.taskId, x]));
    expect(t['bad_image']?.state).toBe('failed');
    expect(t['bad_image']?.reason).toMatch(/^InvalidImageName: container "base": .*invalid reference format/);
    expect(t['crashing']?.state).toBe('failed');
    expect(t['crashing']?.reason).toMatch(/^CrashLoopBackOff: container "base": back-off 10s restarting failed container/);
  });

  it('runs a try whose pod was evicted again in a new pod, without using a retry', async () => {
    const run = await sys.client.trigger('pod_evicted_once');
    const done = await sys.client.waitForRun('pod_evicted_once', run.runId, { timeoutMs: 60_000, pollMs: 100 });
    expect(done.state).toBe('success');
    const ti = await sys.client.getTaskInstance('pod_evicted_once', run.runId, 'survives');
    expect([ti.state, ti.try]).toEqual(['success', 1]);
    const lines = (await sys.client.getLog('pod_evicted_once', run.runId, 'survives')).map((l) => l.line);
    expect(lines).toContain('Evicted: The node was low on resource: memory.: the cluster ended the pod, so this try runs again in a new pod (no retry used)');
    expect(lines.filter((l) => l === 'done')).toHaveLength(1);
    // Two pods for the one try, each created once under a name of its own: the evicted one and the next generation.
    const created = emu.requests.filter((r) => r.method === 'POST' && r.status === 201 && r.name?.includes('survives'));
    expect(created).toHaveLength(2);
    expect(new Set(created.map((r) => r.name)).size).toBe(2);
  });

  it('rides out 429 answers, honouring Retry-After, and never starts a pod twice', async () => {
    const from = emu.requests.length;
    emu.setFaults({ rate: 0.5, status: 429, retryAfter: 1, match: /^(POST|DELETE) \/api\/v1\/namespaces\/default\/pods/ });
    try {
      const run = await sys.client.trigger('pod_burst');
      const done = await sys.client.waitForRun('pod_burst', run.runId, { timeoutMs: 90_000, pollMs: 200 });
      expect(done.state).toBe('success');
    } finally {
      emu.setFaults(undefined);
    }
    const posts = emu.requests.slice(from).filter((r) => r.method === 'POST');
    const refused = posts.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    // Every pod was created exactly once, and a refused create was tried again no sooner
    // than its Retry-After (1 s).
    const created = posts.filter((r) => r.status === 201);
    expect(created).toHaveLength(20);
    expect(new Set(created.map((r) => r.name)).size).toBe(20);
    for (const r of refused) {
      const again = posts.find((x) => x.name === r.name && x.at > r.at);
      expect(again, r.name).toBeDefined();
      expect(again!.at - r.at, r.name).toBeGreaterThanOrEqual(950);
    }
  });

  it('waits for a full quota instead of failing, and fails with the quota message past the startup timeout', async () => {
    emu.setPodQuota('default', 2);
    try {
      const run = await sys.client.trigger('pod_quota');
      const done = await sys.client.waitForRun('pod_quota', run.runId, { timeoutMs: 90_000, pollMs: 200 });
      expect(done.state).toBe('success');
      const logs = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => sys.client.getLog('pod_quota', run.runId, `q${i}`)));
      expect(logs.some((l) => l.some((x) => /^waiting for quota: .*exceeded quota: pod-count/.test(x.line)))).toBe(true);
      emu.setPodQuota('default', 0);
      const full = await sys.client.trigger('pod_quota_full');
      await sys.client.waitForRun('pod_quota_full', full.runId, { timeoutMs: 30_000, pollMs: 100 });
      const ti = await sys.client.getTaskInstance('pod_quota_full', full.runId, 'never');
      expect(ti.state).toBe('failed');
      expect(ti.reason).toMatch(/^quota still exceeded after 1 s \(startup timeout\): .*exceeded quota/);
    } finally {
      emu.setPodQuota('default', undefined);
    }
  });

  it('follows pods through one watch per namespace and never polls a pod, counted request by request, after drops and 410 Gone', async () => {
    const before = emu.requests.length;
    const run = await sys.client.trigger('pod_slow', { conf: { lines: 30, pause: 0.1 } });
    await waitFor('the pod to log', async () => (await stdout('pod_slow', run.runId, 'ticker')).length >= 5);
    emu.dropWatches();
    emu.dropLogStreams();
    await new Promise((r) => setTimeout(r, 400));
    emu.compactHistory();
    emu.dropWatches();
    emu.dropLogStreams();
    const done = await sys.client.waitForRun('pod_slow', run.runId, { timeoutMs: 60_000, pollMs: 100 });
    expect(done.state).toBe('success');
    expect(await stdout('pod_slow', run.runId, 'ticker')).toEqual(Array.from({ length: 30 }, (_, i) => `line ${i + 1}`));
    const during = emu.requests.slice(before);
    // No per-pod polling: pods are read through the shared watch, never one by one.
    expect(during.filter((r) => r.method === 'GET' && /\/pods\/[^/]+$/.test(r.path))).toEqual([]);
    // Each worker re-watched after the drops (a handful of watch calls, not one per pod or per second).
    const watches = during.filter((r) => r.method === 'GET' && r.query['watch'] !== undefined);
    expect(watches.length).toBeGreaterThanOrEqual(2);
    expect(watches.length).toBeLessThanOrEqual(12);
    // Resumed watches asked for the last version seen; the 410 made the workers list again.
    expect(watches.some((r) => Number(r.query['resourceVersion']) > 1)).toBe(true);
    expect(during.filter((r) => r.method === 'GET' && /\/pods$/.test(r.path) && r.query['watch'] === undefined).length).toBeGreaterThanOrEqual(1);
    // Log streams were reopened from where they stopped.
    expect(during.filter((r) => r.path.endsWith('/log') && r.query['sinceTime']).length).toBeGreaterThanOrEqual(1);
  });
});

describe('500 pods at once on one worker', () => {
  let emu: Emulator;
  const dir = join(TMP, 'many');
  const sys = new System({
    dagsFolder: dir,
    env: { ALOFT_WORKER_CONCURRENCY: '500', ALOFT_K8S_CREATE_CONCURRENCY: '32', ALOFT_DAG_PARSE_TIMEOUT_MS: '120000' },
  });

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(ROOT, 'tests', 'fixtures', 'k8s-dags', 'pods.ts'), join(dir, 'pods.ts'));
    emu = await startEmulator();
    emu.writeKubeconfig(join(dir, 'kubeconfig'));
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker-many', { KUBECONFIG: join(dir, 'kubeconfig') });
    await waitFor('pod DAGs stored', async () => (await sys.client.listDags()).some((d) => d.dag.id === 'pod_many'), 60_000);
  });
  afterAll(async () => {
    await sys.stop();
    await emu?.stop();
  });

  it('runs them all through a single watch, creating each pod once', async () => {
    const run = await sys.client.trigger('pod_many');
    let peak = 0;
    const done = await waitFor(
      'the 500 pods',
      async () => {
        peak = Math.max(peak, emu.podNames('default').length);
        const r = await sys.client.getRun('pod_many', run.runId);
        return (r.state === 'success' || r.state === 'failed') && r;
      },
      270_000,
    );
    expect(done.state).toBe('success');
    const tis = await sys.client.listTaskInstances('pod_many', run.runId);
    expect(tis.filter((t) => t.state === 'success')).toHaveLength(500);
    // The pods overlapped: hundreds existed at once.
    expect(peak).toBeGreaterThan(100);
    expect(emu.watchCounts()['default']?.max).toBe(1);
    const posts = emu.requests.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(500);
    // No per-pod reads: state came from the one watch.
    expect(emu.requests.filter((r) => r.method === 'GET' && /\/pods\/[^/]+$/.test(r.path))).toEqual([]);
  }, 300_000);
});
