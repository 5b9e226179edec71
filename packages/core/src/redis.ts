import { Redis, type RedisOptions } from 'ioredis';

/**
 * A Redis connection for Aloft and BullMQ (`maxRetriesPerRequest: null` as BullMQ requires).
 * `redis://`, `rediss://` (TLS) and passwords/ACL users come from the URL; ioredis parses it.
 */
export function createRedis(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...extra });
}
