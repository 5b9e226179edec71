import { createRedisBackend, raw2NextJobData, type RedisQueueBackend } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { completionArgs, dag, type DagOptions, type Store, type TaskInstanceKey } from '../src/index.js';
import { claim, startRun, type StoreRun } from './fixtures/store-run.js';
import { useRedis } from './fixtures/use-redis.js';

/**
 * finishAndNext when the queue holds only delayed jobs: the finish is recorded and the job
 * completed, nothing is claimed, BullMQ gets its own answer (the time of the first delayed
 * job, for its worker to sleep until), and the delayed job stays as it was.
 */
describe('finishAndNext with only delayed jobs left in the queue (real redis-server, BullMQ backend)', () => {
  const redis = useRedis();
  const TOKEN = 'test-token';
  const WORKER = { workerId: 'w1', host: 'h1' };
  const backends: RedisQueueBackend[] = [];
  const connections: ReturnType<ReturnType<typeof redis.conn>['duplicate']>[] = [];
  afterAll(async () => {
    await Promise.all(backends.map((b) => b.close()));
    for (const c of connections) c.disconnect();
  });

  /** BullMQ's backend for one queue, as the worker's BullMQ Worker builds it. */
  const backendFor = (store: Store, name: string) => {
    const connection = redis.conn().duplicate();
    connections.push(connection);
    const b = createRedisBackend(
      name,
      { connection, prefix: store.keys.bullPrefix, removeOnComplete: { count: 0 }, lockDuration: 30_000 } as Parameters<typeof createRedisBackend>[1],
      {
        withBlockingConnection: false,
      },
    ) as RedisQueueBackend;
    backends.push(b);
    return b;
  };

  type Taken = { id: string; key: TaskInstanceKey };
  /** The finish of `t` (try 1) through finishAndNext, its job completed with `fetchNext`. */
  const finish = async (store: Store, q: RedisQueueBackend, t: Taken, outcome: 'success' | 'failed', fetchNext: boolean) => {
    const data = { ...t.key, try: 1 };
    const { keys, args } = completionArgs(q, { id: t.id, opts: { attempts: 1 }, data } as never, true, TOKEN, fetchNext);
    const [r] = await store.finishAndNext([{ key: t.key, tryNumber: 1, finish: { outcome }, bull: { keys, args } }], WORKER);
    if (!r || r instanceof Error) throw r ?? new Error('no reply');
    return r;
  };

  interface Row {
    dag: Partial<DagOptions>;
    /** b's task options. */
    b: { retries?: number; retryDelay?: string };
    /** Puts b's job among the delayed, as a worker or the scripts do; b's state then. */
    delay: (s: { run: StoreRun; q: RedisQueueBackend; b: Taken }) => Promise<string>;
  }
  const ROWS: [string, Row][] = [
    [
      "another task's retry",
      {
        dag: {},
        b: { retries: 1, retryDelay: '60s' },
        delay: async ({ run, q, b }) => {
          expect((await claim(run.store, b.key)).status).toBe('ok');
          expect((await finish(run.store, q, b, 'failed', false)).state).toBe('up_for_retry');
          return 'up_for_retry';
        },
      },
    ],
    [
      'a task held back by maxActiveTasks',
      {
        dag: { maxActiveTasks: 1 },
        b: {},
        delay: async ({ run, q, b }) => {
          expect((await claim(run.store, b.key)).status).toBe('busy');
          await q.moveToDelayed(b.id, Date.now(), 5_000, TOKEN);
          return 'queued';
        },
      },
    ],
    [
      'a sensor waiting for its next poke',
      {
        dag: {},
        b: {},
        delay: async ({ run, q, b }) => {
          expect((await claim(run.store, b.key)).status).toBe('ok');
          expect(await run.store.rescheduleTi(b.key, 1, { nextPokeAt: Date.now() + 30_000, pokes: 1 })).toBe('up_for_reschedule');
          await q.moveToDelayed(b.id, Date.now(), 30_000, TOKEN);
          return 'up_for_reschedule';
        },
      },
    ],
  ];

  it.each(ROWS)('claims nothing when the only other job is %s, and leaves it delayed', async (_, row) => {
    const d = dag({ id: 'delays', ...row.dag });
    d.command({ id: 'a', command: 'true', queue: 'delays' });
    d.command({ id: 'b', command: 'true', queue: 'delays', ...row.b });
    const run = await startRun(redis.conn(), d);
    const q = backendFor(run.store, 'delays');
    const taken: Taken[] = [];
    for (let i = 0; i < 2; i++) {
      const [raw, id] = await q.moveToActive(TOKEN, 'test');
      const data = JSON.parse(String(raw!['data'])) as TaskInstanceKey;
      taken.push({ id: id!, key: run.ti(data.taskId) });
    }
    const a = taken.find((t) => t.key.taskId === 'a')!;
    const b = taken.find((t) => t.key.taskId === 'b')!;
    expect((await claim(run.store, a.key)).status).toBe('ok');
    const bState = await row.delay({ run, q, b });

    const bq = run.store.keys.bullQueuePrefix('delays');
    const conn = redis.conn();
    const bTi = await run.store.getTi(b.key);
    const delayedId = bTi!.jobId!;
    const score = await conn.zscore(`${bq}delayed`, delayedId);
    expect(score).not.toBeNull();
    const job = await conn.hgetall(`${bq}${delayedId}`);

    const r = await finish(run.store, q, a, 'success', true);
    expect(r.state).toBe('success');
    expect(r.claim).toBeUndefined();
    // BullMQ's answer: no job, no rate limit, and when the first delayed job is due (its delayed score's timestamp).
    expect(raw2NextJobData(r.bull as unknown[])).toEqual([null, 0, 0, Math.floor(Number(score) / 0x1000)]);
    // The delayed job is as it was: still delayed, same hash, and its instance unclaimed.
    expect(await conn.zscore(`${bq}delayed`, delayedId)).toBe(score);
    expect(await conn.hgetall(`${bq}${delayedId}`)).toEqual(job);
    expect(await conn.lrange(`${bq}active`, 0, -1)).not.toContain(delayedId);
    expect(await conn.lrange(`${bq}wait`, 0, -1)).not.toContain(delayedId);
    expect(await run.store.getTi(b.key)).toMatchObject({ state: bState, try: bTi!.try, worker: bTi!.worker });
  });
});
