import { describe, expect, it } from 'vitest';
import { dag } from '../src/index.js';
import { runTry, startRun } from './fixtures/store-run.js';
import { useRedis } from './fixtures/use-redis.js';

/**
 * dependsOnPast and waitForDownstream in the store (includes/trigger-rules' pastAllows): an
 * instance waits for the same task in the previous run to succeed (or be skipped), and with
 * waitForDownstream also for that task's direct downstream there; the sweep re-evaluates it.
 */
describe('depending on the previous run (real redis-server)', () => {
  const redis = useRedis();

  it('waitForDownstream holds a task until the previous run of it and of its direct downstream are done; dependsOnPast only the first', async () => {
    const d = dag({ id: 'past' });
    const extract = d.command({ id: 'extract', command: 'true', waitForDownstream: true });
    extract.then(d.command({ id: 'load', command: 'true' }));
    const only = d.command({ id: 'only_past', command: 'true', dependsOnPast: true });
    only.then(d.command({ id: 'after_only', command: 'true' }));
    const { store, ti } = await startRun(redis.conn(), d);
    const next = new Date(Date.now() + 60_000);
    await store.createRun({ dagId: 'past', runId: 'r2', runType: 'manual', logicalDate: next, dataIntervalStart: next, dataIntervalEnd: next });
    const state = async (runId: string, taskId: string) => (await store.getTi({ ...ti(taskId), runId }))?.state;

    // r1's tasks have not run: r2's wait.
    expect([await state('r2', 'extract'), await state('r2', 'only_past')]).toEqual(['none', 'none']);
    expect(await runTry(store, ti('extract'), { outcome: 'success' })).toBe('success');
    expect(await runTry(store, ti('only_past'), { outcome: 'success' })).toBe('success');
    await store.sweep('past');
    // dependsOnPast alone: r1's instance succeeded, so r2's goes. waitForDownstream: `load` in r1 has not.
    expect(await state('r2', 'only_past')).toBe('queued');
    expect(await state('r2', 'extract')).toBe('none');
    expect(await runTry(store, ti('load'), { outcome: 'success' })).toBe('success');
    await store.sweep('past');
    expect(await state('r2', 'extract')).toBe('queued');
  });

  it('waitForDownstream implies dependsOnPast, as in Airflow', () => {
    const d = dag({ id: 'implied' });
    d.command({ id: 'x', command: 'true', waitForDownstream: true, dependsOnPast: false });
    expect(d.serialize().tasks[0]).toMatchObject({ dependsOnPast: true, waitForDownstream: true });
  });
});
