import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { PodCleanup } from '../src/executors/kubernetes/pod-cleanup.js';
import type { PodParams } from '../src/executors/kubernetes/pod-spec.js';

/** A pod's clean-up against an API that records its deletes and fails as told. */
function cleanup(params: Pick<PodParams, 'onFinish' | 'terminationGracePeriodMs'>, failures: number[] = []) {
  const deletes: unknown[] = [];
  const lines: string[] = [];
  const warnings: string[] = [];
  const retries = { transient: 0, quota: 0 };
  const api = {
    deleteNamespacedPod: (req: unknown) => {
      deletes.push(req);
      const code = failures.shift();
      return code ? Promise.reject(new ApiException(code, 'refused', { message: `status ${code}` }, {})) : Promise.resolve({});
    },
  };
  const c = new PodCleanup({
    api: api as never,
    retries,
    logger: { warn: (_o: unknown, m: string) => void warnings.push(m) } as never,
    log: { system: (l: string) => void lines.push(l) },
    pod: { namespace: 'ns', name: 'p-1', uid: 'u1' },
    params,
  });
  return { c, deletes, lines, warnings, retries };
}

describe('a pod clean-up deletes the very pod of the try, as onFinish says', () => {
  it('deletes at once on cancel, with the task termination grace and the pod uid', async () => {
    const x = cleanup({ onFinish: 'keep', terminationGracePeriodMs: 1500 });
    await x.c.cancel('execution timeout');
    expect(x.deletes).toEqual([{ name: 'p-1', namespace: 'ns', gracePeriodSeconds: 2, body: { preconditions: { uid: 'u1' } } }]);
    expect(x.lines).toEqual(['deleting pod ns/p-1: execution timeout']);
  });

  it('after the finish: delete deletes, deleteOnSuccess keeps a failed pod, keep keeps', async () => {
    const del = cleanup({ onFinish: 'delete' });
    await del.c.afterFinish({ outcome: 'failed' });
    expect(del.deletes).toEqual([{ name: 'p-1', namespace: 'ns', body: { preconditions: { uid: 'u1' } } }]);
    expect(del.lines).toEqual(['deleting pod ns/p-1 (onFinish: delete)']);
    const onSuccess = cleanup({ onFinish: 'deleteOnSuccess' });
    await onSuccess.c.afterFinish({ outcome: 'failed' });
    await onSuccess.c.afterFinish({ outcome: 'skipped' });
    expect(onSuccess.deletes).toHaveLength(1);
    expect(onSuccess.lines).toEqual(['pod ns/p-1 kept (onFinish: deleteOnSuccess)', 'deleting pod ns/p-1 (onFinish: deleteOnSuccess)']);
    const keep = cleanup({ onFinish: 'keep' });
    await keep.c.afterFinish({ outcome: 'success' });
    expect(keep.deletes).toEqual([]);
    expect(keep.lines).toEqual(['pod ns/p-1 kept (onFinish: keep)']);
  });

  it('retries a delete after a 503, takes a 404 as done, and warns when the delete is refused', async () => {
    const flaky = cleanup({ onFinish: 'delete' }, [503]);
    await flaky.c.afterFinish({ outcome: 'success' });
    expect([flaky.deletes.length, flaky.retries.transient, flaky.warnings]).toEqual([2, 1, []]);
    const gone = cleanup({ onFinish: 'delete' }, [404]);
    await gone.c.afterFinish({ outcome: 'success' });
    await gone.c.cancel('cancelled');
    expect(gone.warnings).toEqual([]);
    const refused = cleanup({ onFinish: 'delete' }, [403]);
    await refused.c.afterFinish({ outcome: 'success' });
    expect(refused.warnings).toEqual(['could not delete a finished pod']);
  });
});
