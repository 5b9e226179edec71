import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { MAIN_CONTAINER } from './pod-spec.js';

/** Waiting reasons that do not fix themselves: the try fails at once, with the reason. */
const FATAL_WAITING = new Set(['InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'CrashLoopBackOff', 'ErrImageNeverPull']);
/** The kubelet's image pull reasons: fatal or not depending on why the pull failed. */
const PULL_WAITING = new Set(['ErrImagePull', 'ImagePullBackOff']);

export type PodVerdict =
  | { kind: 'pending'; detail: string; unschedulable: boolean }
  | { kind: 'running' }
  | { kind: 'succeeded'; exitCode: number; message: string | undefined }
  | {
      kind: 'failed';
      reason: string;
      exitCode: number | undefined;
      oomKilled: boolean;
      message: string | undefined;
      /** The cluster ended the pod, not the task (eviction, preemption, node loss): the try may run again in a new pod. */
      infra?: true | undefined;
    };

/**
 * Pod status reasons (and DisruptionTarget condition reasons) of a pod the cluster ended for
 * its own reasons: evicted, preempted, its node lost or shut down, refused at admission.
 */
const INFRA_REASONS = new Set([
  'Evicted',
  'Preempting',
  'NodeLost',
  'Shutdown',
  'NodeShutdown',
  'Terminated',
  'UnexpectedAdmissionError',
  'PreemptionByScheduler',
  'PreemptionByKubeScheduler',
  'DeletionByTaintManager',
  'DeletionByPodGC',
  'EvictionByEvictionAPI',
  'TerminationByKubelet',
]);

/**
 * Why an image pull failed, from the runtime's message (containerd, CRI-O, Docker):
 * - `not-found` and `unauthorized` will not change by waiting: the try fails at once;
 * - `transient` (timeouts, rate limits, connection errors, 5xx) and `unknown` are retried
 *   by the kubelet, and the try waits for them within its startup timeout.
 */
export function classifyPullError(message: string): 'not-found' | 'unauthorized' | 'transient' | 'unknown' {
  if (
    /toomanyrequests|rate limit|too many requests|\b429\b|timeout|timed out|deadline exceeded|connection (refused|reset)|no route to host|network is unreachable|temporary failure|\bEOF\b|\b50[0-9]\b|service unavailable|bad gateway|TLS handshake/i.test(
      message,
    )
  )
    return 'transient';
  if (/code = NotFound|: not found\b|manifest unknown|manifest for .* not found|repository does not exist|name unknown|no such image/i.test(message))
    return 'not-found';
  if (/unauthorized|authentication required|access denied|\bdenied\b|forbidden|\b40[13]\b|no basic auth credentials|insufficient_scope/i.test(message))
    return 'unauthorized';
  return 'unknown';
}

/**
 * Records the message of every ErrImagePull the pod shows, by container: the ImagePullBackOff
 * that follows only says "Back-off pulling image", not why.
 */
export function notePullErrors(pod: V1Pod, into: Map<string, string>): void {
  for (const c of statuses(pod)) {
    const w = c.state?.waiting;
    if (w?.reason === 'ErrImagePull' && w.message) into.set(c.name, w.message);
  }
}

function statuses(pod: V1Pod): V1ContainerStatus[] {
  return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
}

/**
 * What a pod's status means for its task, in words a person can act on. `pullErrors`: the
 * last ErrImagePull message seen per container (notePullErrors).
 */
export function verdict(pod: V1Pod, pullErrors: ReadonlyMap<string, string> = new Map()): PodVerdict {
  const st = pod.status ?? {};
  const main = st.containerStatuses?.find((c) => c.name === MAIN_CONTAINER) ?? st.containerStatuses?.[0];
  const term = main?.state?.terminated;
  if (st.reason === 'Evicted')
    return {
      kind: 'failed',
      reason: `Evicted: ${st.message ?? 'the pod was evicted'}`,
      exitCode: term?.exitCode,
      oomKilled: false,
      message: undefined,
      infra: true,
    };
  const disrupted = st.conditions?.find((c) => c.type === 'DisruptionTarget' && c.status === 'True');
  if (st.phase === 'Failed' && ((st.reason && INFRA_REASONS.has(st.reason)) || (disrupted?.reason && INFRA_REASONS.has(disrupted.reason)))) {
    const why = st.reason && INFRA_REASONS.has(st.reason) ? st.reason : disrupted!.reason!;
    const message = (st.reason && INFRA_REASONS.has(st.reason) ? st.message : disrupted?.message) ?? 'the cluster ended the pod';
    return { kind: 'failed', reason: `${why}: ${message}`, exitCode: term?.exitCode, oomKilled: false, message: undefined, infra: true };
  }
  if (st.reason === 'DeadlineExceeded') {
    return {
      kind: 'failed',
      reason: `active deadline exceeded: ${st.message ?? 'the pod ran longer than activeDeadlineSeconds'}`,
      exitCode: term?.exitCode,
      oomKilled: false,
      message: undefined,
    };
  }
  for (const c of statuses(pod)) {
    const w = c.state?.waiting;
    if (w?.reason && FATAL_WAITING.has(w.reason)) {
      return {
        kind: 'failed',
        reason: `${w.reason}: container "${c.name}": ${w.message ?? w.reason}`,
        exitCode: undefined,
        oomKilled: false,
        message: undefined,
      };
    }
    const pullError = w?.reason && PULL_WAITING.has(w.reason) ? (w.reason === 'ErrImagePull' && w.message ? w.message : pullErrors.get(c.name)) : undefined;
    const why = pullError === undefined ? undefined : classifyPullError(pullError);
    if (why === 'not-found' || why === 'unauthorized') {
      const words = why === 'not-found' ? 'the image does not exist' : 'the registry refused access (check imagePullSecrets)';
      return {
        kind: 'failed',
        reason: `${w!.reason}: container "${c.name}": ${words}: ${pullError}`,
        exitCode: undefined,
        oomKilled: false,
        message: undefined,
      };
    }
  }
  if (term) {
    if (term.reason === 'OOMKilled') {
      return {
        kind: 'failed',
        reason: `OOMKilled: container "${main!.name}" ran out of memory (exit code ${term.exitCode})`,
        exitCode: term.exitCode,
        oomKilled: true,
        message: term.message,
      };
    }
    if (term.exitCode === 0) return { kind: 'succeeded', exitCode: 0, message: term.message };
    // A container that could not start says why in its message (e.g. the executable is missing).
    const why =
      term.reason && term.reason !== 'Error' && term.reason !== 'Completed'
        ? ` (${term.reason}${term.reason !== 'Error' && term.message && /Start|CannotRun/.test(term.reason) ? `: ${term.message}` : ''})`
        : '';
    return { kind: 'failed', reason: `exit code ${term.exitCode}${why}`, exitCode: term.exitCode, oomKilled: false, message: term.message };
  }
  if (st.phase === 'Failed')
    return { kind: 'failed', reason: `pod failed: ${st.reason ?? ''} ${st.message ?? ''}`.trim(), exitCode: undefined, oomKilled: false, message: undefined };
  if (st.phase === 'Succeeded') return { kind: 'succeeded', exitCode: 0, message: undefined };
  if (st.phase === 'Running' && main?.state?.running) return { kind: 'running' };
  return { kind: 'pending', ...pendingDetail(pod, pullErrors) };
}

/** Why a pod is not running yet: the scheduler's message, image pulling, init containers. */
export function pendingDetail(pod: V1Pod, pullErrors: ReadonlyMap<string, string> = new Map()): { detail: string; unschedulable: boolean } {
  const sched = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (sched?.status === 'False') {
    return { detail: `${sched.reason ?? 'not scheduled'}: ${sched.message ?? 'waiting for a node'}`, unschedulable: sched.reason === 'Unschedulable' };
  }
  for (const c of statuses(pod)) {
    const w = c.state?.waiting;
    if (w?.reason === 'ImagePullBackOff' && pullErrors.has(c.name)) {
      return { detail: `container "${c.name}" ImagePullBackOff (retrying until the startup timeout): ${pullErrors.get(c.name)}`, unschedulable: false };
    }
    if (w?.reason === 'ErrImagePull')
      return { detail: `container "${c.name}" ErrImagePull (retrying until the startup timeout): ${w.message ?? ''}`, unschedulable: false };
    if (w?.reason) return { detail: `container "${c.name}" ${w.reason}${w.message ? `: ${w.message}` : ''}`, unschedulable: false };
  }
  return { detail: pod.status?.phase ?? 'Pending', unschedulable: false };
}
