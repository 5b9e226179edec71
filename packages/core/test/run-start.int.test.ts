import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, dag, Store } from '../src/index.js';
import { startRedis, type RedisHandle } from '../src/testing/index.js';

/**
 * A big run starts in steps of 500 tasks (lib.lua startRun, continueRuns.lua), so one
 * script call never evaluates all of it; whoever starts it goes on until every task is.
 */
describe('run start in steps (real redis-server)', () => {
  let redis: RedisHandle;
  let conn: ReturnType<typeof createRedis>;
  let store: Store;
  const prefix = `rs${Math.random().toString(36).slice(2, 7)}`;
  const TASKS = 1200;

  beforeAll(async () => {
    redis = await startRedis();
    conn = createRedis(redis.url);
    store = new Store(conn, prefix);
    for (const id of ['wide', 'other']) {
      const d = dag({ id, maxActiveRuns: 1 });
      for (let i = 0; i < TASKS; i++) d.command({ id: `t${i}`, command: 'true' });
      await store.saveDag(d.serialize());
    }
  });
  afterAll(async () => {
    conn.disconnect();
    await redis.stop();
  });

  const at = (ms: number) => new Date(ms);
  const counts = async (runId: string, dagId = 'wide') => {
    const states = Object.values(await store.getTiStates(dagId, runId));
    return { queued: states.filter((s) => s === 'queued').length, none: states.filter((s) => s === 'none').length };
  };

  it('createRun queues every task of a 1,200-task run before it returns', async () => {
    await store.createRun({ dagId: 'wide', runId: 'a', runType: 'manual', logicalDate: at(1000), dataIntervalStart: at(1000), dataIntervalEnd: at(1000) });
    expect(await counts('a')).toEqual({ queued: TASKS, none: 0 });
    expect(await conn.zcard(store.keys.startingRuns())).toBe(0);
    expect(await conn.hget(store.keys.run('wide', 'a'), 'evalNext')).toBeNull();
  });

  it('a run started inside another script has its first 500 tasks queued; continueRuns queues the rest', async () => {
    // maxActiveRuns 1: b waits, and starts inside cancelRun's script when a ends.
    await store.createRun({ dagId: 'wide', runId: 'b', runType: 'manual', logicalDate: at(2000), dataIntervalStart: at(2000), dataIntervalEnd: at(2000) });
    expect((await store.getRun('wide', 'b'))?.state).toBe('queued');
    await store.cancelRun('wide', 'a');
    expect((await store.getRun('wide', 'b'))?.state).toBe('running');
    expect(await counts('b')).toEqual({ queued: 500, none: TASKS - 500 });
    expect(await conn.zrange(store.keys.startingRuns(), 0, -1)).toEqual(['wide|b']);
    expect(await conn.hget(store.keys.run('wide', 'b'), 'evalNext')).toBe('501');

    await store.continueRuns();
    expect(await counts('b')).toEqual({ queued: TASKS, none: 0 });
    expect(await conn.zcard(store.keys.startingRuns())).toBe(0);
    expect(await conn.hget(store.keys.run('wide', 'b'), 'evalNext')).toBeNull();
  });

  it("a caller goes on with its own DAG's runs only; the scheduler's call with every DAG's", async () => {
    const make = (dagId: string, runId: string, ms: number) =>
      store.createRun({ dagId, runId, runType: 'manual', logicalDate: at(ms), dataIntervalStart: at(ms), dataIntervalEnd: at(ms) });
    await make('other', 'o1', 1000);
    await make('other', 'o2', 2000);
    await store.cancelRun('other', 'o1'); // starts o2 inside the script: 500 queued
    expect(await counts('o2', 'other')).toEqual({ queued: 500, none: TASKS - 500 });
    // As createRun of a run of `wide` does after its script: other's start is left alone.
    await store.continueRuns('wide');
    expect(await counts('o2', 'other')).toEqual({ queued: 500, none: TASKS - 500 });
    await store.continueRuns();
    expect(await counts('o2', 'other')).toEqual({ queued: TASKS, none: 0 });
    expect(await conn.zcard(store.keys.startingRuns())).toBe(0);
  });

  it('a run cancelled while starting leaves the set without more tasks queued', async () => {
    await store.createRun({ dagId: 'wide', runId: 'c', runType: 'manual', logicalDate: at(3000), dataIntervalStart: at(3000), dataIntervalEnd: at(3000) });
    await store.cancelRun('wide', 'b');
    expect(await conn.zrange(store.keys.startingRuns(), 0, -1)).toEqual(['wide|c']);
    await store.cancelRun('wide', 'c');
    await store.continueRuns();
    expect(await conn.zcard(store.keys.startingRuns())).toBe(0);
    expect((await counts('c')).queued).toBe(0);
  });
});
