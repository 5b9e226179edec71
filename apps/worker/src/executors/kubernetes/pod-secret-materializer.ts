import { PatchStrategy, setHeaderOptions, type CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import type { Connection, PodSecretRef } from '@aloft/core';
import type { SecretLookup } from '../../try-secrets.js';
import { errorText, isCode, retrying, type RetryStats } from './api-retry.js';
import { identityLabels, podName, type PodIdentity, type PodParams } from './pod-spec.js';

/**
 * The API calls a worker makes for pods with `materializeSecrets`; the opt-in Role of
 * deploy/kubernetes/components/materialize-secrets grants exactly these, and the workers'
 * own Role none of them.
 */
export const MATERIALIZE_SECRETS_API_CALLS = [{ resource: 'secrets', verbs: ['create', 'patch', 'delete'] }] as const;

/** A try's own Secret: its name and the values it holds, by key. */
export interface MaterializedSecret {
  name: string;
  data: Record<string, string>;
}

/** The key of a reference in a materialised Secret: `conn.<id>.<field>` or `var.<key>`. */
export const materializedKey = (r: PodSecretRef): string => (r.kind === 'conn' ? `conn.${r.id}.${r.field}` : `var.${r.key}`);

/** The try's Secret: one per try, whichever pod generation reads it. */
export const materializedSecretName = (id: PodIdentity, prefix?: string): string => `${podName(id, prefix)}-secrets`;

/**
 * The pod's secret references pointed at the try's own Secret, and that Secret's values,
 * read from the worker's backends now (and so masked in the try's log from here on). A
 * reference that no backend has fails the try, naming it and the backends tried.
 */
export async function materialize<P extends Pick<PodParams, 'env'>>(
  p: P,
  refs: Record<string, PodSecretRef>,
  name: string,
  lookup: SecretLookup | undefined,
): Promise<{ params: P; secret: MaterializedSecret }> {
  if (!lookup) throw new Error('materializeSecrets: this worker reads no connections or variables (no secrets backends)');
  const env = { ...p.env };
  const data: Record<string, string> = {};
  for (const [envName, r] of Object.entries(refs)) {
    const key = materializedKey(r);
    env[envName] = { secretKeyRef: { name, key } };
    if (key in data) continue;
    if (r.kind === 'var') data[key] = (await lookup('var', r.key, false)) as string;
    else {
      const value = ((await lookup('conn', r.id, false)) as Connection)[r.field as keyof Connection];
      if (value === undefined) throw new Error(`materializeSecrets: connection "${r.id}" has no ${r.field}`);
      data[key] = String(value);
    }
  }
  return { params: { ...p, env }, secret: { name, data } };
}

/**
 * Creates a try's Secret before its pod, then makes the pod its owner, so that Kubernetes'
 * garbage collector deletes it with the pod (every pod generation of the try is added as an
 * owner; it goes when the last one does). A pod that could not be created takes its Secret
 * with it here.
 */
export class PodSecretMaterializer {
  constructor(private readonly o: { api: CoreV1Api; retries: RetryStats }) {}

  async create(namespace: string, s: MaterializedSecret, id: PodIdentity): Promise<void> {
    const body = { metadata: { name: s.name, namespace, labels: identityLabels(id) }, type: 'Opaque', stringData: s.data };
    try {
      await retrying(this.o.retries, () => this.o.api.createNamespacedSecret({ namespace, body }), Date.now() + 30_000);
    } catch (err) {
      // A previous holder of this try created it: the same names, read from the same backends.
      if (!isCode(err, 409))
        throw new Error(
          `materializeSecrets: cannot create Secret ${namespace}/${s.name}: ${errorText(err)} (the worker needs the Role of deploy/kubernetes/components/materialize-secrets)`,
        );
    }
  }

  async own(namespace: string, s: MaterializedSecret, pod: V1Pod, id: PodIdentity): Promise<void> {
    const owner = { apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name!, uid: pod.metadata!.uid! };
    const body = { metadata: { ownerReferences: [owner] } };
    try {
      // A strategic merge adds this owner beside any earlier generation's (merged by uid).
      await retrying(
        this.o.retries,
        () => this.o.api.patchNamespacedSecret({ name: s.name, namespace, body }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch)),
        Date.now() + 30_000,
      );
    } catch (err) {
      if (!isCode(err, 404)) throw new Error(`materializeSecrets: cannot make pod ${owner.name} the owner of Secret ${namespace}/${s.name}: ${errorText(err)}`);
      // Collected with an earlier generation's pod before this one owned it: again, owned from the start.
      await this.o.api.createNamespacedSecret({
        namespace,
        body: { metadata: { name: s.name, namespace, labels: identityLabels(id), ownerReferences: [owner] }, type: 'Opaque', stringData: s.data },
      });
    }
  }

  async delete(namespace: string, name: string): Promise<void> {
    await this.o.api.deleteNamespacedSecret({ name, namespace }).catch(() => undefined);
  }
}
