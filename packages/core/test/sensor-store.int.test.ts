import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, dag, Store, type TaskInstanceKey } from '../src/index.js';
import { startRedis, type RedisHandle } from '../src/testing/index.js';

/** The store's side of reschedule-mode sensors: slots given back, the same try claimed again, lost jobs recovered. */
describe('reschedule-mode sensors in Redis (real redis-server)', () => {
  let redis: RedisHandle;
  let conn: ReturnType<typeof createRedis>;
  const prefix = `sn${Math.random().toString(36).slice(2, 7)}`;
  let store: Store;
  let runN = 0;

  beforeAll(async () => {
    redis = await startRedis();
    conn = createRedis(redis.url);
    store = new Store(conn, prefix);
    await store.setPool('gate', 1);
    const d = dag({ id: 'snstore', maxActiveTasks: 1 });
    d.fileSensor({ id: 'wait', path: '/nowhere', mode: 'reschedule', pokeInterval: '1s', pool: 'gate', retries: 1 });
    await store.saveDag(d.serialize());
  });
  afterAll(async () => {
    conn.disconnect();
    await redis.stop();
  });

  const newRun = async (): Promise<TaskInstanceKey> => {
    const runId = `r${++runN}`;
    const now = new Date();
    await store.createRun({ dagId: 'snstore', runId, runType: 'manual', logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now });
    return { dagId: 'snstore', runId, taskId: 'wait', mapIndex: -1 };
  };
  const jobKey = async (key: TaskInstanceKey) => `${store.keys.bullQueuePrefix('default')}${(await store.getTi(key))!.jobId}`;
  const pool = async () => (await store.listPools()).find((p) => p.name === 'gate')!;

  it('gives back the task and pool slots between pokes and claims the same try again', async () => {
    const key = await newRun();
    expect((await store.startTi(key, 1, 'w1', 'h')).status).toBe('ok');
    expect(await pool()).toMatchObject({ used: 1, queued: 0 });
    expect(await conn.zcard(store.keys.running('snstore'))).toBe(1);

    const nextPokeAt = Date.now() + 1000;
    expect(await store.rescheduleTi(key, 1, { nextPokeAt, pokes: 1, logLines: [{ at: Date.now(), stream: 'system', line: 'poke 1: not yet' }] })).toBe(
      'up_for_reschedule',
    );
    expect(await store.getTi(key)).toMatchObject({ state: 'up_for_reschedule', try: 1, nextPokeAt, pokes: 1 });
    expect(await pool()).toMatchObject({ used: 0, queued: 1 });
    expect(await conn.zcard(store.keys.running('snstore'))).toBe(0);
    expect(await store.reconcilePools()).toBe(0);
    expect((await store.getLog(key, 1)).map((l) => l.line)).toContain('poke 1: not yet');

    // A second reschedule of the same try, or one by a stale try, changes nothing.
    expect(await store.rescheduleTi(key, 1, { nextPokeAt, pokes: 1 })).toBe('stale');
    expect((await store.startTi(key, 2, 'w2', 'h')).status).toBe('stale');
    expect((await store.startTi(key, 1, 'w2', 'h')).status).toBe('ok');
    expect(await store.getTi(key)).toMatchObject({ state: 'running', try: 1, worker: 'w2' });
    expect(await pool()).toMatchObject({ used: 1, queued: 0 });
    expect(await store.finishTi(key, 1, { outcome: 'success' })).toBe('success');
    expect(await pool()).toMatchObject({ used: 0, queued: 0 });
  });

  it('the sweep re-adds the lost job of an overdue up_for_reschedule sensor, same try, and only then', async () => {
    const key = await newRun();
    await store.startTi(key, 1, 'w1', 'h');
    const job = await jobKey(key);
    await store.rescheduleTi(key, 1, { nextPokeAt: Date.now() - 10, pokes: 3 });
    expect(await conn.exists(job)).toBe(1);
    expect((await store.sweep('snstore', 60_000)).requeued).toBe(0);

    await conn.del(job);
    await conn.zrem(`${store.keys.bullQueuePrefix('default')}delayed`, job.slice(store.keys.bullQueuePrefix('default').length));
    expect((await store.sweep('snstore', 60_000)).requeued).toBe(0); // not yet overdue by staleMs
    expect((await store.sweep('snstore', 0)).requeued).toBe(1);
    expect(await conn.exists(job)).toBe(1);
    expect(JSON.parse((await conn.hget(job, 'data'))!)).toMatchObject({ taskId: 'wait', try: 1 });
    expect(await store.getTi(key)).toMatchObject({ state: 'up_for_reschedule', try: 1 });
    expect((await store.sweep('snstore', 0)).requeued).toBe(0);
    expect((await store.startTi(key, 1, 'w1', 'h')).status).toBe('ok');
    await store.finishTi(key, 1, { outcome: 'success' });
  });

  it('cancel fails a waiting sensor; clear resets its first poke; a timeout does not retry', async () => {
    const key = await newRun();
    await store.startTi(key, 1, 'w1', 'h');
    await store.sensorProgress(key);
    await store.rescheduleTi(key, 1, { nextPokeAt: Date.now() + 60_000, pokes: 1 });
    await store.cancelRun('snstore', key.runId, 'stop');
    expect(await store.getTi(key)).toMatchObject({ state: 'failed', reason: 'stop' });
    expect(await pool()).toMatchObject({ used: 0, queued: 0 });
    expect((await store.startTi(key, 1, 'w1', 'h')).status).toBe('stale');

    expect((await store.getTi(key))!.firstPokeAt).toBeGreaterThan(0);
    await store.clearTis('snstore', key.runId, ['wait']);
    const cleared = (await store.getTi(key))!;
    expect(cleared).toMatchObject({ state: 'queued', try: 2, maxTries: 3 });
    expect(cleared.firstPokeAt).toBeUndefined();
    expect(cleared.pokes).toBeUndefined();

    // A retry is left, but a sensor's timeout is final; a plain failure retries.
    await store.startTi(key, 2, 'w1', 'h');
    expect(await store.finishTi(key, 2, { outcome: 'failed', reason: 'sensor timed out', noRetry: true })).toBe('failed');
    await store.clearTis('snstore', key.runId, ['wait']);
    expect(await store.getTi(key)).toMatchObject({ state: 'queued', try: 3, maxTries: 4 });
    await store.startTi(key, 3, 'w1', 'h');
    expect(await store.finishTi(key, 3, { outcome: 'failed', reason: 'boom' })).toBe('up_for_retry');
  });
});
