import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { REAL_KUBE } from './support/real-kube.js';
import { ROOT, System, waitFor } from './support/system.js';

/**
 * Connections and variables in pods, judged by a real kube-apiserver (real-kube): the pod
 * spec the API server stores holds secretKeyRefs to aloft-conn-<name> and aloft-variables,
 * never a value; the stand-in kubelet resolves them as a kubelet does, so the container sees
 * the values; and what a runInPod task prints of them is masked by run-task in the pod.
 */
const TMP = join(ROOT, '.test-results', `k8s-secrets-${process.pid}`);
const NS = 'default';
const PASSWORD = 'Pod-s3cret/pw';
const URI = `postgres://etl:${encodeURIComponent(PASSWORD)}@db.internal:5432/wh`;
/** The worker's own value of the same connection, which only a materialised Secret carries to a pod. */
const WORKER_PASSWORD = 'w0rker-side-pw';

if (!REAL_KUBE.kubeconfig) {
  describe('connections and variables in pods (real-kube)', () => {
    it.skip(`skipped: ${REAL_KUBE.skipReason}`, () => undefined);
  });
}

describe.runIf(REAL_KUBE.kubeconfig)('connections and variables in pods (real-kube)', () => {
  const kubeconfig = REAL_KUBE.kubeconfig!;
  const kc = new KubeConfig();
  const api = () => kc.makeApiClient(CoreV1Api);
  const dags = join(TMP, 'dags');
  const sys = new System({ dagsFolder: dags, env: { ALOFT_KILL_GRACE_MS: '500', ALOFT_DAG_PARSE_TIMEOUT_MS: '120000' } });
  let runId = '';

  beforeAll(async () => {
    kc.loadFromFile(kubeconfig);
    mkdirSync(dags, { recursive: true });
    const fixtures = join(ROOT, 'tests', 'fixtures', 'k8s-secret-dags');
    for (const f of readdirSync(fixtures)) copyFileSync(join(fixtures, f), join(dags, f));
    const secrets = {
      'aloft-conn-warehouse': { uri: URI, host: 'db.internal', port: '5432', login: 'etl', password: PASSWORD, schema: 'wh', type: 'postgres' },
      'aloft-variables': { region: 'eu-west-1' },
    };
    for (const [name, stringData] of Object.entries(secrets)) {
      await api()
        .deleteNamespacedSecret({ name, namespace: NS })
        .catch(() => undefined);
      await api().createNamespacedSecret({ namespace: NS, body: { metadata: { name }, stringData } });
    }
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker', {
      KUBECONFIG: kubeconfig,
      // Task pods may read Aloft's Secrets and nothing else.
      ALOFT_POD_SECRET_ALLOWLIST: 'aloft-conn-*,aloft-variables',
      ALOFT_CONN_WAREHOUSE: `postgres://etl:${WORKER_PASSWORD}@db.internal:5432/wh`,
      ALOFT_TASK_POD_IMAGE: 'aloft/aloft:test',
      ALOFT_TASK_POD_COMMAND: JSON.stringify([
        'node',
        '--conditions=aloft-source',
        '--import',
        join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs'),
        join(ROOT, 'apps', 'worker', 'src', 'run-task.ts'),
      ]),
      ALOFT_TASK_POD_DAGS_FOLDER: dags,
    });
    await waitFor('pod_secrets stored', async () => (await sys.client.listDags()).some((d) => d.dag.id === 'pod_secrets'), 180_000);
    runId = (await sys.client.trigger('pod_secrets')).runId;
    await sys.client.waitForRun('pod_secrets', runId, { timeoutMs: 150_000, pollMs: 200 });
  }, 360_000);
  afterAll(async () => {
    await sys.stop();
    for (const name of ['aloft-conn-warehouse', 'aloft-variables'])
      await api()
        .deleteNamespacedSecret({ name, namespace: NS })
        .catch(() => undefined);
    rmSync(TMP, { recursive: true, force: true });
  });

  const log = async (taskId: string) => (await sys.client.getLog('pod_secrets', runId, taskId)).map((l) => l.line);

  it('a kubernetesPod task gets secret.conn()/secret.variable() as secretKeyRefs, and its container sees the values', async () => {
    const ti = await sys.client.getTaskInstance('pod_secrets', runId, 'env_ref');
    expect(ti.state).toBe('success');
    expect((await sys.client.getLog('pod_secrets', runId, 'env_ref')).filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual([
      `password of ${PASSWORD.length} characters, host db.internal in eu-west-1`,
    ]);
    const [ns, name] = ti.pod!.split('/') as [string, string];
    const pod = await api().readNamespacedPod({ name, namespace: ns });
    const env = Object.fromEntries((pod.spec!.containers[0]!.env ?? []).map((e) => [e.name, e]));
    expect(env['PGPASSWORD']).toEqual({ name: 'PGPASSWORD', valueFrom: { secretKeyRef: { name: 'aloft-conn-warehouse', key: 'password' } } });
    expect(env['REGION']!.valueFrom!.secretKeyRef).toEqual({ name: 'aloft-variables', key: 'region' });
    expect(JSON.stringify(pod)).not.toContain(PASSWORD);
    await api()
      .deleteNamespacedPod({ name, namespace: ns })
      .catch(() => undefined);
  });

  it("materializeSecrets: the worker fills a Secret of the try's own with only what the pod names, owned by the pod and collected with it", async () => {
    const ti = await sys.client.getTaskInstance('pod_secrets', runId, 'materialized');
    expect(ti.state, ti.reason ?? '').toBe('success');
    // The worker read the value, so it masks it in the pod's log too.
    expect((await sys.client.getLog('pod_secrets', runId, 'materialized')).filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual([
      `length ${WORKER_PASSWORD.length}: ***`,
    ]);
    const [ns, name] = ti.pod!.split('/') as [string, string];
    const pod = await api().readNamespacedPod({ name, namespace: ns });
    const ref = pod.spec!.containers[0]!.env!.find((e) => e.name === 'PGPASSWORD')!.valueFrom!.secretKeyRef!;
    expect(ref).toEqual({ name: `${name}-secrets`, key: 'conn.warehouse.password' });
    const secretName = `${name}-secrets`;
    expect(JSON.stringify(pod)).not.toContain(WORKER_PASSWORD);
    const own = await api().readNamespacedSecret({ name: secretName, namespace: ns });
    expect(Object.keys(own.data ?? {})).toEqual(['conn.warehouse.password']);
    expect(own.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'Pod', name, uid: pod.metadata!.uid })]);
    await api().deleteNamespacedPod({ name, namespace: ns, gracePeriodSeconds: 0 });
    await waitFor(
      'the garbage collector to delete the Secret with its pod',
      () =>
        api()
          .readNamespacedSecret({ name: secretName, namespace: ns })
          .then(
            () => false,
            (err: { code?: number }) => err.code === 404,
          ),
      60_000,
    );
  }, 90_000);

  it('a Secret nobody created fails the task at once, naming it', async () => {
    const ti = await sys.client.getTaskInstance('pod_secrets', runId, 'absent');
    expect(ti.state).toBe('failed');
    expect(ti.reason).toMatch(/CreateContainerConfigError.*aloft-conn-absent/);
  });

  it('runInPod tasks get ALOFT_CONN_*/ALOFT_VAR_* by reference, and run-task masks them in the pod log and the output', async () => {
    const cmd = await sys.client.getTaskInstance('pod_secrets', runId, 'in_pod_cmd');
    expect(cmd.state, cmd.reason ?? '').toBe('success');
    expect(await log('in_pod_cmd')).toContain('pw=*** uri=*** region=***');
    const fn = await sys.client.getTaskInstance('pod_secrets', runId, 'in_pod_fn');
    expect(fn.state, fn.reason ?? '').toBe('success');
    expect(await sys.client.getOutput('pod_secrets', runId, 'in_pod_fn')).toEqual({ host: 'db.internal', password: '***', region: '***' });
    const lines = await log('in_pod_fn');
    expect(lines).toContain('login etl password ***');
    expect(lines).toContain('[info] uri ***');
    for (const t of ['env_ref', 'in_pod_cmd', 'in_pod_fn']) {
      const all = JSON.stringify(await sys.client.getLog('pod_secrets', runId, t));
      expect(all).not.toContain(PASSWORD);
      expect(all).not.toContain(encodeURIComponent(PASSWORD));
    }
  });
});
