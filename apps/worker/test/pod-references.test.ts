import { describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../src/config.js';
import { buildPod, type PodParams } from '../src/executors/kubernetes/pod-spec.js';
import { ALLOW_ALL_REFERENCES, podReferences, refusedReference } from '../src/executors/kubernetes/pod-references.js';

const id = { dagId: 'etl', runId: 'manual__1', taskId: 'extract', mapIndex: -1, tryNumber: 1 };
const pod = (p: Partial<PodParams>) =>
  buildPod({
    params: { namespace: 'jobs', image: 'busybox:1.36', onFinish: 'delete', getLogs: true, ...p },
    id,
    dagFile: '/dags/etl.ts',
    taskEnv: {},
    oomKills: 0,
  });

const every: Partial<PodParams> = {
  env: { A: { secretKeyRef: { name: 'env-secret', key: 'k' } }, B: { configMapKeyRef: { name: 'env-cm', key: 'k' } } },
  envFrom: [{ secretRef: { name: 'from-secret' } }, { configMapRef: { name: 'from-cm' } }],
  secrets: [
    { type: 'volume', secret: 'vol-secret', mountPath: '/s' },
    { type: 'env', secret: 'param-secret', key: 'k', envName: 'P' },
  ],
  volumes: [
    { name: 'cm', configMap: { name: 'vol-cm' } },
    { name: 'proj', projected: { sources: [{ secret: { name: 'proj-secret' } }, { configMap: { name: 'proj-cm' } }] } },
    { name: 'csi', csi: { driver: 'x', nodePublishSecretRef: { name: 'csi-secret' } } },
  ],
  sidecars: [{ name: 'side', image: 'busybox:1.36', envFrom: [{ secretRef: { name: 'side-secret' } }] }],
};

describe('pod references (ALOFT_POD_SECRET_ALLOWLIST, ALOFT_POD_CONFIGMAP_ALLOWLIST)', () => {
  it('finds every Secret and ConfigMap a pod refers to: env, envFrom, volumes, projected, CSI, sidecars', () => {
    const refs = podReferences(pod(every))
      .map((r) => `${r.kind}:${r.name}`)
      .sort();
    expect(refs).toEqual([
      'ConfigMap:env-cm',
      'ConfigMap:from-cm',
      'ConfigMap:proj-cm',
      'ConfigMap:vol-cm',
      'Secret:csi-secret',
      'Secret:env-secret',
      'Secret:from-secret',
      'Secret:param-secret',
      'Secret:proj-secret',
      'Secret:side-secret',
      'Secret:vol-secret',
    ]);
  });

  it('refuses a reference outside the list, naming the task, the reference and the setting', () => {
    const allow = { secrets: ['warehouse', 'etl-*'], configMaps: [] };
    expect(
      refusedReference(pod({ secrets: [{ type: 'env', secret: 'etl-db', key: 'password', envName: 'PW' }] }), allow, 'dag "etl", task "extract"'),
    ).toBeUndefined();
    expect(refusedReference(pod({ env: { PW: { secretKeyRef: { name: 'payroll', key: 'password' } } } }), allow, 'dag "etl", task "extract"')).toBe(
      'dag "etl", task "extract": the pod refers to Secret "payroll" (env PW of container base), which the worker\'s ALOFT_POD_SECRET_ALLOWLIST does not allow (allowed: "warehouse", "etl-*"); the operator adds it there if task pods may use it',
    );
    expect(refusedReference(pod({ volumes: [{ name: 'cfg', configMap: { name: 'settings' } }] }), allow, 't')).toMatch(
      /^t: the pod refers to ConfigMap "settings" \(volume cfg\), which the worker's ALOFT_POD_CONFIGMAP_ALLOWLIST does not allow \(allowed: none\)/,
    );
    expect(refusedReference(pod(every), ALLOW_ALL_REFERENCES, 't')).toBeUndefined();
    expect(refusedReference(pod({}), { secrets: [], configMaps: [] }, 't')).toBeUndefined();
  });

  it('reads the lists from the environment: default every name, empty none, bad names named', () => {
    expect(loadWorkerConfig({}).podReferences.secrets).toEqual(['*']);
    expect(loadWorkerConfig({ ALOFT_POD_SECRET_ALLOWLIST: '' }).podReferences.secrets).toEqual([]);
    expect(loadWorkerConfig({ ALOFT_POD_CONFIGMAP_ALLOWLIST: ' a, etl-* ' }).podReferences.configMaps).toEqual(['a', 'etl-*']);
    expect(() => loadWorkerConfig({ ALOFT_POD_SECRET_ALLOWLIST: 'Payroll' })).toThrow('ALOFT_POD_SECRET_ALLOWLIST: "Payroll" is not a Secret name');
  });
});
