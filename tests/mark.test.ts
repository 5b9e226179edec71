import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, System, waitFor } from './support/system.js';

describe('marking task instances by hand (real scheduler and worker)', () => {
  const sys = new System({ dagsFolder: join(ROOT, 'examples', 'dags') });
  beforeAll(async () => {
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker-1');
    await waitFor('kubernetes_sample stored', async () => (await sys.client.listDags()).some((d) => d.dag.id === 'kubernetes_sample'), 60_000);
  });
  afterAll(() => sys.stop());

  it('re-derives a finished run when one of its tasks is marked: failed run → success, and back', async () => {
    const run = await sys.client.trigger('kubernetes_sample');
    expect((await sys.client.waitForRun('kubernetes_sample', run.runId, { timeoutMs: 30_000 })).state).toBe('failed');
    await sys.client.markTask('kubernetes_sample', run.runId, 'failing', 'success');
    const after = await sys.client.getRun('kubernetes_sample', run.runId);
    expect(after).toMatchObject({ state: 'success', unfinished: 0 });
    await sys.client.markTask('kubernetes_sample', run.runId, 'passing', 'failed');
    expect(await sys.client.getRun('kubernetes_sample', run.runId)).toMatchObject({ state: 'failed', unfinished: 0 });
    // Nothing is left counted as active: the DAG can start as many runs as before.
    expect(await sys.client.store.redis.sismember(sys.client.store.keys.activeRuns('kubernetes_sample'), run.runId)).toBe(0);
  });
});
