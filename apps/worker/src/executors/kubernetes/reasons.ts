import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { MAIN_CONTAINER } from './pod-spec.js';

/** Waiting reasons that do not fix themselves: the try fails at once, with the reason. */
const FATAL_WAITING = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'CrashLoopBackOff', 'ErrImageNeverPull']);

export type PodVerdict =
  | { kind: 'pending'; detail: string; unschedulable: boolean }
  | { kind: 'running' }
  | { kind: 'succeeded'; exitCode: number; message: string | undefined }
  | { kind: 'failed'; reason: string; exitCode: number | undefined; oomKilled: boolean; message: string | undefined };

function statuses(pod: V1Pod): V1ContainerStatus[] {
  return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
}

/** What a pod's status means for its task, in words a person can act on. */
export function verdict(pod: V1Pod): PodVerdict {
  const st = pod.status ?? {};
  const main = st.containerStatuses?.find((c) => c.name === MAIN_CONTAINER) ?? st.containerStatuses?.[0];
  const term = main?.state?.terminated;
  if (st.reason === 'Evicted') return { kind: 'failed', reason: `Evicted: ${st.message ?? 'the pod was evicted'}`, exitCode: term?.exitCode, oomKilled: false, message: undefined };
  if (st.reason === 'DeadlineExceeded') {
    return { kind: 'failed', reason: `active deadline exceeded: ${st.message ?? 'the pod ran longer than activeDeadlineSeconds'}`, exitCode: term?.exitCode, oomKilled: false, message: undefined };
  }
  for (const c of statuses(pod)) {
    const w = c.state?.waiting;
    if (w?.reason && FATAL_WAITING.has(w.reason)) {
      return { kind: 'failed', reason: `${w.reason}: container "${c.name}": ${w.message ?? w.reason}`, exitCode: undefined, oomKilled: false, message: undefined };
    }
  }
  if (term) {
    if (term.reason === 'OOMKilled') {
      return { kind: 'failed', reason: `OOMKilled: container "${main!.name}" ran out of memory (exit code ${term.exitCode})`, exitCode: term.exitCode, oomKilled: true, message: term.message };
    }
    if (term.exitCode === 0) return { kind: 'succeeded', exitCode: 0, message: term.message };
    // A container that could not start says why in its message (e.g. the executable is missing).
    const why = term.reason && term.reason !== 'Error' && term.reason !== 'Completed' ? ` (${term.reason}${term.reason !== 'Error' && term.message && /Start|CannotRun/.test(term.reason) ? `: ${term.message}` : ''})` : '';
    return { kind: 'failed', reason: `exit code ${term.exitCode}${why}`, exitCode: term.exitCode, oomKilled: false, message: term.message };
  }
  if (st.phase === 'Failed') return { kind: 'failed', reason: `pod failed: ${st.reason ?? ''} ${st.message ?? ''}`.trim(), exitCode: undefined, oomKilled: false, message: undefined };
  if (st.phase === 'Succeeded') return { kind: 'succeeded', exitCode: 0, message: undefined };
  if (st.phase === 'Running' && main?.state?.running) return { kind: 'running' };
  return { kind: 'pending', ...pendingDetail(pod) };
}

/** Why a pod is not running yet: the scheduler's message, image pulling, init containers. */
export function pendingDetail(pod: V1Pod): { detail: string; unschedulable: boolean } {
  const sched = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (sched?.status === 'False') {
    return { detail: `${sched.reason ?? 'not scheduled'}: ${sched.message ?? 'waiting for a node'}`, unschedulable: sched.reason === 'Unschedulable' };
  }
  for (const c of statuses(pod)) {
    const w = c.state?.waiting;
    if (w?.reason) return { detail: `container "${c.name}" ${w.reason}${w.message ? `: ${w.message}` : ''}`, unschedulable: false };
  }
  return { detail: pod.status?.phase ?? 'Pending', unschedulable: false };
}
