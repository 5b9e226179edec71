import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { startEmulator, type Emulator } from '@aloft/k8s-emulator';
import type { TaskInstance } from '@aloft/core';
import { ROOT, System, waitFor } from './support/system.js';

/**
 * Pod tasks end to end: scheduler and workers as processes, real redis-server, and the
 * project's Kubernetes API emulator (a real HTTP server the unmodified client talks to).
 * With KUBECONFIG set, the pod kubernetes_sample also runs against that cluster.
 */
const CLUSTER = process.env['KUBECONFIG'];
const TMP = join(ROOT, '.test-results', `k8s-${process.pid}`);
const SECRET_VALUE = 'sw0rdf1sh-never-in-redis';

describe('kubernetesPod tasks (Kubernetes API emulator)', () => {
  let emu: Emulator;
  const kubeconfig = join(TMP, 'kubeconfig');
  // The fixtures, plus the pod examples exactly as users get them.
  const dags = join(TMP, 'dags');
  const sys = new System({ dagsFolder: dags, env: { ALOFT_KILL_GRACE_MS: '500', ALOFT_LOCK_MS: '2000', ALOFT_K8S_ORPHAN_SWEEP_MS: '500' } });

  const tis = async (dagId: string, runId: string): Promise<Record<string, TaskInstance>> =>
    Object.fromEntries((await sys.client.listTaskInstances(dagId, runId)).map((t) => [t.taskId, t]));
  const stdout = async (dagId: string, runId: string, taskId: string, t?: number) =>
    (await sys.client.getLog(dagId, runId, taskId, t ? { try: t } : {})).filter((l) => l.stream === 'stdout').map((l) => l.line);
  const creates = () => emu.requests.filter((r) => r.method === 'POST' && /\/pods$/.test(r.path)).map((r) => r.path);

  beforeAll(async () => {
    mkdirSync(dags, { recursive: true });
    const fixtures = join(ROOT, 'tests', 'fixtures', 'k8s-dags');
    for (const f of readdirSync(fixtures)) copyFileSync(join(fixtures, f), join(dags, f));
    for (const f of ['kubernetes_sample_pod.ts', 'pod_pipeline.ts']) copyFileSync(join(ROOT, 'examples', 'dags', f), join(dags, f));
    emu = await startEmulator();
    emu.writeKubeconfig(kubeconfig);
    emu.addSecret('default', 'db', { password: SECRET_VALUE });
    emu.addSecret('default', 'warehouse', { password: SECRET_VALUE });
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    // Tasks with runInPod: the "task image" is this checkout, run by the emulator's node.
    const taskPods = {
      KUBECONFIG: kubeconfig,
      ALOFT_TASK_POD_IMAGE: 'aloft/aloft:test',
      ALOFT_TASK_POD_COMMAND: JSON.stringify(['node', '--conditions=aloft-source', '--import', join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs'), join(ROOT, 'apps', 'worker', 'src', 'run-task.ts')]),
      ALOFT_TASK_POD_DAGS_FOLDER: dags,
    };
    await sys.spawn('worker', 'worker-1', taskPods);
    await sys.spawn('worker', 'worker-2', taskPods);
    await waitFor('pod DAGs stored', async () => (await sys.client.listDags()).length >= 10, 60_000);
  });
  afterAll(async () => {
    await sys.stop();
    await emu?.stop();
    rmSync(TMP, { recursive: true, force: true });
  });

  it('kubernetes_sample_pod: passing prints hello world; failing (no python in ubuntu) fails with the reason, retried once', async () => {
    const run = await sys.client.trigger('kubernetes_sample_pod');
    const done = await sys.client.waitForRun('kubernetes_sample_pod', run.runId, { timeoutMs: 60_000, pollMs: 100 });
    expect(done.state).toBe('failed');
    const t = await tis('kubernetes_sample_pod', run.runId);
    expect(t['run_this_first']?.state).toBe('success');
    expect(t['passing']?.state).toBe('success');
    expect(await stdout('kubernetes_sample_pod', run.runId, 'passing')).toEqual(['hello world']);
    expect(t['failing']?.state).toBe('failed');
    expect(t['failing']?.try).toBe(2);
    expect(t['failing']?.exitCode).toBe(128);
    expect(t['failing']?.reason).toMatch(/^exit code 128 \(StartError: .*exec: "python": executable file not found in \$PATH/);
    const created = emu.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/namespaces/default/pods');
    expect(created.length).toBeGreaterThanOrEqual(3);
  });

  it('pod_pipeline: a secret by reference, resources, and outputs from pod to pod to function', async () => {
    const run = await sys.client.trigger('pod_pipeline');
    const done = await sys.client.waitForRun('pod_pipeline', run.runId, { timeoutMs: 60_000, pollMs: 100 });
    expect(done.state).toBe('success');
    expect(await sys.client.getOutput('pod_pipeline', run.runId, 'extract')).toEqual({ rows: 2, orders: 42 });
    expect(await stdout('pod_pipeline', run.runId, 'transform')).toEqual(['42 orders in 2 rows']);
    expect(await sys.client.getOutput('pod_pipeline', run.runId, 'report')).toEqual({ average: 21 });
  });

  it('runInPod: command and function tasks run in pods of their own and come back as if run on a worker', async () => {
    const from = emu.requests.length;
    const run = await sys.client.trigger('in_pods');
    const done = await sys.client.waitForRun('in_pods', run.runId, { timeoutMs: 90_000, pollMs: 100 });
    const t = await tis('in_pods', run.runId);
    const ds = new Date(run.logicalDate).toISOString().slice(0, 10);
    expect(t['make']?.state).toBe('success');
    expect(await sys.client.getOutput('in_pods', run.runId, 'make')).toEqual({ n: 3, ds });
    expect(await stdout('in_pods', run.runId, 'make')).toEqual(['[info] making 3', 'plain print']);
    expect(t['make']?.pod).toMatch(/^default\//);
    expect(t['shell']?.state).toBe('success');
    expect(await stdout('in_pods', run.runId, 'shell')).toEqual(['n=3 on in_pods', '::aloft-output::{"ok": true}']);
    expect(await sys.client.getOutput('in_pods', run.runId, 'shell')).toEqual({ ok: true });
    expect(t['shell']?.podMemoryByTry).toEqual({ 1: '128Mi' });
    expect(t['pick']?.state).toBe('success');
    expect(t['yes']?.state).toBe('success');
    expect(t['no']?.state).toBe('skipped');
    expect(t['skipper']?.state).toBe('skipped');
    expect(t['thrower']?.state).toBe('failed');
    expect(t['thrower']?.reason).toBe('exit code 1');
    expect((await sys.client.getLog('in_pods', run.runId, 'thrower')).some((l) => /Error: bad input/.test(l.line))).toBe(true);
    expect(t['local']?.state).toBe('success');
    expect(t['local']?.pod).toBeUndefined();
    expect(done.state).toBe('failed');
    const creates = emu.requests.slice(from).filter((r) => r.method === 'POST' && r.status === 201).map((r) => r.name!);
    // make, shell, pick, skipper, thrower: five pods; empty and local tasks need none.
    expect(creates).toHaveLength(5);
  });

  it('runs pods to success, failure and skip, with logs, outputs and reasons in words', async () => {
    const run = await sys.client.trigger('pods');
    const done = await sys.client.waitForRun('pods', run.runId, { timeoutMs: 60_000, pollMs: 100 });
    expect(done.state).toBe('failed');
    const t = await tis('pods', run.runId);
    const ds = new Date(run.logicalDate).toISOString().slice(0, 10);

    expect(t['hello']?.state).toBe('success');
    expect(await stdout('pods', run.runId, 'hello')).toEqual([`hello ${ds}`, 'hi from pods']);
    expect(await sys.client.getOutput('pods', run.runId, 'hello')).toEqual({ rows: 3 });
    expect(t['marked']?.state).toBe('success');
    expect(await sys.client.getOutput('pods', run.runId, 'marked')).toEqual([1, 2]);

    expect(t['exit3']?.state).toBe('failed');
    expect(t['exit3']?.exitCode).toBe(3);
    expect(t['exit3']?.reason).toBe('exit code 3');
    expect(await stdout('pods', run.runId, 'exit3')).toEqual(['failing']);
    expect(t['skip42']?.state).toBe('skipped');

    expect(t['pull']?.state).toBe('failed');
    expect(t['pull']?.reason).toMatch(/^(ErrImagePull|ImagePullBackOff): container "base": .*does-not-exist\/image:1/);
    const pullLog = (await sys.client.getLog('pods', run.runId, 'pull')).map((l) => l.line);
    expect(pullLog.some((l) => /recent events of pod/.test(l))).toBe(true);

    expect(t['bad_image']?.state).toBe('failed');
    expect(t['bad_image']?.reason).toMatch(/^InvalidImageName: container "base": .*invalid reference format/);

    expect(t['unschedulable']?.state).toBe('failed');
    expect(t['unschedulable']?.reason).toBe('Unschedulable after 1 s (startup timeout): Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.');
    expect(t['unschedulable']?.detail).toBe('Pending: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.');
    expect(t['hello']?.pod).toMatch(/^default\/pods-hello-[0-9a-f]{10}-1$/);
    const pendingLog = (await sys.client.getLog('pods', run.runId, 'unschedulable')).map((l) => l.line);
    expect(pendingLog).toContain('pod pending: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.');

    expect(t['no_secret']?.state).toBe('failed');
    expect(t['no_secret']?.reason).toMatch(/^CreateContainerConfigError: container "base": .*secret "missing" not found/);
    expect(t['with_secret']?.state).toBe('success');
    expect(await stdout('pods', run.runId, 'with_secret')).toEqual([`got a password of ${SECRET_VALUE.length} characters`]);

    expect(t['sidecar']?.state).toBe('success');
    expect((await stdout('pods', run.runId, 'sidecar')).sort()).toEqual(['[base] from main', '[helper] from helper']);

    expect(t['crashing']?.state).toBe('failed');
    expect(t['crashing']?.reason).toMatch(/^CrashLoopBackOff: container "base": back-off 10s restarting failed container/);
    expect(t['evicted']?.state).toBe('failed');
    expect(t['evicted']?.reason).toMatch(/^Evicted: The node was low on resource: memory\./);
    expect(t['deadline']?.state).toBe('failed');
    expect(t['deadline']?.reason).toMatch(/^active deadline exceeded/);

    // Pods are named per try and deleted when done (onFinish: delete).
    await waitFor('pods deleted', async () => emu.podNames('default').length === 0, 15_000);
    expect(new Set(creates()).size).toBeGreaterThan(0);
  });

  it('a mapped pod task starts one pod per element of its upstream list, each once', async () => {
    const before = creates().length;
    const run = await sys.client.trigger('pod_mapped');
    const done = await sys.client.waitForRun('pod_mapped', run.runId, { timeoutMs: 60_000, pollMs: 100 });
    expect(done.state).toBe('success');
    for (const [i, shard] of ['a', 'b', 'c'].entries()) {
      const log = await sys.client.getLog('pod_mapped', run.runId, 'process', { mapIndex: i });
      expect(log.filter((l) => l.stream === 'stdout').map((l) => l.line)).toContain(`processing b1/${shard} as ${i}`);
    }
    expect(await sys.client.getOutput('pod_mapped', run.runId, 'process')).toEqual(['a-done', 'b-done', 'c-done']);
    // shards, then one pod per element; the three have names of their own.
    expect(creates().length - before).toBe(4);
    const pods = (await sys.client.listTaskInstances('pod_mapped', run.runId)).filter((t) => t.taskId === 'process' && t.mapIndex >= 0).map((t) => t.pod);
    expect(new Set(pods).size).toBe(3);
  });

  it('never puts a secret value in Redis, and refers to secrets only by name', async () => {
    const redis = sys.client.store.redis;
    const keys = await redis.keys('*');
    for (const k of keys) {
      const type = await redis.type(k);
      const dump =
        type === 'string' ? await redis.get(k)
        : type === 'hash' ? JSON.stringify(await redis.hgetall(k))
        : type === 'list' ? JSON.stringify(await redis.lrange(k, 0, -1))
        : type === 'stream' ? JSON.stringify(await redis.xrange(k, '-', '+'))
        : type === 'zset' ? JSON.stringify(await redis.zrange(k, 0, -1))
        : type === 'set' ? JSON.stringify(await redis.smembers(k))
        : '';
      expect(dump ?? '', k).not.toContain(SECRET_VALUE);
    }
  });

  it('retries an OOMKilled pod with more memory, recording the size of each try', async () => {
    const run = await sys.client.trigger('pod_oom');
    const done = await sys.client.waitForRun('pod_oom', run.runId, { timeoutMs: 60_000, pollMs: 100 });
    expect(done.state).toBe('failed');
    const ti = await sys.client.getTaskInstance('pod_oom', run.runId, 'hungry');
    expect(ti.try).toBe(3);
    expect(ti.reason).toMatch(/^OOMKilled/);
    const limits: string[] = [];
    for (const n of [1, 2, 3]) {
      const log = (await sys.client.getLog('pod_oom', run.runId, 'hungry', { try: n })).map((l) => l.line);
      const created = log.find((l) => l.startsWith('created pod'));
      limits.push(/memory limit (\S+)\)/.exec(created ?? '')?.[1] ?? '?');
    }
    // 64Mi, then ×1.5 = 96Mi, then capped at 100Mi; the task instance keeps each try's size.
    expect(limits).toEqual(['64Mi', '96Mi', '100Mi']);
    expect(ti.podMemoryByTry).toEqual({ 1: '64Mi', 2: '96Mi', 3: '100Mi' });
  });

  it('deletes a finished pod left behind for a try that is over', async () => {
    const run = await sys.client.trigger('pod_slow', { conf: { lines: 1, pause: 0 } });
    await sys.client.waitForRun('pod_slow', run.runId, { timeoutMs: 30_000, pollMs: 100 });
    const ti = await sys.client.getTaskInstance('pod_slow', run.runId, 'ticker');
    // As if a worker had died between recording the result and deleting the pod: the same
    // try's pod, finished, still there.
    const kc = new KubeConfig();
    kc.loadFromString(emu.kubeConfig());
    const name = `${ti.pod!.split('/')[1]}-left`;
    await kc.makeApiClient(CoreV1Api).createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: {
          name,
          labels: { 'aloft.dev/managed-by': 'aloft', 'aloft.dev/try': '1' },
          annotations: { 'aloft.dev/dag-id': 'pod_slow', 'aloft.dev/run-id': run.runId, 'aloft.dev/task-id': 'ticker', 'aloft.dev/map-index': '-1', 'aloft.dev/on-finish': 'delete' },
        },
        spec: { restartPolicy: 'Never', containers: [{ name: 'base', image: 'busybox:1.36', command: ['true'] }] },
      },
    });
    await waitFor('the left-behind pod to finish and be deleted', async () => !emu.podNames('default').includes(name), 15_000);
    const times = emu.phaseTimes('default', name);
    expect(times['Succeeded']).toBeDefined();
    expect(times['Deleted']).toBeGreaterThanOrEqual(times['Succeeded']!);
    expect(emu.requests.some((r) => r.method === 'DELETE' && r.path.endsWith(`/pods/${name}`))).toBe(true);
  });

  it('cancelling a run deletes its pod', async () => {
    const run = await sys.client.trigger('pod_slow', { conf: { lines: 100, pause: 0.2 } });
    await waitFor('the pod to run', async () => (await stdout('pod_slow', run.runId, 'ticker')).length >= 2);
    const name = emu.podNames('default')[0]!;
    await sys.client.cancelRun('pod_slow', run.runId);
    await waitFor('the pod to be deleted', async () => !emu.podNames('default').includes(name), 15_000);
    const ti = await sys.client.getTaskInstance('pod_slow', run.runId, 'ticker');
    expect(ti.state).toBe('failed');
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

  it('follows pods through one watch per namespace, resuming after drops and 410 Gone, without losing or repeating a log line', async () => {
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

  it('a worker killed mid-pod: the next worker adopts the same pod and its log goes on without a gap or a repeat', async () => {
    const run = await sys.client.trigger('pod_slow', { conf: { lines: 40, pause: 0.1 } });
    const ti = await waitFor('the pod to log', async () => {
      const t = await sys.client.getTaskInstance('pod_slow', run.runId, 'ticker');
      return t.state === 'running' && (await stdout('pod_slow', run.runId, 'ticker')).length >= 5 && t;
    });
    const holder = sys.services.find((s) => s.name === ti.worker)!;
    const createsBefore = creates().length;
    holder.child.kill('SIGKILL');
    await holder.exited;
    const done = await sys.client.waitForRun('pod_slow', run.runId, { timeoutMs: 90_000, pollMs: 200 });
    expect(done.state).toBe('success');
    const after = await sys.client.getTaskInstance('pod_slow', run.runId, 'ticker');
    expect(after.try).toBe(1);
    expect(after.worker).not.toBe(ti.worker);
    // The same pod, adopted: exactly one create succeeded for it; the new holder's got 409.
    const log = await sys.client.getLog('pod_slow', run.runId, 'ticker');
    expect(log.some((l) => /exists already .* following it/.test(l.line))).toBe(true);
    const podName = after.pod!.split('/')[1]!;
    const forPod = emu.requests.filter((r) => r.method === 'POST' && r.name === podName);
    expect(forPod.filter((r) => r.status === 201)).toHaveLength(1);
    expect(forPod.filter((r) => r.status === 409).length).toBeGreaterThanOrEqual(1);
    expect(creates().length - createsBefore).toBeLessThanOrEqual(1);
    expect(log.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(Array.from({ length: 40 }, (_, i) => `line ${i + 1}`));
    await sys.spawn('worker', `${ti.worker}-again`, { KUBECONFIG: kubeconfig });
  });
});

describe('500 pods at once on one worker', () => {
  let emu: Emulator;
  const dir = join(TMP, 'many');
  const sys = new System({ dagsFolder: dir, env: { ALOFT_WORKER_CONCURRENCY: '500', ALOFT_K8S_CREATE_CONCURRENCY: '32' } });

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
      180_000,
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
  });
});

describe.runIf(CLUSTER)('kubernetes_sample_pod on the cluster in KUBECONFIG', () => {
  const dir = join(TMP, 'cluster');
  const sys = new System({ dagsFolder: dir });
  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(ROOT, 'examples', 'dags', 'kubernetes_sample_pod.ts'), join(dir, 'kubernetes_sample_pod.ts'));
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker-cluster', { KUBECONFIG: CLUSTER! });
    await waitFor('the sample stored', async () => (await sys.client.listDags()).length >= 1, 60_000);
  });
  afterAll(() => sys.stop());

  it('passing prints hello world; failing fails with its exit code, retried once', async () => {
    const run = await sys.client.trigger('kubernetes_sample_pod');
    const done = await sys.client.waitForRun('kubernetes_sample_pod', run.runId, { timeoutMs: 600_000, pollMs: 1000 });
    expect(done.state).toBe('failed');
    const passing = await sys.client.getTaskInstance('kubernetes_sample_pod', run.runId, 'passing');
    expect(passing.state).toBe('success');
    const log = await sys.client.getLog('kubernetes_sample_pod', run.runId, 'passing');
    expect(log.filter((l) => l.stream === 'stdout').map((l) => l.line)).toContain('hello world');
    const failing = await sys.client.getTaskInstance('kubernetes_sample_pod', run.runId, 'failing');
    expect(failing.state).toBe('failed');
    expect(failing.try).toBe(2);
    expect(failing.reason).toMatch(/exit code \d+/);
  }, 900_000);
});

