import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import type { Store, TaskInstanceKey } from '@aloft/core';
import type { ExecEnv } from '../types.js';
import { errorText, isCode, isQuotaExceeded, retrying, type Limiter, type RetryStats } from './api-retry.js';
import { claimOf, GENERATION, parseClaim, type PodClaim } from './pod-claim.js';
import { podName, type PodIdentity } from './pod-spec.js';
import type { PodWatcher } from './pod-watcher.js';

export interface PodLauncherOptions {
  api: CoreV1Api;
  watcher: PodWatcher;
  store: Store;
  /** Pod creates in flight at once from this worker. */
  creates: Limiter;
  retries: RetryStats;
}

export interface LaunchRequest {
  key: TaskInstanceKey;
  id: PodIdentity;
  namespace: string;
  namePrefix: string | undefined;
  /** The try's pod as built; the launcher gives it its generation's name and annotation. */
  pod: V1Pod;
  /** How long a full quota or a busy API server is waited out. */
  startupMs: number;
  env: ExecEnv;
}

export type Launched = { pod: V1Pod; name: string; adopted: boolean } | { failed: string };

/** A try that finds this many of its pods unusable in a row gives up. */
const MAX_GENERATIONS_PER_LAUNCH = 5;

/**
 * Creates a try's pod, or adopts the one an earlier holder of the same try created (a worker
 * that was stopped or killed). Which pod is the try's is recorded in the task instance
 * (`podClaim:<try>`: generation, then UID) before and after the create, so a later holder
 * adopts exactly that pod. A pod under the try's name that is terminating, or of another
 * generation or UID, is never adopted and its exit never read: the try goes on with a pod of
 * the next generation, under a name of its own, without waiting for the old one to go.
 */
export class PodLauncher {
  constructor(private readonly o: PodLauncherOptions) {}

  async launch(q: LaunchRequest): Promise<Launched> {
    const { store, watcher } = this.o;
    const field = `podClaim:${q.id.tryNumber}`;
    const recorded = parseClaim(await store.getTiField(q.key, field));
    let claim: PodClaim = recorded ?? { generation: 1 };
    let saved = recorded !== undefined;
    for (let n = 0; n < MAX_GENERATIONS_PER_LAUNCH; n++) {
      const name = podName(q.id, q.namePrefix, claim.generation);
      let found = saved ? watcher.get(name) : undefined;
      if (!found) {
        // Recorded before the create, so a holder that takes over after a crash knows which
        // generation to look for.
        if (!saved) await store.setTiFields(q.key, { [field]: JSON.stringify(claim) });
        saved = true;
        const created = await this.#create(q, name, claim.generation);
        if ('failed' in created) return created;
        if ('pod' in created) {
          await store.setTiFields(q.key, { [field]: JSON.stringify({ generation: claim.generation, uid: created.pod.metadata?.uid }) });
          watcher.observe(created.pod);
          return { pod: created.pod, name, adopted: false };
        }
        found = created.existing;
      }
      const verdict = claimOf(found, claim);
      if (verdict === 'ours') {
        if (claim.uid === undefined) await store.setTiFields(q.key, { [field]: JSON.stringify({ ...claim, uid: found.metadata?.uid }) });
        q.env.log.system(`pod ${q.namespace}/${name} exists already (created by a previous holder of this try); following it`);
        return { pod: found, name, adopted: true };
      }
      const next = claim.generation + 1;
      q.env.log.system(
        verdict === 'terminating'
          ? `pod ${q.namespace}/${name} is being deleted, so it is not followed and its exit is not this try's; starting pod generation ${next}`
          : `pod ${q.namespace}/${name} is not this try's (generation ${found.metadata?.annotations?.[GENERATION] ?? 'none'}, uid ${found.metadata?.uid}; expected generation ${claim.generation}${claim.uid ? `, uid ${claim.uid}` : ''}); starting pod generation ${next}`,
      );
      claim = { generation: next };
      saved = false;
    }
    return { failed: `found no usable pod name for try ${q.id.tryNumber} after ${MAX_GENERATIONS_PER_LAUNCH} pod generations` };
  }

  /** Creates the pod: the new object, or the one already there (409), or a failure in words. */
  async #create(q: LaunchRequest, name: string, generation: number): Promise<{ pod: V1Pod } | { existing: V1Pod } | { failed: string }> {
    const { api, creates, retries } = this.o;
    const body: V1Pod = { ...q.pod, metadata: { ...q.pod.metadata, name, annotations: { ...q.pod.metadata?.annotations, [GENERATION]: String(generation) } } };
    let quotaShown = '';
    try {
      // A busy API server (429/5xx) or a full quota is waited out up to the startup timeout;
      // a create that succeeded but whose answer was lost comes back as 409.
      const pod = await retrying(
        retries,
        () => creates.run(() => api.createNamespacedPod({ namespace: q.namespace, body })),
        Date.now() + q.startupMs,
        (message) => {
          if (message === quotaShown) return;
          quotaShown = message;
          q.env.log.system(`waiting for quota: ${message}`);
          void this.o.store.setTiFields(q.key, { detail: `waiting for quota: ${message}` });
        },
      );
      return { pod };
    } catch (err) {
      if (isQuotaExceeded(err)) return { failed: `quota still exceeded after ${Math.round(q.startupMs / 1000)} s (startup timeout): ${errorText(err)}` };
      if (!isCode(err, 409)) throw err;
      const existing =
        this.o.watcher.get(name) ?? (await retrying(retries, () => api.readNamespacedPod({ name, namespace: q.namespace }), Date.now() + 30_000));
      return { existing };
    }
  }
}
