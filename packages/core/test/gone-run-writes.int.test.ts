import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, dag, Store, type TaskInstanceKey } from '../src/index.js';
import { startRedis, type RedisHandle } from '../src/testing/index.js';

/**
 * A worker's late bookkeeping for a run that is gone (deleted, or lost when a failover
 * promoted a replica that never had it) writes nothing: such keys would outlive every
 * retention, since retention removes runs, not stray keys.
 */
describe('writes for a task instance that does not exist (real redis-server)', () => {
  let redis: RedisHandle;
  let conn: ReturnType<typeof createRedis>;
  let store: Store;
  const prefix = `gw${Math.random().toString(36).slice(2, 7)}`;
  const gone: TaskInstanceKey = { dagId: 'writes', runId: 'vanished', taskId: 'work', mapIndex: -1 };
  const live: TaskInstanceKey = { dagId: 'writes', runId: 'r1', taskId: 'work', mapIndex: -1 };

  beforeAll(async () => {
    redis = await startRedis();
    conn = createRedis(redis.url);
    store = new Store(conn, prefix);
    const d = dag({ id: 'writes' });
    d.command({ id: 'work', command: 'true' });
    await store.saveDag(d.serialize());
    const now = new Date();
    await store.createRun({ dagId: 'writes', runId: 'r1', runType: 'manual', logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now });
  });
  afterAll(async () => {
    conn.disconnect();
    await redis.stop();
  });

  it('pod fields, process groups and log lines of a vanished run leave no key behind', async () => {
    const before = (await conn.keys(`${prefix}:*`)).sort();
    await store.setTiFields(gone, { pod: 'aloft-tasks/p-1', detail: 'pod running' });
    await store.setTiPgid(gone, 4242);
    await store.appendLog(gone, 1, [{ at: 1, stream: 'stdout', line: 'late line' }], { 'podLog:1:base': '{"lines":1}' });
    expect((await conn.keys(`${prefix}:*`)).sort()).toEqual(before);
  });

  it('the same writes for a live instance are kept', async () => {
    await store.setTiFields(live, { detail: 'pod running' });
    await store.setTiPgid(live, 4242);
    await store.appendLog(live, 1, [{ at: 1, stream: 'stdout', line: 'a line' }]);
    expect(await store.getTiField(live, 'detail')).toBe('pod running');
    expect(await store.getTiField(live, 'pgid')).toBe('4242');
    expect((await store.getLog(live, 1)).map((l) => l.line)).toContain('a line');
  });
});

describe('durability: replicas that must confirm a trigger (real redis-server, no replica)', () => {
  let redis: RedisHandle;
  let conn: ReturnType<typeof createRedis>;

  beforeAll(async () => {
    redis = await startRedis();
    conn = createRedis(redis.url);
  });
  afterAll(async () => {
    conn.disconnect();
    await redis.stop();
  });

  it('refuses to acknowledge a trigger no replica confirmed, naming the settings; a claim stands and is reported', async () => {
    const reported: string[] = [];
    const store = new Store(conn, `du${Math.random().toString(36).slice(2, 7)}`, 100, { replicas: 1, timeoutMs: 50 }, (err) => reported.push(err.message));
    const d = dag({ id: 'durable' });
    d.command({ id: 'work', command: 'true' });
    await store.saveDag(d.serialize());
    const now = new Date();
    await expect(
      store.createRun({ dagId: 'durable', runId: 'r1', runType: 'manual', logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now }),
    ).rejects.toThrow(
      'run "r1" of DAG "durable" was recorded by the Redis primary but confirmed by 0 of 1 replica(s) within 50 ms (ALOFT_REDIS_WAIT_REPLICAS, ALOFT_REDIS_WAIT_TIMEOUT_MS): it is lost if the primary fails over now',
    );
    const claim = await store.startTi({ dagId: 'durable', runId: 'r1', taskId: 'work', mapIndex: -1 }, 1, 'w1', 'host');
    expect(claim.status).toBe('ok');
    expect(reported).toEqual([
      expect.stringMatching(/^the claim of durable\.work \(run r1, try 1\) was recorded by the Redis primary but confirmed by 0 of 1/),
    ]);
    expect(store.replication).toEqual({ waits: 2, short: 2 });
  });
});
