import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, System, waitFor } from './support/system.js';

/**
 * retryPolicy with a real worker: a failed try is retried only when its exit code, its
 * error's name or an expression over it says so; otherwise the task fails at once, its
 * retries unused, and its log says why.
 */
describe('retryPolicy (real scheduler and worker)', () => {
  const sys = new System({ dagsFolder: join(ROOT, 'tests', 'fixtures', 'retry-dags') });

  beforeAll(async () => {
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker-1');
    await waitFor('the DAG stored', async () => (await sys.client.listDags()).length === 1, 60_000);
  });
  afterAll(() => sys.stop());

  it('retries only the failures its policy names', async () => {
    const run = await sys.client.trigger('retry_policies');
    expect((await sys.client.waitForRun('retry_policies', run.runId, { timeoutMs: 60_000 })).state).toBe('failed');
    const tis = Object.fromEntries((await sys.client.listTaskInstances('retry_policies', run.runId)).map((t) => [t.taskId, t]));
    expect(Object.fromEntries(Object.entries(tis).map(([id, t]) => [id, [t.state, t.try]]))).toEqual({
      tempfail: ['failed', 2],
      usage_error: ['failed', 1],
      bug: ['failed', 1],
      by_expression: ['failed', 2],
    });
    const log = async (task: string, tryNo: number) => (await sys.client.readLog('retry_policies', run.runId, task, { try: tryNo })).lines.map((l) => l.line);
    expect(await log('usage_error', 1)).toContain('retryPolicy: not retried (exit code 2 is not in exitCodes [75])');
    expect(await log('bug', 1)).toContain('retryPolicy: not retried (error TypeError is not in errors [TimeoutError])');
    expect(await log('by_expression', 2)).toContain('retryPolicy: not retried (expression "try < 2" is false)');
    // The last try of a task that used its retries says nothing of the policy.
    expect((await log('tempfail', 2)).some((l) => l.startsWith('retryPolicy'))).toBe(false);
  });
});
