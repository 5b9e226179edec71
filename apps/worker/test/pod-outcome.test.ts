import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { claimOf, GENERATION } from '../src/executors/kubernetes/pod-claim.js';
import { podResult } from '../src/executors/kubernetes/pod-output.js';
import { classifyPullError, notePullErrors, verdict } from '../src/executors/kubernetes/reasons.js';

const waiting = (reason: string, message?: string): V1Pod => ({
  status: {
    phase: 'Pending',
    containerStatuses: [{ name: 'base', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason, message } } }],
  },
});

describe('image pull errors: fatal ones fail at once, the rest wait within the startup timeout', () => {
  const rows: [string, ReturnType<typeof classifyPullError>][] = [
    [
      'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nope:1": failed to resolve reference "docker.io/library/nope:1": docker.io/library/nope:1: not found',
      'not-found',
    ],
    ['rpc error: code = Unknown desc = Error response from daemon: manifest for busybox:9.9 not found: manifest unknown: manifest unknown', 'not-found'],
    [
      'rpc error: code = Unknown desc = failed to pull and unpack image "ghcr.io/acme/private:1": failed to resolve reference "ghcr.io/acme/private:1": failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized',
      'unauthorized',
    ],
    [
      "rpc error: code = Unknown desc = Error response from daemon: pull access denied for acme/private, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
      'not-found',
    ],
    [
      'rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/library/python:3.12": failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/python/manifests/sha256:ab: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.',
      'transient',
    ],
    [
      'rpc error: code = Unknown desc = failed to pull and unpack image "quay.io/acme/app:1": failed to resolve reference "quay.io/acme/app:1": failed to do request: Head "https://quay.io/v2/acme/app/manifests/1": dial tcp 3.3.3.3:443: i/o timeout',
      'transient',
    ],
    [
      'rpc error: code = Unknown desc = Error response from daemon: Get https://registry.example.com/v2/: net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)',
      'transient',
    ],
    [
      'rpc error: code = Unknown desc = failed to pull and unpack image "registry.example.com/app:1": failed to resolve reference: failed to do request: Head "https://registry.example.com/v2/app/manifests/1": dial tcp 10.0.0.9:443: connect: connection refused',
      'transient',
    ],
    [
      'rpc error: code = Unknown desc = failed to pull and unpack image "registry.example.com/app:1": unexpected status code 503 Service Unavailable',
      'transient',
    ],
    ['rpc error: code = Unknown desc = something nobody has seen before', 'unknown'],
  ];
  it.each(rows)('%s → %s', (message, kind) => {
    expect(classifyPullError(message)).toBe(kind);
  });

  it('fails ErrImagePull for a missing image and for a refused pull, in words', () => {
    const missing = verdict(waiting('ErrImagePull', rows[0]![0]));
    expect(missing).toMatchObject({ kind: 'failed' });
    expect(missing.kind === 'failed' && missing.reason).toBe(`ErrImagePull: container "base": the image does not exist: ${rows[0]![0]}`);
    const refused = verdict(waiting('ErrImagePull', rows[2]![0]));
    expect(refused.kind === 'failed' && refused.reason).toMatch(
      /^ErrImagePull: container "base": the registry refused access \(check imagePullSecrets\): .*401 Unauthorized/,
    );
  });

  it('keeps a rate-limited or timed-out pull pending, saying why, through the back-off that follows', () => {
    const limited = verdict(waiting('ErrImagePull', rows[4]![0]));
    expect(limited).toEqual({
      kind: 'pending',
      unschedulable: false,
      detail: `container "base" ErrImagePull (retrying until the startup timeout): ${rows[4]![0]}`,
    });
    const seen = new Map<string, string>();
    notePullErrors(waiting('ErrImagePull', rows[5]![0]), seen);
    const backOff = verdict(waiting('ImagePullBackOff', 'Back-off pulling image "quay.io/acme/app:1"'), seen);
    expect(backOff).toEqual({
      kind: 'pending',
      unschedulable: false,
      detail: `container "base" ImagePullBackOff (retrying until the startup timeout): ${rows[5]![0]}`,
    });
  });

  it('fails the back-off of a pull that failed for good; a back-off of unknown cause waits', () => {
    const seen = new Map<string, string>();
    notePullErrors(waiting('ErrImagePull', rows[0]![0]), seen);
    const v = verdict(waiting('ImagePullBackOff', 'Back-off pulling image "nope:1"'), seen);
    expect(v.kind === 'failed' && v.reason).toBe(`ImagePullBackOff: container "base": the image does not exist: ${rows[0]![0]}`);
    expect(verdict(waiting('ImagePullBackOff', 'Back-off pulling image "nope:1"')).kind).toBe('pending');
  });
});

