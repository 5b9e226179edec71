import type { V1Container, V1Pod } from '@kubernetes/client-node';

/**
 * The Secrets and ConfigMaps a task pod may refer to, as name patterns (`*` matches any
 * run of characters). Whoever may create pods in a namespace can read every Secret in it
 * through a pod, so the worker, not the DAG author, decides which ones task pods get
 * (ALOFT_POD_SECRET_ALLOWLIST, ALOFT_POD_CONFIGMAP_ALLOWLIST).
 */
export interface PodReferenceAllowList {
  secrets: readonly string[];
  configMaps: readonly string[];
}

/** Every name allowed: the default when the operator sets nothing (the quick start). */
export const ALLOW_ALL_REFERENCES: PodReferenceAllowList = { secrets: ['*'], configMaps: ['*'] };

export interface PodReference {
  kind: 'Secret' | 'ConfigMap';
  name: string;
  /** Where in the pod: `env DB_PASSWORD of container base`, `volume creds`. */
  where: string;
}

/** Every Secret and ConfigMap the pod's containers (init, main, sidecars) and volumes refer to. */
export function podReferences(pod: V1Pod): PodReference[] {
  const out: PodReference[] = [];
  const containers: V1Container[] = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  for (const c of containers) {
    const of = `of container ${c.name}`;
    for (const e of c.env ?? []) {
      const s = e.valueFrom?.secretKeyRef?.name;
      const m = e.valueFrom?.configMapKeyRef?.name;
      if (s) out.push({ kind: 'Secret', name: s, where: `env ${e.name} ${of}` });
      if (m) out.push({ kind: 'ConfigMap', name: m, where: `env ${e.name} ${of}` });
    }
    for (const e of c.envFrom ?? []) {
      if (e.secretRef?.name) out.push({ kind: 'Secret', name: e.secretRef.name, where: `envFrom ${of}` });
      if (e.configMapRef?.name) out.push({ kind: 'ConfigMap', name: e.configMapRef.name, where: `envFrom ${of}` });
    }
  }
  for (const v of pod.spec?.volumes ?? []) volumeReferences(v as unknown as Record<string, unknown>, `volume ${v.name}`, out);
  return out;
}

/**
 * A volume's references, whatever its type: `secret` and `configMap` volumes, projected
 * sources, and the secretRef/secretName fields of volume plugins (CSI, CephFS, Azure File…).
 */
function volumeReferences(o: Record<string, unknown>, where: string, out: PodReference[]): void {
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'string') {
      if (k === 'secretName') out.push({ kind: 'Secret', name: v, where });
      continue;
    }
    if (Array.isArray(v)) {
      for (const x of v) if (x && typeof x === 'object') volumeReferences(x as Record<string, unknown>, where, out);
      continue;
    }
    if (!v || typeof v !== 'object') continue;
    const name = (v as { name?: unknown }).name;
    if (k === 'configMap' && typeof name === 'string') out.push({ kind: 'ConfigMap', name, where });
    else if ((k === 'secret' || /secretRef$/i.test(k)) && typeof name === 'string') out.push({ kind: 'Secret', name, where });
    else volumeReferences(v as Record<string, unknown>, where, out);
  }
}

function matches(pattern: string, name: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(name);
}

/**
 * Why the pod may not be created, in words naming the task, the reference and the
 * setting; undefined when every reference is allowed.
 */
export function refusedReference(pod: V1Pod, allow: PodReferenceAllowList, task: string): string | undefined {
  for (const r of podReferences(pod)) {
    const [list, setting] = r.kind === 'Secret' ? [allow.secrets, 'ALOFT_POD_SECRET_ALLOWLIST'] : [allow.configMaps, 'ALOFT_POD_CONFIGMAP_ALLOWLIST'];
    if (list.some((p) => matches(p, r.name))) continue;
    const allowed = list.length ? list.map((p) => `"${p}"`).join(', ') : 'none';
    return `${task}: the pod refers to ${r.kind} "${r.name}" (${r.where}), which the worker's ${setting} does not allow (allowed: ${allowed}); the operator adds it there if task pods may use it`;
  }
  return undefined;
}
