import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { TaskInstance } from '@aloft/core';
import { labelValue, podName } from '@aloft/worker/kubernetes/pod-spec';
import { PodHistory, REAL_KUBE } from './support/real-kube.js';
import { ROOT, System, waitFor } from './support/system.js';

/**
 * Pod tasks end to end, judged by a real Kubernetes API server: real-kube's etcd,
 * kube-apiserver, scheduler and controller-manager (v1.20.2) with its stand-in kubelet,
 * which runs each container as a local process (busybox pods have sh, echo, sleep, cat, true,
 * false; python pods the local python3). `node scripts/test.mjs` starts the stack and passes
 * its kubeconfig in ALOFT_TEST_KUBECONFIG; without it this tier is skipped, saying why.
 * Scheduler and workers are processes on a real redis-server.
 *
 * Everything the emulator and the real server both have is judged here. Left to the
 * emulator (tests/kubernetes-emulator.test.ts): 429 storms with Retry-After, a ResourceQuota
 * (real-kube runs no quota controller), counting every API request (no per-pod polling, 500
 * pods through one watch), and what a real kubelet never does to Aloft's pods (crash-looping
 * a restartPolicy Never pod, InvalidImageName from the stand-in).
 */
const TMP = join(ROOT, '.test-results', `k8s-real-${process.pid}`);
const SECRET_VALUE = 'sw0rdf1sh-never-in-redis';
const NS = 'default';

if (!REAL_KUBE.kubeconfig) {
  describe('kubernetesPod tasks on a real kube-apiserver (real-kube)', () => {
    it.skip(`skipped: ${REAL_KUBE.skipReason}`, () => undefined);
  });
}

