import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as keda from '@kubernetes-models/keda';
import * as k8s from 'kubernetes-models';
import { POD_EXECUTOR_API_CALLS } from '@aloft/worker/kubernetes/executor';
import { MATERIALIZE_SECRETS_API_CALLS } from '@aloft/worker/kubernetes/pod-secret-materializer';
import { containersOf, kustomize, kustomizeVersion, kustomizeWith, podSpecOf, type Manifest } from './support/kubectl.js';
import { ROOT } from './support/system.js';
import { DASHBOARD_VARIABLES } from '@aloft/dashboard/config';
import { SCHEDULER_VARIABLES } from '@aloft/scheduler/config';
import { WORKER_VARIABLES } from '@aloft/worker/config';

/**
 * The deploy manifests as users get them: rendered by the real kustomize (`kubectl
 * kustomize`, what `kubectl apply -k` runs), validated against the Kubernetes API schemas
 * shipped by kubernetes-models, and held to the rules below (namespaces, non-root containers,
 * least-privilege RBAC, configuration the apps read). Applying them to a real API server is
 * tests/deploy-cluster.test.ts.
 */
const K = join(ROOT, 'deploy', 'kubernetes');
const renders: Record<string, Manifest[]> = {};
const renderErrors: Record<string, string> = {};

beforeAll(() => {
  kustomizeVersion();
  for (const [name, dir] of [
    ['base', 'base'],
    ['dev', 'overlays/dev'],
    ['prod', 'overlays/prod'],
  ] as const) {
    try {
      renders[name] = kustomize(join(K, dir));
    } catch (err) {
      renderErrors[name] = String((err as { stderr?: string }).stderr || err);
    }
  }
});
const APPS = ['aloft-scheduler', 'aloft-worker', 'aloft-dashboard'];
/** Helpers the manifests use to compose REDIS_URL; not read by the apps themselves. */
const COMPOSE_ONLY = ['REDIS_PASSWORD', 'ALOFT_REDIS_HOST'];
/** Every variable an app reads: the union of the apps' config schemas. */
const CONFIG_VARIABLES = [...new Set([...SCHEDULER_VARIABLES, ...WORKER_VARIABLES, ...DASHBOARD_VARIABLES])];

/** The model class of a manifest's apiVersion and kind, from kubernetes-models (or KEDA's). */
function modelOf(m: Manifest): (new (o: unknown) => { validate(): void }) | undefined {
  const [group, version] = m.apiVersion.includes('/') ? m.apiVersion.split('/') : ['', m.apiVersion];
  // The packages export groups camel-cased: rbac.authorization.k8s.io -> rbacAuthorizationK8sIo.
  const camel = group!
    .split('.')
    .map((p, i) => (i === 0 ? p : p[0]!.toUpperCase() + p.slice(1)))
    .join('');
  const lib = (group === 'keda.sh' ? keda : k8s) as Record<string, any>;
  const mod = group === '' ? lib[version!] : lib[camel]?.[version!];
  return mod?.[m.kind];
}

