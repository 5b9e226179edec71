import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Keys } from '../store/keys.js';

/** The queue every task uses unless it names another. */
export const DEFAULT_QUEUE = 'default';

/** Queue names in use: every queue named by a stored DAG, plus `default`. */
export async function listQueueNames(redis: Redis, keys: Keys): Promise<string[]> {
  const names = await redis.smembers(keys.queues);
  return [...new Set([DEFAULT_QUEUE, ...names])].sort();
}

/**
 * Which queues no BullMQ worker listens on now, from Redis's CLIENT LIST as BullMQ's
 * getWorkers reads it (where Redis hides that list, every queue counts as served). Keeps
 * one BullMQ Queue per name on the given connection until close(). BullMQ is loaded on the
 * first call, so that importing @aloft/core does not load it (dag-entry.test.ts).
 */
export class QueueWorkers {
  readonly #queues = new Map<string, Queue>();
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** The queues among `names` without a worker. */
  async unserved(names: readonly string[]): Promise<string[]> {
    const { Queue } = await import('bullmq');
    const queue = (name: string): Queue => {
      let q = this.#queues.get(name);
      if (!q) this.#queues.set(name, (q = new Queue(name, { connection: this.redis, prefix: this.keys.bullPrefix })));
      return q;
    };
    const counts = await Promise.all(names.map(async (n) => [n, await queue(n).getWorkersCount()] as const));
    return counts.filter(([, c]) => c === 0).map(([n]) => n);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((q) => q.close()));
    this.#queues.clear();
  }
}
