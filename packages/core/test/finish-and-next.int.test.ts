import { createRedisBackend, raw2NextJobData, type RedisQueueBackend } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chain, completionArgs, createRedis, dag, Store, type TaskInstanceKey } from '../src/index.js';
import { startRedis, type RedisHandle } from '../src/testing/index.js';

/**
 * finishAndNext: a worker's finish, BullMQ's completion with fetch, and the claim of the
 * fetched job in one script call, driven through BullMQ's own backend as the worker drives it.
 */
describe('finishAndNext (real redis-server, BullMQ backend)', () => {
  let redis: RedisHandle;
  let conn: ReturnType<typeof createRedis>;
  let store: Store;
  let queue: RedisQueueBackend;
  const prefix = `fn${Math.random().toString(36).slice(2, 7)}`;
  const TOKEN = 'test-token';
  const WORKER = { workerId: 'w1', host: 'h1' };

  beforeAll(async () => {
    redis = await startRedis();
    conn = createRedis(redis.url);
    store = new Store(conn, prefix);
    const d = dag({ id: 'fan' });
    const [a, b] = [d.fn({ id: 'a', run: () => 1 }), d.fn({ id: 'b', run: () => 2 })];
    const c = d.fn({ id: 'c', upstream: [a, b], run: () => 3 });
    chain(c, d.fn({ id: 'd', run: () => 4 }));
    await store.saveDag(d.serialize());
    queue = backendFor('default');
  });
  afterAll(async () => {
    await Promise.all(backends.map((b) => b.close()));
    conn.disconnect();
    await redis.stop();
  });

  const backends: RedisQueueBackend[] = [];
  /** BullMQ's backend for one queue, as the worker's BullMQ Worker builds it. */
  const backendFor = (name: string) => {
    const b = createRedisBackend(
      name,
      { connection: createRedis(redis.url), prefix: store.keys.bullPrefix, removeOnComplete: { count: 0 }, lockDuration: 30_000 } as Parameters<
        typeof createRedisBackend
      >[1],
      {
        withBlockingConnection: false,
      },
    ) as RedisQueueBackend;
    backends.push(b);
    return b;
  };

  const dataOf = (raw: Record<string, unknown>) => JSON.parse(String(raw['data'])) as TaskInstanceKey & { try: number };
  const keyOf = (d: TaskInstanceKey) => ({ dagId: d.dagId, runId: d.runId, taskId: d.taskId, mapIndex: d.mapIndex });

  /** Completes `id` with the finish of its try and returns what the script gave back. */
  const finish = async (id: string, data: TaskInstanceKey & { try: number }, output: unknown, on = queue, outcome: 'success' | 'failed' = 'success') => {
    const { keys, args } = completionArgs(on, { id, opts: { attempts: 1 }, data } as never, true, TOKEN, true);
    const [r] = await store.finishAndNext(
      [{ key: keyOf(data), tryNumber: data.try, finish: { outcome, output: JSON.stringify(output) }, bull: { keys, args } }],
      WORKER,
    );
    if (!r || r instanceof Error) throw r ?? new Error('no reply');
    return r;
  };

  it('records the finish, completes the job, fetches the next and claims it with its upstream outputs', async () => {
    const now = new Date();
    await store.createRun({ dagId: 'fan', runId: 'r1', runType: 'manual', logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now });

    // a and b are queued; take the first the way BullMQ's worker does, then claim it.
    const [raw1, id1] = await queue.moveToActive(TOKEN, 'test');
    const first = dataOf(raw1!);
    expect((await store.startTi(keyOf(first), first.try, WORKER.workerId, WORKER.host)).status).toBe('ok');

    // Its finish fetches and claims the other root in the same call.
    const r1 = await finish(id1!, first, first.taskId === 'a' ? 1 : 2);
    expect(r1.state).toBe('success');
    const next = r1.bull as [string[], string];
    expect(next[1]).toMatch(/^fan\|r1\|[ab]\|-1\|1$/);
    // What the worker needs of the run comes with the claim.
    const run = await store.getRun('fan', 'r1');
    expect(r1.claim).toEqual({
      status: 'ok',
      run: { version: run!.version, logicalDate: now.getTime(), dataIntervalStart: now.getTime(), dataIntervalEnd: now.getTime(), conf: {} },
    });
    // (A root has no upstream, so no outputs.)
    const second = dataOf(Object.fromEntries(next[0].flatMap((v, i, xs) => (i % 2 ? [] : [[v, xs[i + 1]]]))));
    expect(second.taskId).not.toBe(first.taskId);
    expect(await store.getTi(keyOf(second))).toMatchObject({ state: 'running', worker: 'w1', hostname: 'h1' });
    // The claim wrote the try's first log line, as a worker's own claim does.
    expect(await store.getLog(keyOf(second), 1)).toMatchObject([{ stream: 'system', line: `try 1 of fan.${second.taskId}, run r1, on w1` }]);
    expect(await store.getTi(keyOf(first))).toMatchObject({ state: 'success' });
    // The first job is gone, as BullMQ's own completion with removeOnComplete leaves it.
    expect(await conn.exists(`${store.keys.bullQueuePrefix('default')}${id1}`)).toBe(0);

    // Finishing the second makes c ready; the same call fetches c and claims it with a's and b's outputs.
    const r2 = await finish(next[1], second, second.taskId === 'a' ? 1 : 2);
    expect(r2.state).toBe('success');
    const third = r2.bull as [string[], string];
    expect(third[1]).toBe('fan|r1|c|-1|1');
    expect(r2.claim).toMatchObject({ status: 'ok', outputs: { a: 1, b: 2 } });
  });

  it('takes the finishes of several tasks in one call, each with its own fetch', async () => {
    // Empty the queue of what the other tests left, then start run r3 and take both roots.
    for (let [, id] = await queue.moveToActive(TOKEN, 'test'); id; [, id] = await queue.moveToActive(TOKEN, 'test')) {
      await queue.moveToCompleted({ id, opts: { attempts: 1 }, data: {} } as never, undefined, true, TOKEN, false);
    }
    const now = new Date(Date.now() + 2000);
    await store.createRun({ dagId: 'fan', runId: 'r3', runType: 'manual', logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now });
    const taken = [await queue.moveToActive(TOKEN, 'test'), await queue.moveToActive(TOKEN, 'test')].map(([raw, id]) => ({ id: id!, data: dataOf(raw!) }));
    for (const t of taken) expect((await store.startTi(keyOf(t.data), 1, WORKER.workerId, WORKER.host)).status).toBe('ok');
    const finishes = taken.map((t) => {
      const { keys, args } = completionArgs(queue, { id: t.id, opts: { attempts: 1 }, data: t.data } as never, true, TOKEN, true);
      return { key: keyOf(t.data), tryNumber: 1, finish: { outcome: 'success' as const, output: JSON.stringify(t.data.taskId) }, bull: { keys, args } };
    });
    const [first, second] = await store.finishAndNext(finishes, WORKER);
    if (!first || first instanceof Error || !second || second instanceof Error) throw new Error('a finish failed');
    // The first finish leaves c waiting for the second root, so its fetch finds nothing; the
    // second makes c ready, and its fetch takes c with both outputs.
    expect([first.state, second.state]).toEqual(['success', 'success']);
    expect(first.bull).toBe(0);
    expect((second.bull as [string[], string])[1]).toBe('fan|r3|c|-1|1');
    expect(second.claim).toMatchObject({ status: 'ok', outputs: { a: 'a', b: 'b' } });
    // The second finish sent only the keys that differ from the first's (its job's own):
    // both jobs were completed and removed.
    for (const t of taken) expect(await conn.exists(`${store.keys.bullQueuePrefix('default')}${t.id}`)).toBe(0);
  });

  it('leaves a stale try alone but still completes its job', async () => {
    const now = new Date(Date.now() + 1000);
    await store.createRun({ dagId: 'fan', runId: 'r2', runType: 'manual', logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now });
    // Drain what r1 left (c), then take one of r2's roots without claiming its try.
    let [raw, id] = await queue.moveToActive(TOKEN, 'test');
    while (id && dataOf(raw!).runId !== 'r2') {
      await queue.moveToCompleted({ id, opts: { attempts: 1 }, data: {} } as never, undefined, true, TOKEN, false);
      [raw, id] = await queue.moveToActive(TOKEN, 'test');
    }
    const data = dataOf(raw!);
    const r = await finish(id!, data, 0);
    expect(r.state).toBe('stale');
    expect((await store.getTi(keyOf(data)))?.state).toBe('queued');
    expect(await conn.exists(`${store.keys.bullQueuePrefix('default')}${id}`)).toBe(0);
  });

  // BullMQ's fetch answers { 0, 0, 0, delayUntil } when the queue holds only delayed jobs;
  // the worker's BullMQ must get that answer as it is, to sleep until the first of them.
  it('with only a retry left in the queue, records the finish and hands BullMQ the delay until that retry', async () => {
    const d = dag({ id: 'retry_only' });
    d.command({ id: 't', command: 'false', queue: 'retry_only', retries: 1, retryDelay: '60s' });
    await store.saveDag(d.serialize());
    const q = backendFor('retry_only');
    const now = new Date();
    await store.createRun({ dagId: 'retry_only', runId: 'r1', runType: 'manual', logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now });
    const [raw, id] = await q.moveToActive(TOKEN, 'test');
    const data = dataOf(raw!);
    expect((await store.startTi(keyOf(data), 1, WORKER.workerId, WORKER.host)).status).toBe('ok');

    const before = Date.now();
    const r = await finish(id!, data, null, q, 'failed');
    expect(r.state).toBe('up_for_retry');
    expect(r.claim).toBeUndefined();
    const [job, nextId, limitDelay, delayUntil] = raw2NextJobData(r.bull as unknown[]);
    expect([job, nextId, limitDelay]).toEqual([null, 0, 0]);
    // The retry's delayed job, 60 s on (BullMQ keeps its timestamp in whole ms).
    expect(delayUntil).toBeGreaterThanOrEqual(before + 60_000);
    expect(delayUntil).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(await conn.exists(`${store.keys.bullQueuePrefix('retry_only')}${id}`)).toBe(0);
  });

  it('with maxActiveTasks holding the other task back as a delayed job, records the finish and hands BullMQ that delay', async () => {
    const d = dag({ id: 'one_at_a_time', maxActiveTasks: 1 });
    d.command({ id: 'a', command: 'true', queue: 'one_at_a_time' });
    d.command({ id: 'b', command: 'true', queue: 'one_at_a_time' });
    await store.saveDag(d.serialize());
    const q = backendFor('one_at_a_time');
    const now = new Date();
    await store.createRun({ dagId: 'one_at_a_time', runId: 'r1', runType: 'manual', logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now });
    const taken = [await q.moveToActive(TOKEN, 'test'), await q.moveToActive(TOKEN, 'test')].map(([raw, id]) => ({ id: id!, data: dataOf(raw!) }));
    const [first, second] = taken as [(typeof taken)[0], (typeof taken)[0]];
    expect((await store.startTi(keyOf(first.data), 1, WORKER.workerId, WORKER.host)).status).toBe('ok');
    // The second is held back, and waits as a delayed job as the worker makes it.
    expect((await store.startTi(keyOf(second.data), 1, WORKER.workerId, WORKER.host)).status).toBe('busy');
    const moved = Date.now();
    const retryAt = moved + 5_000;
    await q.moveToDelayed(second.id, moved, 5_000, TOKEN);

    const r = await finish(first.id, first.data, null, q);
    expect(r.state).toBe('success');
    expect(r.claim).toBeUndefined();
    expect(raw2NextJobData(r.bull as unknown[])).toEqual([null, 0, 0, retryAt]);
    expect((await store.getTi(keyOf(second.data)))?.state).toBe('queued');
  });
});
