import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kustomize, kustomizeWith, type Manifest } from './support/kubectl.js';
import { realKubeMissing, startRealKube, type RealKube } from './support/real-kube-stack.js';
import { ROOT, System, waitFor } from './support/system.js';

/**
 * The shipped manifests on a real Kubernetes API server (../shared/real-kube, v1.20.2,
 * a stack of this file's own): they apply as rendered by kubectl kustomize, and a worker
 * authenticated as the shipped ServiceAccount, configured by the shipped ConfigMap, runs
 * kubernetes_sample_pod as users get it with exactly the shipped Role.
 */
const K = join(ROOT, 'deploy', 'kubernetes');
const TMP = join(ROOT, '.test-results', `deploy-cluster-${process.pid}`);

/** KEDA is not installed on the test server: its ScaledObject kind, registered with an open schema so it applies. */
const SCALED_OBJECT_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'scaledobjects.keda.sh' },
  spec: {
    group: 'keda.sh',
    scope: 'Namespaced',
    names: { kind: 'ScaledObject', plural: 'scaledobjects', singular: 'scaledobject', listKind: 'ScaledObjectList' },
    versions: [
      { name: 'v1alpha1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } },
    ],
  },
};

/** Objects as kubectl reads them: JSON, so no YAML 1.1 reading turns "yes" into true. */
const listOf = (ms: object[]) => JSON.stringify({ apiVersion: 'v1', kind: 'List', items: ms });
/** policy/v1 PodDisruptionBudgets are served from Kubernetes 1.21 on; the test server is 1.20. */
const servedBy120 = (m: Manifest) => !(m.kind === 'PodDisruptionBudget' && m.apiVersion === 'policy/v1');

// Without the real-kube tools there is no API server to judge the manifests; say why.
const MISSING = realKubeMissing();
if (MISSING) console.warn(`deploy-cluster: skipped: ${MISSING}`);

