import { describe, expect, it } from 'vitest';
import { dag } from '../src/index.js';
import { runTry, startRun } from './fixtures/store-run.js';
import { useRedis } from './fixtures/use-redis.js';

/**
 * Store.deleteDag: a DAG's whole history goes (runs, task instances, logs, outputs, graph
 * versions, its place in the DAG list and the dataset indexes), but only once no run is
 * still going; the keys of every other DAG and the shared ones stay.
 */
describe('deleting a DAG in the store (real redis-server)', () => {
  const redis = useRedis();

  const keysOf = async (prefix: string) => (await redis.conn().keys(`${prefix}:*`)).sort();

  it('refuses while a run is unfinished, then deletes every key of the DAG and nothing else', async () => {
    const d = dag({ id: 'doomed' });
    const a = d.command({ id: 'a', command: 'true', outlets: ['s3://bucket/doomed'] });
    a.then(d.command({ id: 'b', command: 'true' }));
    const { store, ti } = await startRun(redis.conn(), d);
    const other = dag({ id: 'doomed_not' });
    other.command({ id: 'x', command: 'true' });
    await store.saveDag(other.serialize());
    const at = new Date();
    await store.createRun({ dagId: 'doomed_not', runId: 'r1', runType: 'manual', logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at });
    const before = await keysOf(store.keys.prefix);

    expect(await store.deleteDag('doomed')).toBeUndefined();
    expect(await runTry(store, ti('a'), { outcome: 'success', output: '{"rows":1}', logLines: [{ at: Date.now(), stream: 'stdout', line: 'hello' }] })).toBe(
      'success',
    );
    expect(await runTry(store, ti('b'), { outcome: 'success' })).toBe('success');
    expect((await store.getRun('doomed', 'r1'))?.state).toBe('success');
    expect((await keysOf(store.keys.prefix)).filter((k) => k.includes(':log:doomed:')).length).toBeGreaterThan(0);

    expect(await store.deleteDag('doomed')).toEqual({ runs: 1 });
    const after = await keysOf(store.keys.prefix);
    // No key names the DAG any more (BullMQ's finished jobs are its own, trimmed by its retention).
    expect(after.filter((k) => /[:|]doomed([:|]|$)/.test(k) && !k.includes(':bull:'))).toEqual([]);
    // The other DAG's keys are all still there.
    expect(before.filter((k) => k.includes('doomed_not')).every((k) => after.includes(k))).toBe(true);
    expect(await store.listDagIds()).toEqual(['doomed_not']);
    expect(await store.getDag('doomed')).toBeUndefined();
    expect((await store.datasets.list()).find((x) => x.uri === 's3://bucket/doomed')?.producers ?? []).toEqual([]);
  });
});
