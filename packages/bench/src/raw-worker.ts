/**
 * Raw BullMQ baseline for the benchmark: a worker process with a no-op processor, or (hop
 * mode) a processor that records its start latency and adds the next job.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

const [mode, queueName, concurrency] = [process.argv[2]!, process.argv[3]!, Number(process.argv[4] ?? 16)];
const url = process.env['REDIS_URL']!;
const connection = new Redis(url, { maxRetriesPerRequest: null });
const queue = new Queue(queueName, { connection: new Redis(url, { maxRetriesPerRequest: null }) });
const hops = Number(process.env['HOPS'] ?? 2000);

const worker = new Worker(
  queueName,
  async (job) => {
    if (mode === 'noop') return;
    const data = job.data as { i: number; t: number };
    const latency = performance.timeOrigin + performance.now() - data.t;
    await connection.rpush(`${queueName}:latencies`, String(latency));
    if (data.i < hops) {
      await queue.add('hop', { i: data.i + 1, t: performance.timeOrigin + performance.now() }, { removeOnComplete: true, removeOnFail: true });
    } else {
      await connection.set(`${queueName}:done`, '1');
    }
  },
  { connection, concurrency, removeOnComplete: { count: 0 }, removeOnFail: { count: 0 } },
);
process.send?.('ready');
process.on('SIGTERM', () => {
  void worker.close().then(() => process.exit(0));
});