describe.skipIf(MISSING !== undefined)('the shipped manifests on a real API server', () => {
  let kube: RealKube;
  let saKubeconfig: string;
  const dags = join(TMP, 'dags');
  const sys = new System({ dagsFolder: dags });
  let devApplied: string;

  beforeAll(async () => {
    mkdirSync(dags, { recursive: true });
    copyFileSync(join(ROOT, 'examples', 'dags', 'kubernetes_sample_pod.ts'), join(dags, 'kubernetes_sample_pod.ts'));
    // A task that wants a Secret the shipped allow-list (empty) does not grant.
    writeFileSync(
      join(dags, 'wants_payroll.ts'),
      `import { dag } from '@aloft/core';
const d = dag({ id: 'wants_payroll', schedule: null, defaultArgs: { retries: 2 } });
d.kubernetesPod({ id: 'read', image: 'busybox:1.36', cmds: ['sh', '-c', 'echo $PW'], secrets: [{ type: 'env', secret: 'payroll', key: 'password', envName: 'PW' }] });
`,
    );
    kube = await startRealKube();
    await kube.kubectl(['apply', '-f', '-'], { input: listOf([SCALED_OBJECT_CRD]) });
    await kube.kubectl(['wait', '--for=condition=Established', 'crd/scaledobjects.keda.sh', '--timeout=30s']);
    // The dev overlay, applied for real, then a worker as its ServiceAccount with its ConfigMap's settings for pods.
    const dev = kustomize(join(K, 'overlays', 'dev'));
    devApplied = await kube.kubectl(['apply', '-f', '-'], { input: listOf(dev) });
    const shipped = dev.find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'aloft-config')!['data'] as Record<string, string>;
    expect(shipped['ALOFT_TASK_POD_NAMESPACE']).toBe('aloft-tasks');
    saKubeconfig = await kube.serviceAccountKubeconfig('aloft', 'aloft-worker');
    const podSettings = Object.fromEntries(Object.entries(shipped).filter(([k]) => k.startsWith('ALOFT_TASK_POD_') || k.startsWith('ALOFT_POD_')));
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    // The ServiceAccount's token is the worker's only credential.
    await sys.spawn('worker', 'worker-sa', { ...podSettings, KUBECONFIG: saKubeconfig });
    await waitFor('the DAGs stored', async () => (await sys.client.listDags()).length === 2, 60_000);
  });
  afterAll(async () => {
    await sys.stop();
    await kube?.stop();
  });

  it('prod: every manifest the 1.20 server serves passes a server-side dry run', async () => {
    const prod = kustomize(join(K, 'overlays', 'prod'));
    const skipped = prod.filter((m) => !servedBy120(m)).map((m) => `${m.kind}/${m.metadata.name}`);
    expect(skipped).toEqual(['PodDisruptionBudget/aloft-dashboard', 'PodDisruptionBudget/aloft-scheduler', 'PodDisruptionBudget/aloft-worker']);
    // The namespaces first: a dry run creates nothing, so namespaced objects need them to exist.
    await kube.kubectl(['apply', '-f', '-'], { input: listOf(prod.filter((m) => m.kind === 'Namespace')) });
    const out = await kube.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: listOf(prod.filter(servedBy120)) });
    expect(out.trim().split('\n')).toHaveLength(prod.filter(servedBy120).length);
  });

  it('prod with the secrets-keys component: the worker with its keyring file and Secret volumes passes a server-side dry run', async () => {
    const keyed = kustomizeWith(join(K, 'overlays', 'prod'), [join(K, 'components', 'secrets-keys')], join(TMP, 'keys'));
    const worker = keyed.filter((m) => m.kind === 'Deployment' && m.metadata.name === 'aloft-worker');
    expect(JSON.stringify(worker)).toContain('aloft-secrets-keys');
    await kube.kubectl(['apply', '-f', '-'], { input: listOf(keyed.filter((m) => m.kind === 'Namespace')) });
    const out = await kube.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: listOf(worker) });
    expect(out).toContain('deployment.apps/aloft-worker');
  });

  it('dev: applies for real, and the workers’ ServiceAccount can do exactly what the Role grants', async () => {
    expect(devApplied).toContain('deployment.apps/aloft-worker created');
    expect(devApplied).toContain('rolebinding.rbac.authorization.k8s.io/aloft-worker created');
    expect(devApplied).toContain('scaledobject.keda.sh/aloft-worker created');
    const can = async (...args: string[]) =>
      (await kube.kubectl(['auth', 'can-i', ...args], { kubeconfig: saKubeconfig }).catch((e: { stdout?: string }) => e.stdout ?? '')).trim();
    expect(await can('create', 'pods', '-n', 'aloft-tasks')).toBe('yes');
    expect(await can('get', 'pods', '--subresource=log', '-n', 'aloft-tasks')).toBe('yes');
    expect(await can('create', 'pods', '-n', 'default')).toBe('no');
    expect(await can('get', 'secrets', '-n', 'aloft-tasks')).toBe('no');
    // Pods read aloft-conn-* and aloft-variables by reference; the worker itself never may.
    for (const verb of ['get', 'list', 'watch', 'create']) expect(await can(verb, 'secrets', '-n', 'aloft-tasks'), verb).toBe('no');
    expect(await can('get', 'secrets', '-n', 'aloft')).toBe('no');
    expect(await can('list', 'pods', '-n', 'aloft')).toBe('no');
  });

  it('kubernetes_sample_pod as shipped: passing prints hello world, failing fails after its retry, in aloft-tasks', async () => {
    const run = await sys.client.trigger('kubernetes_sample_pod');
    const done = await sys.client.waitForRun('kubernetes_sample_pod', run.runId, { timeoutMs: 120_000, pollMs: 200 });
    expect(done.state).toBe('failed');
    const tis = Object.fromEntries((await sys.client.listTaskInstances('kubernetes_sample_pod', run.runId)).map((t) => [t.taskId, t]));
    expect(tis['run_this_first']?.state).toBe('success');
    expect(tis['passing'], tis['passing']?.reason).toMatchObject({ state: 'success', try: 1 });
    expect(tis['passing']?.pod).toMatch(/^aloft-tasks\//);
    const log = await sys.client.getLog('kubernetes_sample_pod', run.runId, 'passing');
    expect(log.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['hello world']);
    expect(tis['failing']).toMatchObject({ state: 'failed', try: 2, exitCode: 128 });
    expect(tis['failing']?.reason).toMatch(/^exit code 128 .*"python": executable file not found/);
  });

  it('refuses a Secret outside ALOFT_POD_SECRET_ALLOWLIST: the task fails at once, saying which and why, and no pod is created', async () => {
    const run = await sys.client.trigger('wants_payroll');
    const done = await sys.client.waitForRun('wants_payroll', run.runId, { timeoutMs: 60_000, pollMs: 200 });
    expect(done.state).toBe('failed');
    const ti = await sys.client.getTaskInstance('wants_payroll', run.runId, 'read');
    expect(ti.try).toBe(1);
    expect(ti.reason).toBe(
      'dag "wants_payroll", task "read": the pod refers to Secret "payroll" (env PW of container base), which the worker\'s ALOFT_POD_SECRET_ALLOWLIST does not allow (allowed: none); the operator adds it there if task pods may use it',
    );
    const pods = await kube.kubectl(['-n', 'aloft-tasks', 'get', 'pods', '-l', 'aloft.dev/dag=wants_payroll', '-o', 'name']);
    expect(pods.trim()).toBe('');
  });

  it('the materialize-secrets component, applied: the workers may create, patch and delete Secrets in aloft-tasks, and still not get or list them', async () => {
    const role = kustomizeWith(join(K, 'overlays', 'dev'), [join(K, 'components', 'materialize-secrets')], join(TMP, 'materialize')).filter(
      (m) => m.metadata.name === 'aloft-worker-materialize-secrets',
    );
    expect(role.map((m) => m.kind).sort()).toEqual(['Role', 'RoleBinding']);
    await kube.kubectl(['apply', '-f', '-'], { input: listOf(role) });
    const can = async (...args: string[]) =>
      (await kube.kubectl(['auth', 'can-i', ...args], { kubeconfig: saKubeconfig }).catch((e: { stdout?: string }) => e.stdout ?? '')).trim();
    for (const verb of ['create', 'patch', 'delete']) expect(await can(verb, 'secrets', '-n', 'aloft-tasks'), verb).toBe('yes');
    for (const verb of ['get', 'list', 'watch']) expect(await can(verb, 'secrets', '-n', 'aloft-tasks'), verb).toBe('no');
    expect(await can('create', 'secrets', '-n', 'aloft')).toBe('no');
  });
});
