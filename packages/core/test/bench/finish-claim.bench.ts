/**
 * Micro-benchmark of the hot transition scripts against a local redis-server: N tries of a
 * wide DAG run (a) as startTi + finishTi, two calls a try, and (b) as the worker's
 * finishAndNext chain, one call a try (finish, complete, fetch, claim).
 * Run: `node --conditions=aloft-source --import tsx packages/core/test/bench/finish-claim.bench.ts [N] [rounds]`
 * Not a vitest file: it prints timings and asserts nothing but that every try succeeded.
 */
import { createRedisBackend, type RedisQueueBackend } from 'bullmq';
import { completionArgs, createRedis, dag, Store, type TaskInstanceKey } from '../../src/index.js';
import { startRedis } from '../../src/testing/index.js';

const N = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 3);
const TOKEN = 'bench';
const WORKER = { workerId: 'w1', host: 'h1' };

const redis = await startRedis();
const conn = createRedis(redis.url);
const store = new Store(conn, 'bench');
const d = dag({ id: 'wide', maxActiveTasks: 1_000_000 });
// Roots with one downstream each, so every finish also evaluates a trigger rule and enqueues.
for (let i = 0; i < N / 2; i++) d.fn({ id: `u${i}`, upstream: [d.fn({ id: `t${i}`, run: () => i })], run: () => i });
await store.saveDag(d.serialize());
const queue = createRedisBackend(
  'default',
  { connection: createRedis(redis.url), prefix: store.keys.bullPrefix, removeOnComplete: { count: 0 }, lockDuration: 30_000 } as Parameters<
    typeof createRedisBackend
  >[1],
  {
    withBlockingConnection: false,
  },
) as RedisQueueBackend;

const keyOf = (x: TaskInstanceKey) => ({ dagId: x.dagId, runId: x.runId, taskId: x.taskId, mapIndex: x.mapIndex });
const dataOf = (raw: Record<string, unknown>) => JSON.parse(String(raw['data'])) as TaskInstanceKey & { try: number };

async function startFinish(runId: string): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const key = { dagId: 'wide', runId, taskId: i < N / 2 ? `t${i}` : `u${i - N / 2}`, mapIndex: -1 };
    const c = await store.startTi(key, 1, WORKER.workerId, WORKER.host, { log: true, outputs: true });
    if (c.status !== 'ok') throw new Error(`claim ${i}: ${c.status}`);
    if ((await store.finishTi(key, 1, { outcome: 'success', output: String(i) })) !== 'success') throw new Error(`finish ${i}`);
  }
  return performance.now() - t0;
}

async function chain(): Promise<number> {
  const [raw, id] = await queue.moveToActive(TOKEN, 'bench');
  let data = dataOf(raw!);
  let jobId = id!;
  if ((await store.startTi(keyOf(data), data.try, WORKER.workerId, WORKER.host)).status !== 'ok') throw new Error('first claim');
  const t0 = performance.now();
  let done = 0;
  for (;;) {
    const { keys, args } = completionArgs(queue, { id: jobId, opts: { attempts: 1 }, data } as never, true, TOKEN, true);
    const [r] = await store.finishAndNext(
      [{ key: keyOf(data), tryNumber: data.try, finish: { outcome: 'success', output: '1' }, bull: { keys, args } }],
      WORKER,
    );
    if (!r || r instanceof Error || r.state !== 'success') throw new Error(`finishAndNext: ${String(r instanceof Error ? r.message : r?.state)}`);
    done++;
    if (!r.claim) break;
    const next = r.bull as [string[], string];
    data = dataOf(Object.fromEntries(next[0].flatMap((v, i, xs) => (i % 2 ? [] : [[v, xs[i + 1]]]))));
    jobId = next[1];
  }
  const ms = performance.now() - t0;
  if (done < N - 1) throw new Error(`only ${done} of ${N} tries`);
  return ms;
}

/** Redis-side µs per script call since the last reset (less noisy than wall time on a shared machine). */
async function scriptUsec(): Promise<number> {
  const info = await conn.info('commandstats');
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(info);
  await conn.config('RESETSTAT');
  return m ? Number(m[2]) / Number(m[1]) : NaN;
}

const now = new Date();
for (let r = 0; r < ROUNDS; r++) {
  const a = `a${r}`;
  await store.createRun({ dagId: 'wide', runId: a, runType: 'manual', logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now });
  await conn.del(`${store.keys.bullQueuePrefix('default')}wait`, `${store.keys.bullQueuePrefix('default')}prioritized`);
  await conn.eval("for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end", 0, `${store.keys.bullQueuePrefix('default')}*`);
  await scriptUsec();
  const sf = await startFinish(a);
  const sfUs = await scriptUsec();
  await conn.eval("for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end", 0, `${store.keys.bullQueuePrefix('default')}*`);
  const b = `b${r}`;
  await store.createRun({
    dagId: 'wide',
    runId: b,
    runType: 'manual',
    logicalDate: new Date(now.getTime() + r + 1),
    dataIntervalStart: now,
    dataIntervalEnd: now,
  });
  await scriptUsec();
  const fn = await chain();
  const fnUs = await scriptUsec();
  console.log(
    `round ${r}: startTi+finishTi ${((sf / N) * 1000).toFixed(1)} µs/try (server ${sfUs.toFixed(1)} µs/call), finishAndNext ${((fn / N) * 1000).toFixed(1)} µs/try (server ${fnUs.toFixed(1)} µs/call), N=${N}`,
  );
}
await queue.close();
conn.disconnect();
await redis.stop();
