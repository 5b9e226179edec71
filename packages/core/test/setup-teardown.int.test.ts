import { describe, expect, it } from 'vitest';
import { dag, stateLeaves, type Dag } from '../src/index.js';
import { runTry, startRun } from './fixtures/store-run.js';
import { useRedis } from './fixtures/use-redis.js';

/**
 * Setup and teardown tasks as in Airflow 2.7+: the teardown runs when the work is done,
 * even when it failed, unless its setup did not succeed; the run's state ignores the
 * teardown's failure unless `failRun`; clearing a task clears its setup and teardown.
 */
describe('setup and teardown tasks (real redis-server)', () => {
  const redis = useRedis();

  /** create_cluster (setup) → work → delete_cluster (teardown of create_cluster). */
  function cluster(id: string, failRun = false): Dag {
    const d = dag({ id });
    const create = d.command({ id: 'create_cluster', command: 'true', setup: true });
    const work = d.command({ id: 'work', command: 'true' });
    create.then(work);
    work.then(d.command({ id: 'delete_cluster', command: 'true', teardown: { setups: [create], failRun } }));
    return d;
  }

  it('runs the teardown after failed work, and the run fails for the work', async () => {
    const { store, ti } = await startRun(redis.conn(), cluster('td_work_fails'));
    expect(await runTry(store, ti('create_cluster'), { outcome: 'success' })).toBe('success');
    expect(await runTry(store, ti('work'), { outcome: 'failed' })).toBe('failed');
    expect((await store.getTi(ti('delete_cluster')))?.state).toBe('queued');
    expect(await runTry(store, ti('delete_cluster'), { outcome: 'success' })).toBe('success');
    expect((await store.getRun('td_work_fails', 'r1'))?.state).toBe('failed');
  });

  it("ignores the teardown's failure for the run's state, unless failRun", async () => {
    for (const [failRun, state] of [
      [false, 'success'],
      [true, 'failed'],
    ] as const) {
      const { store, ti } = await startRun(redis.conn(), cluster(`td_fails_${failRun}`, failRun));
      for (const t of ['create_cluster', 'work']) expect(await runTry(store, ti(t), { outcome: 'success' })).toBe('success');
      expect(await runTry(store, ti('delete_cluster'), { outcome: 'failed' })).toBe('failed');
      expect((await store.getRun(`td_fails_${failRun}`, 'r1'))?.state).toBe(state);
    }
  });

  it('skips the teardown when its setup failed: nothing to undo', async () => {
    const { store, ti } = await startRun(redis.conn(), cluster('td_setup_fails'));
    expect(await runTry(store, ti('create_cluster'), { outcome: 'failed' })).toBe('failed');
    expect((await store.getTi(ti('work')))?.state).toBe('upstream_failed');
    expect((await store.getTi(ti('delete_cluster')))?.state).toBe('skipped');
    expect((await store.getRun('td_setup_fails', 'r1'))?.state).toBe('failed');
  });

  it('clears the setup and the teardown with the work', async () => {
    const { store, ti } = await startRun(redis.conn(), cluster('td_clear'));
    for (const t of ['create_cluster', 'work', 'delete_cluster']) expect(await runTry(store, ti(t), { outcome: 'success' })).toBe('success');
    expect(await store.clearTis('td_clear', 'r1', ['work'])).toBe(3);
    const states = await Promise.all(['create_cluster', 'work', 'delete_cluster'].map(async (t) => (await store.getTi(ti(t)))?.state));
    // The setup runs again first; the work and the teardown wait for it.
    expect(states).toEqual(['queued', 'none', 'none']);
  });

  it('picks the leaves that decide the run as Airflow does, and checks the options', () => {
    expect(stateLeaves(cluster('leaves').serialize())).toEqual(['work']);
    expect(stateLeaves(cluster('leaves_fail', true).serialize())).toEqual(['delete_cluster']);
    const bad = dag({ id: 'bad_td' });
    const w = bad.command({ id: 'w', command: 'true' });
    bad.command({ id: 't', command: 'true', teardown: { setups: [w] }, triggerRule: 'all_success' });
    bad.command({ id: 'both', command: 'true', setup: true, teardown: true });
    expect(() => bad.serialize()).toThrow(
      /trigger rule is all_done_setup_success.*teardown.setups names "w", which is not a setup task.*a setup or a teardown, not both/,
    );
  });
});
