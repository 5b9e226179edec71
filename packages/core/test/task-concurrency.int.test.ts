import { describe, expect, it } from 'vitest';
import { dag, weighedPriorities } from '../src/index.js';
import { claim, startRun } from './fixtures/store-run.js';
import { useRedis } from './fixtures/use-redis.js';

/**
 * A task's own concurrency limits, decided by the claim (includes/claim-try): Airflow's
 * max_active_tis_per_dag counts the task's running instances in every run of the DAG,
 * max_active_tis_per_dagrun those in the claiming run; past either the claim is `busy` and
 * the job waits. And the weight rules that set a task's queue priority.
 */
describe('task-level concurrency in the store (real redis-server)', () => {
  const redis = useRedis();

  it('maxActiveTisPerDag: one instance of the task at a time across runs', async () => {
    const d = dag({ id: 'one_across_runs' });
    d.command({ id: 'load', command: 'true', maxActiveTisPerDag: 1 });
    d.command({ id: 'free', command: 'true' });
    const { store, ti } = await startRun(redis.conn(), d);
    const at = new Date();
    await store.createRun({ dagId: d.id, runId: 'r2', runType: 'manual', logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at });
    const r2 = (taskId: string) => ({ ...ti(taskId), runId: 'r2' });

    expect((await claim(store, ti('load'))).status).toBe('ok');
    expect((await claim(store, r2('load'))).status).toBe('busy');
    // Another task of the DAG is not held back.
    expect((await claim(store, r2('free'))).status).toBe('ok');
    expect(await store.finishTi(ti('load'), 1, { outcome: 'success' })).toBe('success');
    expect((await claim(store, r2('load'))).status).toBe('ok');
  });

  it('maxActiveTisPerDagrun: two instances of a mapped task at a time within a run', async () => {
    const d = dag({ id: 'two_per_run' });
    d.command({ id: 'm', command: 'echo {{ args.x }}', expand: { x: [1, 2, 3] }, maxActiveTisPerDagrun: 2 });
    const { store, ti } = await startRun(redis.conn(), d);
    expect((await claim(store, ti('m', 0))).status).toBe('ok');
    expect((await claim(store, ti('m', 1))).status).toBe('ok');
    expect((await claim(store, ti('m', 2))).status).toBe('busy');
    expect(await store.finishTi(ti('m', 0), 1, { outcome: 'success' })).toBe('success');
    expect((await claim(store, ti('m', 2))).status).toBe('ok');
  });

  it('weighs priorities as Airflow does: downstream by default, upstream, absolute; a shared relative once', () => {
    const d = dag({ id: 'weights' });
    const a = d.empty({ id: 'a' });
    const b = d.empty({ id: 'b', priority: 10 });
    const c = d.empty({ id: 'c' });
    const j = d.empty({ id: 'j' });
    a.then([b, c]);
    b.then(j);
    c.then(j);
    d.empty({ id: 'up', weightRule: 'upstream' });
    j.then(d.empty({ id: 'sink', weightRule: 'upstream' }));
    d.empty({ id: 'alone', weightRule: 'absolute', priority: 7 });
    const w = weighedPriorities(d.serialize());
    // a: itself + b (10) + c + j + sink, j counted once though both b and c lead to it.
    expect(Object.fromEntries(w)).toEqual({ a: 14, b: 12, c: 3, j: 2, up: 1, sink: 14, alone: 7 });
    const big = dag({ id: 'capped' });
    big.empty({ id: 'top', priority: 999_999 }).then(big.empty({ id: 'low', priority: 5 }));
    expect(weighedPriorities(big.serialize()).get('top')).toBe(1_000_000);
  });

  it('rejects a weight rule or a limit that is not one', () => {
    const d = dag({ id: 'bad_limits' });
    d.empty({ id: 'x', maxActiveTisPerDag: 0, weightRule: 'sideways' as 'absolute' });
    expect(() => d.serialize()).toThrow(
      /weightRule must be one of downstream, upstream, absolute \(got "sideways"\).*maxActiveTisPerDag must be a whole number ≥ 1 \(got 0\)/,
    );
  });
});