describe('deploy manifests', () => {
  for (const name of ['base', 'dev', 'prod'] as const) {
    it(`${name}: kubectl kustomize renders it`, () => {
      expect(renderErrors[name]).toBeUndefined();
      expect(renders[name]!.length).toBeGreaterThan(5);
    });

    it(`${name}: every manifest validates against the API schema of its kind`, () => {
      const ms = renders[name]!;
      expect(ms.length).toBeGreaterThan(5);
      for (const m of ms) {
        const Model = modelOf(m);
        expect(Model, `${m.apiVersion} ${m.kind} has a schema`).toBeDefined();
        expect(() => new Model!(m).validate(), `${m.kind} ${m.metadata.name}`).not.toThrow();
      }
    });

    it(`${name}: every Service selects pods that exist, every namespaced object names its namespace`, () => {
      const ms = renders[name]!;
      const pods = ms
        .filter((m) => podSpecOf(m))
        .map((m) => ({ ns: m.metadata.namespace, labels: m['spec'].template.metadata.labels as Record<string, string> }));
      for (const svc of ms.filter((m) => m.kind === 'Service')) {
        const sel = svc['spec'].selector as Record<string, string>;
        const match = pods.filter((p) => p.ns === svc.metadata.namespace && Object.entries(sel).every(([k, v]) => p.labels[k] === v));
        expect(match.length, `Service ${svc.metadata.name}`).toBeGreaterThan(0);
      }
      for (const m of ms.filter((x) => x.kind !== 'Namespace')) expect(m.metadata.namespace, `${m.kind} ${m.metadata.name}`).toMatch(/^aloft(-tasks)?$/);
    });

    it(`${name}: no container runs as root or privileged`, () => {
      const ms = renders[name]!;
      for (const m of ms.filter((x) => podSpecOf(x))) {
        const pod = podSpecOf(m);
        expect(pod.securityContext?.runAsNonRoot, m.metadata.name).toBe(true);
        expect(pod.securityContext?.runAsUser, m.metadata.name).toBeGreaterThan(0);
        for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
          expect(c.securityContext?.privileged ?? false, c.name).toBe(false);
          expect(c.securityContext?.allowPrivilegeEscalation, c.name).toBe(false);
          expect(c.securityContext?.runAsUser ?? 1, c.name).not.toBe(0);
        }
      }
    });

    it(`${name}: the apps get REDIS_URL, and set only variables they read`, () => {
      const ms = renders[name]!;
      const config = ms.find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'aloft-config')!;
      for (const m of ms.filter((x) => APPS.includes(x.metadata.name) && x.kind === 'Deployment')) {
        for (const c of podSpecOf(m).containers) {
          const names = [...(c.env ?? []).map((e: { name: string }) => e.name), ...Object.keys(config['data'])];
          expect(names, m.metadata.name).toContain('REDIS_URL');
          for (const n of names) expect([...CONFIG_VARIABLES, ...COMPOSE_ONLY], `${m.metadata.name} sets ${n}`).toContain(n);
        }
      }
    });
  }

  it('the workers’ Role grants exactly the API calls the pod executor makes, and nothing on secrets', () => {
    const role = renders['base']!.find((m) => m.kind === 'Role' && m.metadata.name === 'aloft-worker')!;
    const granted = (role['rules'] as { apiGroups: string[]; resources: string[]; verbs: string[] }[]).flatMap((r) =>
      r.resources.flatMap((res) => r.verbs.map((v) => `${res}:${v}`)),
    );
    const used = POD_EXECUTOR_API_CALLS.flatMap((c) => c.verbs.map((v) => `${c.resource}:${v}`));
    expect(granted.sort()).toEqual([...used].sort());
    expect(granted.some((g) => g.startsWith('secrets'))).toBe(false);
    for (const ms of Object.values(renders)) {
      expect(ms.some((m) => m.kind === 'ClusterRoleBinding' || m.kind === 'ClusterRole')).toBe(false);
    }
  });

  it('the materialize-secrets component: a Role of its own with exactly the calls the materializer makes, in the task namespace', () => {
    const with_ = kustomizeWith(
      join(K, 'overlays', 'prod'),
      [join(K, 'components', 'materialize-secrets')],
      join(ROOT, '.test-results', `kustomize-materialize-${process.pid}`),
    );
    const role = with_.find((m) => m.kind === 'Role' && m.metadata.name === 'aloft-worker-materialize-secrets')!;
    expect(role.metadata.namespace).toBe('aloft-tasks');
    const granted = (role['rules'] as { resources: string[]; verbs: string[] }[]).flatMap((r) =>
      r.resources.flatMap((res) => r.verbs.map((v) => `${res}:${v}`)),
    );
    expect(granted.sort()).toEqual(MATERIALIZE_SECRETS_API_CALLS.flatMap((c) => c.verbs.map((v) => `${c.resource}:${v}`)).sort());
    const binding = with_.find((m) => m.kind === 'RoleBinding' && m.metadata.name === 'aloft-worker-materialize-secrets')!;
    expect(binding['subjects']).toEqual([{ kind: 'ServiceAccount', name: 'aloft-worker', namespace: 'aloft' }]);
    for (const m of with_) expect(() => new (modelOf(m)!)(m).validate(), `${m.kind} ${m.metadata.name}`).not.toThrow();
  });

  it('prod: two schedulers, several workers, disruption budgets, probes and resources on every container', () => {
    const byName = (n: string) => renders['prod']!.find((m) => m.metadata.name === n && m.kind !== 'PodDisruptionBudget' && podSpecOf(m))!;
    expect(byName('aloft-scheduler')['spec'].replicas).toBe(2);
    expect(byName('aloft-worker')['spec'].replicas).toBeGreaterThanOrEqual(2);
    expect(
      renders['prod']!.filter((m) => m.kind === 'PodDisruptionBudget')
        .map((m) => m.metadata.name)
        .sort(),
    ).toEqual(APPS.slice().sort());
    for (const c of containersOf(renders['prod']!)) {
      expect(c.readinessProbe, c.name).toBeDefined();
      expect(c.livenessProbe, c.name).toBeDefined();
      expect(c.resources?.requests?.memory, c.name).toBeDefined();
      expect(c.resources?.limits?.memory, c.name).toBeDefined();
    }
    // A stopping worker gets longer than its drain time.
    const worker = podSpecOf(byName('aloft-worker'));
    const config = renders['prod']!.find((m) => m.kind === 'ConfigMap')!;
    expect(worker.terminationGracePeriodSeconds * 1000).toBeGreaterThan(Number(config['data'].ALOFT_WORKER_GRACE_MS));
    const scaled = renders['prod']!.find((m) => m.kind === 'ScaledObject' && m['spec'].scaleTargetRef.name === 'aloft-worker')!;
    expect(scaled['spec'].minReplicaCount).toBe(4);
    expect(scaled['spec'].triggers[0].metadata.valueLocation).toBe('queues.default.waiting');
  });

  it('the worker reads connections and variables from optional Secret volumes, and the store keys from a file when the component is added', () => {
    const worker = (ms: Manifest[]) => podSpecOf(ms.find((m) => m.kind === 'Deployment' && m.metadata.name === 'aloft-worker')!);
    const c = worker(renders['prod']!).containers[0];
    const dir = c.env.find((e: { name: string }) => e.name === 'ALOFT_SECRETS_DIR').value as string;
    const secretVolumes = (spec: any) => Object.fromEntries(spec.volumes.filter((v: any) => v.secret).map((v: any) => [v.name, v.secret]));
    const mountOf = (cont: any, name: string) => cont.volumeMounts.find((m: { name: string }) => m.name === name);
    for (const [vol, secret] of [
      ['connections', 'aloft-connections'],
      ['variables', 'aloft-variables'],
    ]) {
      // Optional: a bare install, with neither Secret, starts and reads empty folders.
      expect(secretVolumes(worker(renders['prod']!))[vol!]).toMatchObject({ secretName: secret, optional: true });
      expect(mountOf(c, vol!)).toMatchObject({ mountPath: `${dir}/${vol}`, readOnly: true });
    }
    expect(c.env.some((e: { name: string }) => e.name.startsWith('ALOFT_SECRETS_KEYS'))).toBe(false);

    // An overlay of the user's with the secrets-keys component.
    const keyed = kustomizeWith(
      join(K, 'overlays', 'prod'),
      [join(K, 'components', 'secrets-keys')],
      join(ROOT, '.test-results', `kustomize-keys-${process.pid}`),
    );
    const kc = worker(keyed).containers[0];
    const file = kc.env.find((e: { name: string }) => e.name === 'ALOFT_SECRETS_KEYS_FILE').value as string;
    const mount = kc.volumeMounts.find((m: { mountPath: string }) => file.startsWith(`${m.mountPath}/`));
    expect(secretVolumes(worker(keyed))[mount.name]).toMatchObject({ secretName: 'aloft-secrets-keys' });
    expect(mount.readOnly).toBe(true);
    for (const m of keyed) {
      const Model = modelOf(m);
      expect(() => new Model!(m).validate(), `${m.kind} ${m.metadata.name}`).not.toThrow();
    }
  });

  it('dev: one replica each, the dev image tag', () => {
    for (const n of APPS) {
      const d = renders['dev']!.find((m) => m.kind === 'Deployment' && m.metadata.name === n)!;
      expect(d['spec'].replicas, n).toBe(1);
      expect(podSpecOf(d).containers[0].image, n).toBe('aloft/aloft:dev');
    }
    expect(renders['dev']!.find((m) => m.kind === 'ScaledObject')!['spec']).toMatchObject({ minReplicaCount: 1, maxReplicaCount: 2 });
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const lines = text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));

  it('pins its base image to a full version, and runs as a non-root user', () => {
    const base = /^ARG NODE_IMAGE=(\S+)/m.exec(text)?.[1] ?? '';
    expect(base).toMatch(/^node:\d+\.\d+\.\d+-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/);
    for (const from of lines.filter((l) => l.startsWith('FROM '))) expect(from).not.toMatch(/:latest\b/);
    const stages = text.split(/^FROM /m);
    const final = stages.at(-1)!;
    const user = /^USER (\S+)/m.exec(final)?.[1];
    expect(user).toBeDefined();
    expect(user!.split(':')[0]).not.toMatch(/^(0|root)$/);
  });

  it('puts no secrets in layers and builds from a context without them', () => {
    for (const l of lines.filter((x) => /^(ENV|ARG) /.test(x))) expect(l).not.toMatch(/(PASSWORD|SECRET|TOKEN|API_KEY)\s*=/i);
    for (const l of lines.filter((x) => /^(COPY|ADD) /.test(x))) expect(l).not.toMatch(/\.env|\.pem|\.key|kubeconfig|id_rsa/);
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
    for (const p of ['**/node_modules', '.git', '**/.env', '**/*.pem', '.data']) expect(ignore).toContain(p);
  });

  it('installs and copies every workspace package but the tests', () => {
    const workspace = ['apps', 'packages'].flatMap((group) =>
      readdirSync(join(ROOT, group))
        .filter((name) => existsSync(join(ROOT, group, name, 'package.json')))
        .map((name) => `${group}/${name}`),
    );
    expect(workspace).toContain('packages/sdk');
    const [deps, runtime] = text.split(/^FROM /m).slice(1);
    const copied = (stage: string) => [...stage.matchAll(/^COPY (?:--\S+ )*(\S+) /gm)].map((m) => m[1]!.replace(/\/$/, ''));
    for (const pkg of workspace) {
      expect(copied(deps!), `deps stage: ${pkg}/package.json`).toContain(`${pkg}/package.json`);
      expect(
        copied(runtime!).some((src) => src === pkg || src === pkg.split('/')[0]),
        `runtime stage: ${pkg}`,
      ).toBe(true);
    }
    // tests/ is a workspace package too, and stays out of the image: a frozen install of the
    // production dependencies does not need its manifest.
    expect(readFileSync(join(ROOT, 'pnpm-workspace.yaml'), 'utf8')).toMatch(/^\s+- tests$/m);
    expect([...copied(deps!), ...copied(runtime!)].filter((src) => src === 'tests' || src.startsWith('tests/'))).toEqual([]);
  });

  it('serves every component and task pods through one entrypoint', () => {
    const entry = readFileSync(join(ROOT, 'deploy', 'docker', 'entrypoint.sh'), 'utf8');
    for (const c of ['scheduler', 'worker', 'dashboard', 'run-task', 'aloft']) expect(entry).toMatch(new RegExp(`^\\s+${c}\\) shift; run `, 'm'));
    expect(text).toContain('ENTRYPOINT ["/usr/local/bin/aloft-entrypoint"]');
  });
});
