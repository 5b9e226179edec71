import { createRedisBackend, type RedisQueueBackend } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completionArgs, createRedis, dag, Store, type TaskInstanceKey } from '../src/index.js';
import { startRedis, type RedisHandle } from '../src/testing/index.js';

const REASON = 'the worker running this try died 3 times (killed, crashed, or cut off from Redis for longer than its lock); it is not started again';

/**
 * A try that kills its worker (a poison pill) is failed by the claim that would take it
 * over for the ALOFT_MAX_TAKEOVERS-th time, counted from its job's stalls (claim.lua).
 */
describe('poison pill: the claim after too many worker deaths (real redis-server)', () => {
  let redis: RedisHandle;
  let conn: ReturnType<typeof createRedis>;
  let store: Store;
  const prefix = `pp${Math.random().toString(36).slice(2, 7)}`;
  const W = { workerId: 'w1', host: 'h1' };

  beforeAll(async () => {
    redis = await startRedis();
    conn = createRedis(redis.url);
    store = new Store(conn, prefix);
    const d = dag({ id: 'pill' });
    const pill = d.command({ id: 'pill', command: 'true', retries: 1, retryDelay: '60s' });
    pill.then(d.command({ id: 'after', command: 'true' }));
    await store.saveDag(d.serialize());
  });
  afterAll(async () => {
    await Promise.all(backends.map((b) => b.close()));
    for (const c of connections) c.disconnect();
    conn.disconnect();
    await redis.stop();
  });

  const run = async (runId: string) => {
    const now = new Date(Date.now() + Math.floor(Math.random() * 1e6));
    await store.createRun({ dagId: 'pill', runId, runType: 'manual', logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now });
    return { dagId: 'pill', runId, taskId: 'pill', mapIndex: -1 } satisfies TaskInstanceKey;
  };

  it('takes the try over while its worker died fewer times than the cap, then fails it; retries apply, as for an Airflow zombie', async () => {
    const key = await run('r1');
    const claim = (deaths: number) => store.startTi(key, 1, 'w2', 'h2', { log: true, deaths, maxDeaths: 3 });
    expect((await claim(0)).status).toBe('ok');
    expect((await claim(1)).status).toBe('takeover');
    expect((await claim(2)).status).toBe('takeover');
    expect(await store.getTi(key)).toMatchObject({ state: 'running', try: 1 });
    expect(await claim(3)).toMatchObject({ status: 'poison', state: 'up_for_retry', reason: REASON, run: { version: expect.any(String) as string } });
    // The retry's try is recorded at once; it waits for its delay.
    expect(await store.getTi(key)).toMatchObject({ state: 'up_for_retry', try: 2, reason: REASON });
    expect((await store.getLog(key, 1)).at(-1)).toMatchObject({ stream: 'system', line: REASON });

    // The next try starts afresh; the same deaths on it fail it for good.
    expect((await store.startTi(key, 2, 'w3', 'h3', { deaths: 0, maxDeaths: 3 })).status).toBe('ok');
    expect(await store.startTi(key, 2, 'w3', 'h3', { deaths: 3, maxDeaths: 3 })).toMatchObject({ status: 'poison', state: 'failed' });
    expect(await store.getTi(key)).toMatchObject({ state: 'failed', try: 2, reason: REASON });
    expect((await store.getTi({ ...key, taskId: 'after' }))?.state).toBe('upstream_failed');
  });

  it('takes any number of takeovers with no cap (maxDeaths 0), and ignores deaths on a first claim', async () => {
    const key = await run('r2');
    expect((await store.startTi(key, 1, 'w1', 'h1', { deaths: 5, maxDeaths: 3 })).status).toBe('ok');
    expect((await store.startTi(key, 1, 'w2', 'h2', { deaths: 50, maxDeaths: 0 })).status).toBe('takeover');
    expect(await store.getTi(key)).toMatchObject({ state: 'running' });
  });

  const backends: RedisQueueBackend[] = [];
  const connections: ReturnType<typeof createRedis>[] = [];
  it('counts the deaths BullMQ saw (its stalled count) when a finish fetches and claims the job', async () => {
    const d = dag({ id: 'pill_fused' });
    d.command({ id: 'pill', command: 'true', queue: 'pill_fused' });
    d.command({ id: 'other', command: 'true', queue: 'pill_fused' });
    await store.saveDag(d.serialize());
    const qConn = createRedis(redis.url);
    connections.push(qConn);
    const q = createRedisBackend(
      'pill_fused',
      {
        connection: qConn,
        prefix: store.keys.bullPrefix,
        removeOnComplete: { count: 0 },
        lockDuration: 30_000,
        maxStalledCount: 100,
        stalledInterval: 30_000,
      } as Parameters<typeof createRedisBackend>[1],
      { withBlockingConnection: false },
    ) as RedisQueueBackend;
    backends.push(q);
    const now = new Date();
    await store.createRun({ dagId: 'pill_fused', runId: 'r1', runType: 'manual', logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now });
    const TOKEN = 'token';
    const jobs = new Map<string, { id: string; data: TaskInstanceKey & { try: number } }>();
    const take = async () => {
      const [raw, id] = await q.moveToActive(TOKEN, 'test');
      const data = JSON.parse(String(raw!['data'])) as TaskInstanceKey & { try: number };
      jobs.set(data.taskId, { id: id!, data });
      return { stc: Number(raw!['stalledCounter'] ?? 0), key: { dagId: data.dagId, runId: data.runId, taskId: data.taskId, mapIndex: data.mapIndex } };
    };
    const qp = store.keys.bullQueuePrefix('pill_fused');
    // BullMQ's own stall handling of a worker that died: its lock lapses, and two stalled
    // checks (the first marks the active jobs, the second moves the unlocked ones) put the
    // job back in wait with its stalled count one up.
    const stall = async (id: string) => {
      await conn.del(`${qp}${id}:lock`, `${qp}stalled-check`);
      await q.moveStalledJobsToWait();
      await conn.del(`${qp}stalled-check`);
      await q.moveStalledJobsToWait();
    };
    for (let i = 0; i < 2; i++) {
      const t = await take();
      expect((await store.startTi(t.key, 1, W.workerId, W.host, { deaths: t.stc, maxDeaths: 3 })).status).toBe('ok');
    }
    const pill = jobs.get('pill')!;
    const other = jobs.get('other')!;
    // The pill's worker dies twice; each time another takes it over.
    for (let death = 1; death <= 2; death++) {
      await stall(pill.id);
      const t = await take();
      expect(t.stc).toBe(death);
      expect((await store.startTi(t.key, 1, 'w2', 'h2', { deaths: t.stc, maxDeaths: 3 })).status).toBe('takeover');
    }
    // The third death; the job comes back to the worker finishing `other`, in the same call.
    await stall(pill.id);
    const { keys, args } = completionArgs(q, { id: other.id, opts: { attempts: 1 }, data: other.data } as never, true, TOKEN, true);
    const [r] = await store.finishAndNext([{ key: other.data, tryNumber: 1, finish: { outcome: 'success' }, bull: { keys, args } }], { ...W, maxDeaths: 3 });
    if (!r || r instanceof Error) throw r ?? new Error('no reply');
    expect(r.state).toBe('success');
    expect((r.bull as [unknown, string])[1]).toBe(pill.id);
    expect(r.claim).toMatchObject({ status: 'poison', state: 'failed', reason: REASON });
    expect(await store.getTi({ dagId: 'pill_fused', runId: 'r1', taskId: 'pill', mapIndex: -1 })).toMatchObject({ state: 'failed', reason: REASON });
  });
});
