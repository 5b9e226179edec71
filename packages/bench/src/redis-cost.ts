/**
 * `pnpm bench redis`: Redis CPU per task instance on Aloft's path, measured alone. No worker
 * processes: this process plays one worker (claim, finish, BullMQ's completion and fetch) one
 * task at a time, and redis-server's own CPU counters are read before and after. Far steadier
 * than the end-to-end bench on a shared VM, so a change to a script can be compared in
 * microseconds. Every request here is a round trip of its own, so each figure includes one
 * request's cost (printed as "one PING"); the end-to-end bench batches some of that away.
 */
import { Queue, createRedisBackend, type RedisQueueBackend } from 'bullmq';
import { Redis } from 'ioredis';
import { chain, completionArgs, dag, Store, type TaskInstanceKey } from '@aloft/core';
import { startRedis } from '@aloft/core/testing';

const WIDE = Number(process.env['BENCH_WIDE'] ?? 5_000);
const CHAINS = Math.ceil(WIDE / 10);
const say = (s: string) => process.stdout.write(`${s}\n`);
const us = (x: number) => `${x.toFixed(1)} µs`;

const handle = await startRedis();
// A SIGTERM or Ctrl-C (which can arrive twice: from the terminal and from scripts/bench.mjs) stops the redis-server too.
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void handle.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}
const admin = new Redis(handle.url);
const connections: Redis[] = [];
const connect = () => {
  const c = new Redis(handle.url, { maxRetriesPerRequest: null });
  connections.push(c);
  return c;
};

async function redisCpu(): Promise<number> {
  const info = await admin.info('cpu');
  const get = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)![1]);
  return (get('used_cpu_user') + get('used_cpu_sys')) * 1e6;
}

/** Redis CPU (µs) that `fn` costs, per `n`. */
async function per(n: number, fn: () => Promise<unknown>): Promise<number> {
  const before = await redisCpu();
  await fn();
  return ((await redisCpu()) - before) / n;
}

const store = new Store(connect());
const wide = dag({ id: 'cost_wide', maxActiveTasks: 1_000_000 });
for (let i = 0; i < WIDE; i++) wide.fn({ id: `t${i}`, run: () => undefined });
const chained = dag({ id: 'cost_chain', maxActiveRuns: 1_000_000, maxActiveTasks: 1_000_000 });
chain(...Array.from({ length: 10 }, (_, i) => chained.fn({ id: `c${i}`, run: () => undefined })));
for (const d of [wide, chained]) await store.saveDag(d.serialize());

const backend = (name: string, prefix?: string) =>
  createRedisBackend(
    name,
    { connection: connect(), ...(prefix ? { prefix } : {}), removeOnComplete: { count: 0 }, lockDuration: 30_000 } as Parameters<typeof createRedisBackend>[1],
    { withBlockingConnection: false },
  ) as RedisQueueBackend;
const aloftQueue = backend('default', store.keys.bullPrefix);
const TOKEN = 'redis-cost';
const WORKER = { workerId: 'redis-cost', host: 'bench' };

interface JobData extends TaskInstanceKey {
  try: number;
}

/** Runs the queue dry as a worker does: one finishAndNext per task, startTi only after a fetch of its own. */
async function drainAloft(): Promise<number> {
  let done = 0;
  let [raw, id] = await aloftQueue.moveToActive(TOKEN, 'cost');
  let claimed = false;
  while (id) {
    const data = JSON.parse(String(raw!['data'])) as JobData;
    const key = { dagId: data.dagId, runId: data.runId, taskId: data.taskId, mapIndex: data.mapIndex };
    if (!claimed) await store.startTi(key, data.try, WORKER.workerId, WORKER.host, { log: true, outputs: true });
    const { keys, args } = completionArgs(aloftQueue, { id, opts: { attempts: 1 }, data } as never, true, TOKEN, true);
    const [r] = await store.finishAndNext([{ key, tryNumber: data.try, finish: { outcome: 'success' }, bull: { keys, args } }], WORKER);
    if (!r || r instanceof Error) throw r ?? new Error('no reply');
    done++;
    const next = Array.isArray(r.bull) ? (r.bull as [string[], string]) : undefined;
    if (next?.[1]) {
      const h: Record<string, string> = {};
      for (let i = 0; i + 1 < next[0].length; i += 2) h[next[0][i]!] = next[0][i + 1]!;
      [raw, id, claimed] = [h, next[1], r.claim !== undefined];
    } else {
      [raw, id] = await aloftQueue.moveToActive(TOKEN, 'cost');
      claimed = false;
    }
  }
  return done;
}

