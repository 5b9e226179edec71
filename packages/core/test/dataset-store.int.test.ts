import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, dag, Store, type SerializedDag } from '../src/index.js';
import { startRedis, type RedisHandle } from '../src/testing/index.js';

let redis: RedisHandle;
let store: Store;
let n = 0;

beforeAll(async () => {
  redis = await startRedis();
  store = new Store(createRedis(redis.url), 'ds');
});
afterAll(async () => {
  await store.redis.quit();
  await redis.stop();
});

function producer(id: string, outlets: string[]): SerializedDag {
  const d = dag({ id, maxActiveRuns: 100, maxActiveTasks: 100 });
  d.command({ id: 'write', command: 'true', outlets });
  return d.serialize();
}

function consumer(id: string, datasets: string[]): SerializedDag {
  const d = dag({ id, schedule: { datasets } });
  d.empty({ id: 'go' });
  return d.serialize();
}

/** One producer run whose task succeeds, as a worker would record it. */
async function produce(dagId: string): Promise<string> {
  const runId = `manual__${++n}`;
  const at = new Date();
  await store.createRun({ dagId, runId, runType: 'manual', logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at });
  const key = { dagId, runId, taskId: 'write', mapIndex: -1 };
  expect((await store.startTi(key, 1, 'w', 'h')).status).toBe('ok');
  expect(await store.finishTi(key, 1, { outcome: 'success' })).toBe('success');
  return runId;
}

const consumerRuns = async (dagId: string) => (await store.listRuns(dagId, { limit: 100 })).filter((r) => r.runType === 'dataset_triggered');

describe('dataset store (real redis-server)', () => {
  it('creates a run once all datasets were updated, and keeps the indexes as DAGs change and go', async () => {
    await store.saveDag(producer('pa', ['a']));
    await store.saveDag(producer('pb', ['b']));
    await store.saveDag(consumer('c', ['a', 'b']));

    await produce('pa');
    await produce('pa');
    expect(await consumerRuns('c')).toHaveLength(0);
    const b1 = await produce('pb');
    const [first] = await consumerRuns('c');
    expect(first?.datasetEvents?.map((e) => e.uri)).toEqual(['a', 'b']);
    expect(first?.datasetEvents?.[1]).toMatchObject({ dagId: 'pb', runId: b1, taskId: 'write' });
    expect(await store.datasets.pending('c')).toEqual([]);

    // Only b pending; the schedule shrinks to [b]: saving the DAG makes the run it is now due.
    await produce('pb');
    expect(await consumerRuns('c')).toHaveLength(1);
    await store.saveDag(consumer('c', ['b']));
    expect(await consumerRuns('c')).toHaveLength(2);
    expect(await store.redis.smembers(store.keys.datasetConsumers('a'))).toEqual([]);

    // Its file is gone: it leaves the index and updates no longer reach it.
    await store.markDagMissing('c');
    await produce('pb');
    expect(await consumerRuns('c')).toHaveLength(2);
    expect(await store.datasets.pending('c')).toEqual([]);

    // The producer now writes a2: a keeps its history but no producer.
    await store.saveDag(producer('pa', ['a2']));
    const list = await store.datasets.list();
    expect(list.map((d) => [d.uri, d.updates, d.producers, d.consumers])).toEqual([
      ['a', 2, [], []],
      ['a2', 0, ['pa'], []],
      ['b', 3, ['pb'], []],
    ]);
    expect((await store.datasets.events({ uri: 'b' })).map((e) => e.uri)).toEqual(['b', 'b', 'b']);
  });

  it('makes one run per complete set of updates when many producers finish at once', async () => {
    await store.saveDag(producer('px', ['x']));
    await store.saveDag(consumer('cx', ['x']));
    await Promise.all(Array.from({ length: 20 }, () => produce('px')));
    const runs = await consumerRuns('cx');
    expect(runs).toHaveLength(20);
    expect(new Set(runs.map((r) => r.datasetEvents![0]!.runId)).size).toBe(20);
  });
});