describe.runIf(REAL_KUBE.kubeconfig)('kubernetesPod tasks on a real kube-apiserver (real-kube)', () => {
  const kubeconfig = REAL_KUBE.kubeconfig!;
  const kc = new KubeConfig();
  const api = () => kc.makeApiClient(CoreV1Api);
  let history: PodHistory;
  const dags = join(TMP, 'dags');
  const sys = new System({
    dagsFolder: dags,
    env: {
      ALOFT_KILL_GRACE_MS: '500',
      ALOFT_LOCK_MS: '2000',
      ALOFT_K8S_ORPHAN_SWEEP_MS: '500',
      ALOFT_WORKER_GRACE_MS: '1000',
      ALOFT_DAG_PARSE_TIMEOUT_MS: '120000',
    },
  });
  // Tasks with runInPod: the "task image" is this checkout, run with the local node.
  const workerEnv = {
    KUBECONFIG: kubeconfig,
    ALOFT_TASK_POD_IMAGE: 'aloft/aloft:test',
    ALOFT_TASK_POD_COMMAND: JSON.stringify([
      'node',
      '--conditions=aloft-source',
      '--import',
      join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs'),
      join(ROOT, 'apps', 'worker', 'src', 'run-task.ts'),
    ]),
    ALOFT_TASK_POD_DAGS_FOLDER: dags,
  };

  const tis = async (dagId: string, runId: string): Promise<Record<string, TaskInstance>> =>
    Object.fromEntries((await sys.client.listTaskInstances(dagId, runId)).map((t) => [t.taskId, t]));
  const stdout = async (dagId: string, runId: string, taskId: string, o: { try?: number; mapIndex?: number } = {}) =>
    (await sys.client.getLog(dagId, runId, taskId, o)).filter((l) => l.stream === 'stdout').map((l) => l.line);
  const system = async (dagId: string, runId: string, taskId: string) =>
    (await sys.client.getLog(dagId, runId, taskId)).filter((l) => l.stream === 'system').map((l) => l.line);
  /** Pods (by UID) the API server saw for a DAG, optionally one run's and one task's. */
  const podsOf = (dagId: string, runId?: string, taskId?: string) =>
    history.uids({
      'aloft.dev/dag': labelValue(dagId),
      ...(runId ? { 'aloft.dev/run': labelValue(runId) } : {}),
      ...(taskId ? { 'aloft.dev/task': labelValue(taskId) } : {}),
    });
  const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`);
  const holderOf = async (dagId: string, runId: string, taskId: string, minLines: number) =>
    waitFor(
      `${taskId} to log ${minLines} lines`,
      async () => {
        const t = await sys.client.getTaskInstance(dagId, runId, taskId);
        return t.state === 'running' && (await stdout(dagId, runId, taskId)).length >= minLines && t;
      },
      60_000,
    );

  beforeAll(async () => {
    kc.loadFromFile(kubeconfig);
    mkdirSync(dags, { recursive: true });
    const fixtures = join(ROOT, 'tests', 'fixtures', 'k8s-dags');
    for (const f of readdirSync(fixtures)) copyFileSync(join(fixtures, f), join(dags, f));
    for (const f of ['kubernetes_sample_pod.ts', 'pod_pipeline.ts']) copyFileSync(join(ROOT, 'examples', 'dags', f), join(dags, f));
    for (const [name, data] of [
      ['db', { password: SECRET_VALUE }],
      ['warehouse', { password: SECRET_VALUE }],
    ] as const) {
      await api()
        .createNamespacedSecret({ namespace: NS, body: { metadata: { name }, stringData: data } })
        .catch((err: { code?: number }) => {
          if (err.code !== 409) throw err;
        });
    }
    history = new PodHistory(kc, NS);
    await history.start();
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker-1', workerEnv);
    await sys.spawn('worker', 'worker-2', workerEnv);
    await waitFor('pod DAGs stored', async () => (await sys.client.listDags()).length >= 15, 180_000);
  }, 240_000);
  afterAll(async () => {
    history?.stop();
    await sys.stop();
    rmSync(TMP, { recursive: true, force: true });
  });

  it('kubernetes_sample_pod: passing prints hello world; failing (no python in ubuntu) fails with the reason, retried once', async () => {
    const run = await sys.client.trigger('kubernetes_sample_pod');
    const done = await sys.client.waitForRun('kubernetes_sample_pod', run.runId, { timeoutMs: 120_000, pollMs: 200 });
    expect(done.state).toBe('failed');
    const t = await tis('kubernetes_sample_pod', run.runId);
    expect(t['run_this_first']?.state).toBe('success');
    expect(t['passing']?.state).toBe('success');
    expect(await stdout('kubernetes_sample_pod', run.runId, 'passing')).toEqual(['hello world']);
    expect(t['failing']?.state).toBe('failed');
    expect(t['failing']?.try).toBe(2);
    expect(t['failing']?.exitCode).toBe(128);
    expect(t['failing']?.reason).toMatch(/^exit code 128 \(StartError: .*exec: "python": executable file not found in \$PATH/);
    // passing, and failing's two tries: one pod each.
    expect(podsOf('kubernetes_sample_pod', run.runId)).toHaveLength(3);
  }, 180_000);

  it('pod_pipeline: a secret by reference, resources, and outputs from pod to pod to function', async () => {
    const run = await sys.client.trigger('pod_pipeline');
    const done = await sys.client.waitForRun('pod_pipeline', run.runId, { timeoutMs: 120_000, pollMs: 200 });
    expect(done.state).toBe('success');
    expect(await sys.client.getOutput('pod_pipeline', run.runId, 'extract')).toEqual({ rows: 2, orders: 42 });
    expect(await stdout('pod_pipeline', run.runId, 'transform')).toEqual(['42 orders in 2 rows']);
    expect(await sys.client.getOutput('pod_pipeline', run.runId, 'report')).toEqual({ average: 21 });
  }, 180_000);

  it('runs pods to success, failure and skip, with logs, outputs and reasons in words', async () => {
    const run = await sys.client.trigger('pods');
    const done = await sys.client.waitForRun('pods', run.runId, { timeoutMs: 120_000, pollMs: 200 });
    expect(done.state).toBe('failed');
    const t = await tis('pods', run.runId);
    const ds = new Date(run.logicalDate).toISOString().slice(0, 10);

    expect(t['hello']?.state).toBe('success');
    expect(await stdout('pods', run.runId, 'hello')).toEqual([`hello ${ds}`, 'hi from pods']);
    expect(await sys.client.getOutput('pods', run.runId, 'hello')).toEqual({ rows: 3 });
    expect(t['hello']?.pod).toMatch(/^default\/pods-hello-[0-9a-f]{10}-1$/);
    expect(t['marked']?.state).toBe('success');
    expect(await sys.client.getOutput('pods', run.runId, 'marked')).toEqual([1, 2]);

    expect(t['exit3']?.state).toBe('failed');
    expect(t['exit3']?.exitCode).toBe(3);
    expect(t['exit3']?.reason).toBe('exit code 3');
    expect(await stdout('pods', run.runId, 'exit3')).toEqual(['failing']);
    expect(t['skip42']?.state).toBe('skipped');

    // A missing image fails at its first ErrImagePull, in words (a transient pull error waits: pod-outcome.test.ts).
    expect(t['pull']?.state).toBe('failed');
    expect(t['pull']?.reason).toMatch(/^ErrImagePull: container "base": the image does not exist: rpc error: code = NotFound .*does-not-exist\/image:1/);
    expect((await system('pods', run.runId, 'pull')).some((l) => /recent events of pod/.test(l))).toBe(true);

    expect(t['unschedulable']?.state).toBe('failed');
    expect(t['unschedulable']?.reason).toBe('Unschedulable after 3 s (startup timeout): Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.');
    expect(t['unschedulable']?.detail).toBe('Pending: Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.');
    expect(await system('pods', run.runId, 'unschedulable')).toContain('pod pending: Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.');

    expect(t['no_secret']?.state).toBe('failed');
    expect(t['no_secret']?.reason).toMatch(/^CreateContainerConfigError: container "base": .*secret "missing" not found/);
    expect(t['with_secret']?.state).toBe('success');
    expect(await stdout('pods', run.runId, 'with_secret')).toEqual([`got a password of ${SECRET_VALUE.length} characters`]);

    expect(t['sidecar']?.state).toBe('success');
    expect((await stdout('pods', run.runId, 'sidecar')).sort()).toEqual(['[base] from main', '[helper] from helper']);

    // The stand-in kubelet evicts every pod of this task: its try runs again in a new pod
    // ALOFT_POD_INFRA_REQUEUES (3) times without using a retry, then fails with the reason.
    expect(t['evicted']?.state).toBe('failed');
    expect(t['evicted']?.try).toBe(1);
    expect(t['evicted']?.reason).toMatch(/^Evicted: The node was low on resource: memory\./);
    expect(podsOf('pods', run.runId, 'evicted')).toHaveLength(4);
    expect(await system('pods', run.runId, 'evicted')).toContain("the cluster ended this try's pod 4 times; it fails (ALOFT_POD_INFRA_REQUEUES)");
    expect(t['deadline']?.state).toBe('failed');
    expect(t['deadline']?.reason).toMatch(/^active deadline exceeded: Pod was active on the node longer than the specified deadline/);

    // Pods are named per try and deleted when done (onFinish: delete).
    expect(podsOf('pods', run.runId)).toHaveLength(14);
    await waitFor(
      'the pods deleted',
      async () => (await api().listNamespacedPod({ namespace: NS, labelSelector: `aloft.dev/run=${labelValue(run.runId)}` })).items.length === 0,
      60_000,
    );
  }, 180_000);

  it('runInPod: command and function tasks run in pods of their own and come back as if run on a worker', async () => {
    const run = await sys.client.trigger('in_pods');
    const done = await sys.client.waitForRun('in_pods', run.runId, { timeoutMs: 150_000, pollMs: 200 });
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
    expect(t['yes']?.state).toBe('success');
    expect(t['no']?.state).toBe('skipped');
    expect(t['skipper']?.state).toBe('skipped');
    expect(t['thrower']?.state).toBe('failed');
    expect(t['thrower']?.reason).toBe('exit code 1');
    expect((await sys.client.getLog('in_pods', run.runId, 'thrower')).some((l) => /Error: bad input/.test(l.line))).toBe(true);
    expect(t['local']?.state).toBe('success');
    expect(t['local']?.pod).toBeUndefined();
    expect(done.state).toBe('failed');
    // make, shell, pick, skipper, thrower: five pods; empty and local tasks need none.
    expect(podsOf('in_pods', run.runId)).toHaveLength(5);
  }, 180_000);

  it('pod outputs over the 4 KiB termination-message limit: through the output line and from runInPod; a cut message is named', async () => {
    const run = await sys.client.trigger('pod_big_output');
    await sys.client.waitForRun('pod_big_output', run.runId, { timeoutMs: 120_000, pollMs: 200 });
    const t = await tis('pod_big_output', run.runId);
    const big = { rows: 'x'.repeat(6000) };
    expect(t['by_line']?.state).toBe('success');
    expect(await sys.client.getOutput('pod_big_output', run.runId, 'by_line')).toEqual(big);
    expect(t['in_pod']?.state).toBe('success');
    expect(await sys.client.getOutput('pod_big_output', run.runId, 'in_pod')).toEqual(big);
    expect(t['by_message']?.state).toBe('failed');
    expect(t['by_message']?.reason).toBe(
      'the termination message was cut at 4096 bytes by the kubelet, so it is not JSON; write outputs over 4 KiB as a "::aloft-output::<json>" line on stdout instead (with getLogs)',
    );
  }, 180_000);

  it('a mapped pod task starts one pod per element of its upstream list, each once', async () => {
    const run = await sys.client.trigger('pod_mapped');
    const done = await sys.client.waitForRun('pod_mapped', run.runId, { timeoutMs: 120_000, pollMs: 200 });
    expect(done.state).toBe('success');
    for (const [i, shard] of ['a', 'b', 'c'].entries()) {
      expect(await stdout('pod_mapped', run.runId, 'process', { mapIndex: i })).toContain(`processing b1/${shard} as ${i}`);
    }
    expect(await sys.client.getOutput('pod_mapped', run.runId, 'process')).toEqual(['a-done', 'b-done', 'c-done']);
    // shards, then one pod per element, each under a name of its own.
    expect(podsOf('pod_mapped', run.runId)).toHaveLength(4);
    const pods = (await sys.client.listTaskInstances('pod_mapped', run.runId)).filter((x) => x.taskId === 'process' && x.mapIndex >= 0).map((x) => x.pod);
    expect(new Set(pods).size).toBe(3);
  }, 180_000);

  it('retries an OOMKilled pod with more memory, recording the size of each try', async () => {
    const run = await sys.client.trigger('pod_oom');
    const done = await sys.client.waitForRun('pod_oom', run.runId, { timeoutMs: 120_000, pollMs: 200 });
    expect(done.state).toBe('failed');
    const ti = await sys.client.getTaskInstance('pod_oom', run.runId, 'hungry');
    expect(ti.try).toBe(3);
    expect(ti.reason).toBe('OOMKilled: container "base" ran out of memory (exit code 137)');
    const limits: string[] = [];
    for (const n of [1, 2, 3]) {
      const created = (await sys.client.getLog('pod_oom', run.runId, 'hungry', { try: n })).map((l) => l.line).find((l) => l.startsWith('created pod'));
      limits.push(/memory limit (\S+)\)/.exec(created ?? '')?.[1] ?? '?');
    }
    // 64Mi, then ×1.5 = 96Mi, then capped at 100Mi; the task instance keeps each try's size.
    expect(limits).toEqual(['64Mi', '96Mi', '100Mi']);
    expect(ti.podMemoryByTry).toEqual({ 1: '64Mi', 2: '96Mi', 3: '100Mi' });
  }, 180_000);

  it('never puts a secret value in Redis, and refers to secrets only by name', async () => {
    const redis = sys.client.store.redis;
    const keys = await redis.keys('*');
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      const type = await redis.type(k);
      const dump =
        type === 'string'
          ? await redis.get(k)
          : type === 'hash'
            ? JSON.stringify(await redis.hgetall(k))
            : type === 'list'
              ? JSON.stringify(await redis.lrange(k, 0, -1))
              : type === 'stream'
                ? JSON.stringify(await redis.xrange(k, '-', '+'))
                : type === 'zset'
                  ? JSON.stringify(await redis.zrange(k, 0, -1))
                  : type === 'set'
                    ? JSON.stringify(await redis.smembers(k))
                    : '';
      expect(dump ?? '', k).not.toContain(SECRET_VALUE);
    }
  });

  it('deletes a finished pod left behind for a try that is over', async () => {
    const run = await sys.client.trigger('pod_slow', { conf: { lines: 1, pause: 0 } });
    await sys.client.waitForRun('pod_slow', run.runId, { timeoutMs: 60_000, pollMs: 200 });
    const ti = await sys.client.getTaskInstance('pod_slow', run.runId, 'ticker');
    // As if a worker had died between recording the result and deleting the pod: the same
    // try's pod, finished, still there.
    const name = `${ti.pod!.split('/')[1]}-left`;
    const left = await api().createNamespacedPod({
      namespace: NS,
      body: {
        metadata: {
          name,
          labels: { 'aloft.dev/managed-by': 'aloft', 'aloft.dev/try': '1' },
          annotations: {
            'aloft.dev/dag-id': 'pod_slow',
            'aloft.dev/run-id': run.runId,
            'aloft.dev/task-id': 'ticker',
            'aloft.dev/map-index': '-1',
            'aloft.dev/on-finish': 'delete',
          },
        },
        spec: { restartPolicy: 'Never', containers: [{ name: 'base', image: 'busybox:1.36', command: ['true'] }] },
      },
    });
    await waitFor('the left-behind pod to finish and be deleted', async () => !(await history.exists(name)), 60_000);
    // The API server answers 404 before the watch has delivered the deletion; wait for the watch.
    await waitFor('the watch to see the deletion', async () => history.of(left.metadata!.uid!).some((s) => s.type === 'DELETED'), 30_000);
    const seen = history.of(left.metadata!.uid!);
    const succeeded = seen.findIndex((s) => s.phase === 'Succeeded');
    expect(succeeded).toBeGreaterThanOrEqual(0);
    expect(seen.findIndex((s) => s.deleting || s.type === 'DELETED')).toBeGreaterThan(succeeded);
  }, 120_000);

  it('cancelling a run deletes its pod', async () => {
    const run = await sys.client.trigger('pod_slow', { conf: { lines: 100, pause: 0.2 } });
    const ti = await holderOf('pod_slow', run.runId, 'ticker', 2);
    const name = ti.pod!.split('/')[1]!;
    await sys.client.cancelRun('pod_slow', run.runId);
    await waitFor('the pod to be deleted', async () => !(await history.exists(name)), 60_000);
    await waitFor('the watch to see the deletion', async () => history.seen.some((s) => s.name === name && s.type === 'DELETED'), 30_000);
    expect((await sys.client.getTaskInstance('pod_slow', run.runId, 'ticker')).state).toBe('failed');
    expect(history.seen.some((s) => s.name === name && s.deleting)).toBe(true);
  }, 120_000);

  it('a pod of the same name that is being deleted is never adopted nor its exit read: the try starts a pod of its own', async () => {
    const gate = join(TMP, `gate-${Date.now()}`);
    const run = await sys.client.trigger('pod_gate', { conf: { gate } });
    const name = podName({ dagId: 'pod_gate', runId: run.runId, taskId: 'work', mapIndex: -1, tryNumber: 1 });
    // An earlier claim's pod under the try's name, looking like the try's first generation,
    // deleted but still terminating: it ignores SIGTERM and would end with exit 143.
    const old = await api().createNamespacedPod({
      namespace: NS,
      body: {
        metadata: {
          name,
          labels: {
            'aloft.dev/managed-by': 'aloft',
            'aloft.dev/dag': 'pod_gate',
            'aloft.dev/run': labelValue(run.runId),
            'aloft.dev/task': 'work',
            'aloft.dev/try': '1',
          },
          annotations: {
            'aloft.dev/dag-id': 'pod_gate',
            'aloft.dev/run-id': run.runId,
            'aloft.dev/task-id': 'work',
            'aloft.dev/map-index': '-1',
            'aloft.dev/pod-generation': '1',
          },
        },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: 'base',
              image: 'busybox:1.36',
              command: ['sh', '-c', 'trap "" TERM; echo "old pod"; echo \'{"old": true}\' > "$TERMINATION_MESSAGE_PATH"; sleep 8; exit 143'],
            },
          ],
        },
      },
    });
    await waitFor('the old pod to run', async () => history.of(old.metadata!.uid!).some((s) => s.phase === 'Running'), 60_000);
    await api().deleteNamespacedPod({ name, namespace: NS });
    await waitFor('the old pod to be terminating', async () => history.of(old.metadata!.uid!).some((s) => s.deleting), 30_000);
    writeFileSync(gate, '');
    const done = await sys.client.waitForRun('pod_gate', run.runId, { timeoutMs: 120_000, pollMs: 200 });
    const ti = await sys.client.getTaskInstance('pod_gate', run.runId, 'work');
    expect(ti.state).toBe('success');
    expect(done.state).toBe('success');
    expect(ti.try).toBe(1);
    expect(ti.exitCode).toBe(0);
    expect(await sys.client.getOutput('pod_gate', run.runId, 'work')).toEqual({ new: true });
    expect(await stdout('pod_gate', run.runId, 'work')).toEqual(['new pod']);
    expect(ti.pod).toBe(`${NS}/${name}-g2`);
    expect(await system('pod_gate', run.runId, 'work')).toContain(
      `pod ${NS}/${name} is being deleted, so it is not followed and its exit is not this try's; starting pod generation 2`,
    );
    // Two pods for the try: the old one, never followed, and the try's own.
    expect(podsOf('pod_gate', run.runId, 'work')).toHaveLength(2);
  }, 180_000);

  /** Stops the worker that holds a ticker pod mid-run; returns the run and its holder before and after. */
  const stopHolderMidPod = async (signal: 'SIGTERM' | 'SIGKILL', n: number) => {
    const run = await sys.client.trigger('pod_slow', { conf: { lines: n, pause: 0.1 } });
    const before = await holderOf('pod_slow', run.runId, 'ticker', 5);
    await sys.services.find((s) => s.name === before.worker)!.kill(signal);
    const done = await sys.client.waitForRun('pod_slow', run.runId, { timeoutMs: 120_000, pollMs: 200 });
    const after = await sys.client.getTaskInstance('pod_slow', run.runId, 'ticker');
    await sys.spawn('worker', `${before.worker}-again`, workerEnv);
    return { run, done, before, after };
  };

  it('a worker stopped with SIGTERM hands its pod back: the next worker adopts the same pod and the try succeeds with every log line once', async () => {
    const { run, done, before, after } = await stopHolderMidPod('SIGTERM', 60);
    expect(done.state).toBe('success');
    expect(after.try).toBe(1);
    expect(after.worker).not.toBe(before.worker);
    expect(after.pod).toBe(before.pod);
    expect(await stdout('pod_slow', run.runId, 'ticker')).toEqual(lines(60));
    // Exactly one pod for the try, the same UID from start to Succeeded, never deleted before it ended.
    const uids = podsOf('pod_slow', run.runId, 'ticker');
    expect(uids).toHaveLength(1);
    const seen = history.of(uids[0]!);
    const succeeded = seen.findIndex((s) => s.phase === 'Succeeded');
    expect(succeeded).toBeGreaterThanOrEqual(0);
    expect(seen.slice(0, succeeded).some((s) => s.deleting)).toBe(false);
    expect((await system('pod_slow', run.runId, 'ticker')).some((l) => /exists already .* following it/.test(l))).toBe(true);
  }, 180_000);

  it('a worker killed mid-pod: the next worker adopts the same pod and its log goes on without a gap or a repeat', async () => {
    const { run, done, before, after } = await stopHolderMidPod('SIGKILL', 40);
    expect(done.state).toBe('success');
    expect(after.try).toBe(1);
    expect(after.worker).not.toBe(before.worker);
    expect((await system('pod_slow', run.runId, 'ticker')).some((l) => /exists already .* following it/.test(l))).toBe(true);
    expect(podsOf('pod_slow', run.runId, 'ticker')).toHaveLength(1);
    expect(await stdout('pod_slow', run.runId, 'ticker')).toEqual(lines(40));
  }, 180_000);

  it('rides out a crashed API server and a cut log stream: watches resume (410 Gone: list again), no log line lost or repeated', async () => {
    const run = await sys.client.trigger('pod_slow_drop', { conf: { lines: 40, pause: 0.25 } });
    const ti = await holderOf('pod_slow_drop', run.runId, 'ticker', 3);
    REAL_KUBE.restart('kube-apiserver', 'KILL');
    const done = await sys.client.waitForRun('pod_slow_drop', run.runId, { timeoutMs: 120_000, pollMs: 200 });
    expect(done.state).toBe('success');
    expect(await stdout('pod_slow_drop', run.runId, 'ticker')).toEqual(lines(40));
    expect((await system('pod_slow_drop', run.runId, 'ticker')).some((l) => /^log stream of base dropped/.test(l))).toBe(true);
    const log = readFileSync(join(ROOT, '.test-results', 'logs', `${sys.prefix}-${ti.worker}.log`), 'utf8');
    expect(log).toMatch(/pod watch (dropped; resuming|expired \(410 Gone\); listing again)/);
  }, 180_000);
});