async function drainBull(q: RedisQueueBackend): Promise<number> {
  let done = 0;
  let [, id] = await q.moveToActive(TOKEN, 'cost');
  while (id) {
    const { result } = await q.moveToCompleted({ id, opts: { attempts: 1 }, data: {} } as never, undefined, true, TOKEN, true);
    done++;
    id = (result as unknown[])[1] as string | undefined;
  }
  return done;
}

say(`Redis CPU per task, one request at a time (redis-server's own counters; ${WIDE} tasks each):`);
const ping = await per(WIDE, async () => {
  for (let i = 0; i < WIDE; i++) await admin.ping();
});
say(`  one PING (the cost of any request here): ${us(ping)}`);

const at = new Date();
const trigger = (dagId: string, runId: string, offset = 0) =>
  store.createRun({ dagId, runId, runType: 'manual', logicalDate: new Date(at.getTime() + offset), dataIntervalStart: at, dataIntervalEnd: at });
let create = await per(WIDE, () => trigger('cost_wide', 'w1'));
let ran = 0;
let run = await per(WIDE, async () => (ran = await drainAloft()));
if (ran !== WIDE || (await store.getRun('cost_wide', 'w1'))?.state !== 'success') throw new Error(`wide run: ${ran} of ${WIDE} tasks ran`);
say(`  Aloft, one run of ${WIDE} independent tasks: ${us(create + run)} (run creation ${us(create)}, then finishAndNext ${us(run)})`);

create = await per(CHAINS * 10, async () => {
  for (let i = 0; i < CHAINS; i++) await trigger('cost_chain', `c${i}`, i);
});
run = await per(CHAINS * 10, async () => (ran = await drainAloft()));
if (ran !== CHAINS * 10) throw new Error(`chain runs: ${ran} of ${CHAINS * 10} tasks ran`);
say(`  Aloft, ${CHAINS} runs of a 10-task chain: ${us(create + run)} (run creation ${us(create)}, then finishAndNext ${us(run)})`);

// The same independent tasks, one script at a time, as before finishAndNext.
await trigger('cost_wide', 'w2', 1e6);
const keys = Array.from({ length: WIDE }, (_, i) => ({ dagId: 'cost_wide', runId: 'w2', taskId: `t${i}`, mapIndex: -1 }));
const claim = await per(WIDE, async () => {
  for (const k of keys) await store.startTi(k, 1, WORKER.workerId, WORKER.host, { log: true });
});
const finish = await per(WIDE, async () => {
  for (const k of keys) await store.finishTi(k, 1, { outcome: 'success' });
});
const complete = await per(WIDE, () => drainBull(aloftQueue));
say(
  `  Aloft in separate calls: startTi ${us(claim)} + finishTi ${us(finish)} + BullMQ's complete-and-fetch ${us(complete)} = ${us(claim + finish + complete)}`,
);

for (const priority of [false, true]) {
  const name = priority ? 'raw-prioritized' : 'raw';
  const queue = new Queue(name, { connection: connect() });
  const add = await per(WIDE, async () => {
    for (let i = 0; i < WIDE; i += 1000) {
      await queue.addBulk(
        Array.from({ length: Math.min(1000, WIDE - i) }, (_, j) => ({
          name: 'noop',
          data: { i: i + j },
          opts: { removeOnComplete: true, removeOnFail: true, ...(priority ? { priority: 1_000_000 } : {}) },
        })),
      );
    }
  });
  const q = backend(name);
  const done = await per(WIDE, () => drainBull(q));
  say(
    `  raw BullMQ${priority ? ', prioritized jobs (as Aloft enqueues them)' : ''}: ${us(add + done)} (addBulk ${us(add)}, then complete-and-fetch ${us(done)})`,
  );
  await queue.close();
  await q.close();
}

await aloftQueue.close();
for (const c of connections) c.disconnect();
admin.disconnect();
await handle.stop();
