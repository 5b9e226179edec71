import { createRedisBackend, Queue, Worker, type Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createRedis, dag, Store, type StartResult, type TaskInstanceKey } from '@aloft/core';
import { startRedis, type RedisHandle } from '@aloft/core/testing';
import { FinishAndNextBatcher } from '../src/finish-and-next-batcher.js';

type Data = TaskInstanceKey & { try: number };

/**
 * The batcher between a real BullMQ Worker (the pinned version) and its Redis backend, as
 * AloftWorker uses it: the BullMQ internals named in its header are exercised here.
 */
describe('FinishAndNextBatcher (real redis-server, real BullMQ Worker)', () => {
  let redis: RedisHandle;
  let store: Store;
  const prefix = `fb${Math.random().toString(36).slice(2, 7)}`;
  const connections: ReturnType<typeof createRedis>[] = [];
  const connect = () => {
    const c = createRedis(redis.url);
    connections.push(c);
    return c;
  };

  beforeAll(async () => {
    redis = await startRedis();
    store = new Store(createRedis(redis.url), prefix);
    const d = dag({ id: 'fan' });
    const [a, b] = [d.fn({ id: 'a', run: () => 1 }), d.fn({ id: 'b', run: () => 2 })];
    const c = d.fn({ id: 'c', upstream: [a, b], run: () => 3 });
    d.fn({ id: 'd', upstream: [c], run: () => 4 });
    await store.saveDag(d.serialize());
  });
  afterAll(async () => {
    for (const c of connections) c.disconnect();
    store.redis.disconnect();
    await redis.stop();
  });

  it('records finishes as BullMQ completes their jobs, the roots that end together in one call, and hands over the claim of each fetched job', async () => {
    const batcher = new FinishAndNextBatcher({ store, logger: createLogger({ name: 'test', level: 'silent' }), workerId: 'w1', host: 'h1', maxDeaths: 3 });
    const handed: Record<string, StartResult> = {};
    const recorded: Record<string, string | undefined> = {};
    // Both roots are held until both run, so they finish in the same turn of the event loop.
    let release!: () => void;
    const bothRoots = new Promise<void>((r) => (release = r));
    let rootsRunning = 0;
    const processor = async (job: Job<Data>) => {
      const d = job.data;
      const key = { dagId: d.dagId, runId: d.runId, taskId: d.taskId, mapIndex: d.mapIndex };
      const claim = batcher.takeClaim(job.id);
      if (claim) handed[d.taskId] = claim;
      else expect((await store.startTi(key, d.try, 'w1', 'h1')).status).toBe('ok');
      if (d.taskId === 'a' || d.taskId === 'b') {
        if (++rootsRunning === 2) release();
        await bothRoots;
      }
      batcher.defer(job.id!, { key, tryNumber: d.try, input: { outcome: 'success', output: JSON.stringify(d.taskId) }, done: (s) => (recorded[d.taskId] = s) });
    };
    const worker = new Worker<Data>(
      'default',
      processor,
      { connection: connect(), prefix: store.keys.bullPrefix, concurrency: 2, removeOnComplete: { count: 0 } },
      (name, opts, flags) => batcher.wrap(createRedisBackend(name, opts, flags)),
    );
    try {
      const now = new Date();
      await store.createRun({ dagId: 'fan', runId: 'r1', runType: 'manual', logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now });
      await expect.poll(() => store.getRun('fan', 'r1').then((r) => r?.state), { timeout: 20_000 }).toBe('success');
      expect(recorded).toEqual({ a: 'success', b: 'success', c: 'success', d: 'success' });
      // c and d were claimed by the finish that made them ready, c with both roots' outputs.
      expect(Object.keys(handed).sort()).toEqual(['c', 'd']);
      expect(handed['c']).toMatchObject({ status: 'ok', outputs: { a: 'a', b: 'b' } });
      expect(batcher.stats).toEqual({ calls: 3, finishes: 4, claims: 2 });
    } finally {
      await worker.close();
    }
  });

  it('leaves a job with no deferred finish to BullMQ, and records on drain a finish BullMQ never completed', async () => {
    const batcher = new FinishAndNextBatcher({ store, logger: createLogger({ name: 'test', level: 'silent' }), workerId: 'w1', host: 'h1', maxDeaths: 3 });
    const backend = batcher.wrap(
      createRedisBackend('spare', { connection: connect(), prefix: store.keys.bullPrefix, lockDuration: 30_000 } as Parameters<typeof createRedisBackend>[1], {
        withBlockingConnection: false,
      }),
    );
    // Not deferred: BullMQ's own completion, which answers as usual (no next job here).
    const queue = new Queue('spare', { connection: connect(), prefix: store.keys.bullPrefix });
    await queue.add('x', {}, { jobId: 'plain' });
    await queue.close();
    try {
      const [, id] = await backend.moveToActive('tok', 'test');
      expect(id).toBe('plain');
      expect((await backend.moveToCompleted({ id, opts: { attempts: 1 }, data: {} } as never, undefined, true, 'tok', false)).result).toEqual([]);
      expect(batcher.stats.calls).toBe(0);

      const now = new Date(Date.now() + 1000);
      await store.createRun({ dagId: 'fan', runId: 'r2', runType: 'manual', logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now });
      const key = { dagId: 'fan', runId: 'r2', taskId: 'a', mapIndex: -1 };
      expect((await store.startTi(key, 1, 'w1', 'h1')).status).toBe('ok');
      let state: string | undefined;
      batcher.defer('never-completed', { key, tryNumber: 1, input: { outcome: 'failed', reason: 'boom' }, done: (s) => (state = s) });
      await batcher.drain();
      expect(state).toBe('failed');
      expect(await store.getTi(key)).toMatchObject({ state: 'failed', reason: 'boom' });
    } finally {
      await backend.close();
    }
  });
});
