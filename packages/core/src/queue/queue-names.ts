import type { Redis } from 'ioredis';
import type { Keys } from '../store/keys.js';

/** The queue every task uses unless it names another. */
export const DEFAULT_QUEUE = 'default';

/** Queue names in use: every queue named by a stored DAG, plus `default`. */
export async function listQueueNames(redis: Redis, keys: Keys): Promise<string[]> {
  const names = await redis.smembers(keys.queues);
  return [...new Set([DEFAULT_QUEUE, ...names])].sort();
}
