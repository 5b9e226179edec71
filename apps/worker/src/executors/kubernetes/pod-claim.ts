import type { V1Pod } from '@kubernetes/client-node';

/** Annotation holding which pod generation of its try a pod is (1 for the first pod). */
export const GENERATION = 'aloft.dev/pod-generation';

/**
 * What a try's holders record in Redis about its pod (task-instance field `podClaim:<try>`):
 * the generation they launched, and the pod's UID once the API server has given it.
 */
export interface PodClaim {
  generation: number;
  uid?: string | undefined;
}

export function parseClaim(raw: string | undefined): PodClaim | undefined {
  if (!raw) return undefined;
  const v = JSON.parse(raw) as Partial<PodClaim>;
  return typeof v.generation === 'number' && v.generation >= 1 ? { generation: v.generation, ...(typeof v.uid === 'string' ? { uid: v.uid } : {}) } : undefined;
}

/**
 * Whether a pod found under the name of this try's pod may be followed as this try's:
 * - `ours`: the generation this try launched (and, once known, the very UID);
 * - `terminating`: being deleted (deletionTimestamp): its exit is a kill, never the try's
 *   result, so it is never adopted, whoever created it;
 * - `foreign`: another generation or UID (an earlier claim's pod, or not Aloft's at all).
 */
export function claimOf(pod: V1Pod, claim: PodClaim): 'ours' | 'terminating' | 'foreign' {
  if (pod.metadata?.deletionTimestamp) return 'terminating';
  if (claim.uid !== undefined && pod.metadata?.uid !== claim.uid) return 'foreign';
  return pod.metadata?.annotations?.[GENERATION] === String(claim.generation) ? 'ours' : 'foreign';
}