describe("which pod under a try's name is the try's", () => {
  const pod = (generation: string | undefined, uid: string, deleting = false): V1Pod => ({
    metadata: { name: 'p-1', uid, annotations: generation ? { [GENERATION]: generation } : {}, ...(deleting ? { deletionTimestamp: new Date() } : {}) },
  });
  it.each([
    ['the generation launched, UID not yet known', pod('1', 'u1'), { generation: 1 }, 'ours'],
    ['the generation and UID recorded', pod('2', 'u2'), { generation: 2, uid: 'u2' }, 'ours'],
    ['the same generation under another UID (recreated by someone else)', pod('1', 'u9'), { generation: 1, uid: 'u1' }, 'foreign'],
    ['an earlier generation', pod('1', 'u1'), { generation: 2 }, 'foreign'],
    ['no generation at all (not launched by a claim)', pod(undefined, 'u1'), { generation: 1 }, 'foreign'],
    ['the very pod, but being deleted', pod('1', 'u1', true), { generation: 1, uid: 'u1' }, 'terminating'],
  ] as const)('%s → %s', (_what, p, claim, expected) => {
    expect(claimOf(p, claim)).toBe(expected);
  });
});

describe("a pod's output", () => {
  const ok = (message: string | undefined) => ({ kind: 'succeeded' as const, exitCode: 0, message });
  it('comes from a JSON termination message, else from the output line', () => {
    expect(podResult(ok('{"a": 1}'), undefined, undefined)).toEqual({ outcome: 'success', exitCode: 0, outputJson: '{"a":1}' });
    expect(podResult(ok(undefined), undefined, '[1, 2]')).toEqual({ outcome: 'success', exitCode: 0, outputJson: '[1,2]' });
    expect(podResult(ok(undefined), undefined, undefined)).toEqual({ outcome: 'success', exitCode: 0 });
  });
  it("names the kubelet's 4096-byte cut of a termination message, and takes the output line over a cut message", () => {
    const big = JSON.stringify({ rows: 'x'.repeat(6000) });
    const cut = big.slice(0, 4096);
    expect(podResult(ok(cut), undefined, undefined)).toEqual({
      outcome: 'failed',
      exitCode: 0,
      reason:
        'the termination message was cut at 4096 bytes by the kubelet, so it is not JSON; write outputs over 4 KiB as a "::aloft-output::<json>" line on stdout instead (with getLogs)',
    });
    expect(podResult(ok(cut), undefined, big)).toEqual({ outcome: 'success', exitCode: 0, outputJson: big });
    expect(podResult(ok('not json'), undefined, undefined)).toEqual({
      outcome: 'failed',
      exitCode: 0,
      reason: 'the termination message is not JSON: not json',
    });
  });
});

describe('pods the cluster ended: run again in a new pod, without using a retry', () => {
  const ended = (status: V1Pod['status']): V1Pod => ({ status });

  it('marks eviction, preemption, node loss and a disruption condition as infrastructure failures, and nothing else', () => {
    const evicted = verdict(ended({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' }));
    expect(evicted).toMatchObject({ kind: 'failed', infra: true, reason: 'Evicted: The node was low on resource: memory.' });
    expect(verdict(ended({ phase: 'Failed', reason: 'NodeLost', message: 'node n1 which was running pod p is unresponsive' }))).toMatchObject({
      infra: true,
      reason: 'NodeLost: node n1 which was running pod p is unresponsive',
    });
    const disrupted = verdict(
      ended({
        phase: 'Failed',
        conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'PreemptionByScheduler', message: 'preempted by a pod of higher priority' }],
      }),
    );
    expect(disrupted).toMatchObject({ infra: true, reason: 'PreemptionByScheduler: preempted by a pod of higher priority' });
    // The task's own failure is not the cluster's.
    const exited = verdict(
      ended({
        phase: 'Failed',
        containerStatuses: [{ name: 'base', image: 'x', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 3 } } }],
      }),
    );
    expect(exited).toMatchObject({ kind: 'failed', reason: 'exit code 3' });
    expect('infra' in exited && exited.infra).toBeFalsy();
    expect(podResult(evicted, undefined, undefined)).toMatchObject({ outcome: 'failed', infra: true });
  });
});
