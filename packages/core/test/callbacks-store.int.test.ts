import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, dag, Store } from '../src/index.js';
import { startRedis, type RedisHandle } from '../src/testing/index.js';

/** The store's side of callbacks: what two schedulers racing, or a run finishing twice, enqueue. */
describe('callback jobs and SLA misses in Redis (real redis-server)', () => {
  let redis: RedisHandle;
  const conns: ReturnType<typeof createRedis>[] = [];
  const prefix = `cb${Math.random().toString(36).slice(2, 7)}`;
  let a: Store;
  let b: Store;
  let queue: Queue;

  beforeAll(async () => {
    redis = await startRedis();
    for (let i = 0; i < 3; i++) conns.push(createRedis(redis.url));
    a = new Store(conns[0]!, prefix);
    b = new Store(conns[1]!, prefix);
    queue = new Queue('ops', { connection: conns[2]!, prefix: a.keys.bullPrefix });
    const noop = () => undefined;
    const d = dag({ id: 'cbstore', deadline: '1m', onFailure: noop, onSlaMiss: noop, defaultArgs: { queue: 'ops' } });
    d.command({ id: 'slow', command: 'sleep 60', sla: '1m', onSlaMiss: noop });
    await a.saveDag(d.serialize());
  });
  afterAll(async () => {
    await queue.close();
    for (const c of conns) c.disconnect();
    await redis.stop();
  });

  const callbackJobs = async () =>
    (await queue.getJobs(['waiting', 'prioritized']))
      .map((j) => j.data as { callback?: string; state?: string; reason?: string; sla?: unknown })
      .filter((d) => d.callback);

  it('records an SLA miss once when two schedulers race, with one event and one onSlaMiss job', async () => {
    const hourAgo = new Date(Date.now() - 3_600_000);
    await a.createRun({ dagId: 'cbstore', runId: 'r1', runType: 'manual', logicalDate: hourAgo, dataIntervalStart: hourAgo, dataIntervalEnd: hourAgo });
    const miss = {
      dagId: 'cbstore',
      runId: 'r1',
      taskId: 'slow',
      dueAt: hourAgo.getTime() + 60_000,
      state: 'queued',
      queue: 'ops',
      callback: 'task:slow:onSlaMiss',
    };
    const results = await Promise.all([a.recordSlaMiss(miss), b.recordSlaMiss(miss), a.recordSlaMiss(miss)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(Object.keys(await a.getSlaMisses('cbstore', 'r1'))).toEqual(['slow']);
    const events = await conns[0]!.xrange(a.keys.events, '-', '+');
    const sla = events.filter(([, f]) => f[f.indexOf('type') + 1] === 'sla');
    expect(sla).toHaveLength(1);
    expect(sla[0]![1]).toEqual(expect.arrayContaining(['state', 'sla_miss', 'task', 'slow']));
    expect(await callbackJobs()).toEqual([
      {
        dagId: 'cbstore',
        runId: 'r1',
        taskId: '',
        mapIndex: -1,
        try: 0,
        callback: 'task:slow:onSlaMiss',
        state: 'queued',
        sla: { kind: 'task', dueAt: miss.dueAt, state: 'queued' },
        slaTask: 'slow',
      },
    ]);
  });

  it('queues the run onFailure once when the run is cancelled, not again on a second cancel', async () => {
    await queue.obliterate({ force: true });
    await a.cancelRun('cbstore', 'r1', 'stopped by the test');
    await b.cancelRun('cbstore', 'r1', 'stopped again');
    expect(await callbackJobs()).toEqual([expect.objectContaining({ callback: 'dag:onFailure', state: 'failed', reason: 'stopped by the test' })]);
    expect((await a.getRun('cbstore', 'r1'))?.state).toBe('failed');
  });

  it('drops the SLA record with the run (retention)', async () => {
    expect(await a.deleteRun('cbstore', 'r1')).toBe(true);
    expect(await a.getSlaMisses('cbstore', 'r1')).toEqual({});
  });
});
