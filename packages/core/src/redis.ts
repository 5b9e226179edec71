import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';

/** Where Redis is: its URL, and the Sentinels and CA certificate when there are (REDIS_SETTINGS). */
export interface RedisConnection {
  url: string;
  /** A CA certificate file to trust for rediss:// (ALOFT_REDIS_TLS_CA): a private CA; public ones need none. */
  tlsCaFile?: string | undefined;
  /** `host:port,host:port` (ALOFT_REDIS_SENTINELS): connect through Sentinel. */
  sentinels?: string | undefined;
  /** The primary's name at the Sentinels (ALOFT_REDIS_SENTINEL_NAME). Default `mymaster`. */
  sentinelName?: string | undefined;
  /** ALOFT_REDIS_SENTINEL_PASSWORD. */
  sentinelPassword?: string | undefined;
}

/**
 * A Redis connection for Aloft and BullMQ (`maxRetriesPerRequest: null` as BullMQ requires).
 * `redis://`, `rediss://` (TLS) and passwords/ACL users (`redis://user:pass@host`) come from
 * the URL; ioredis parses it. With `sentinels` the connection goes through Sentinel to the
 * primary named `sentinelName`, with the URL's user, password, database and TLS, and follows
 * failovers.
 */
export function createRedis(connection: string | RedisConnection, extra: RedisOptions = {}): Redis {
  const c = typeof connection === 'string' ? { url: connection } : connection;
  const base: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true, ...extra };
  const u = new URL(c.url);
  const tls = u.protocol === 'rediss:' ? (c.tlsCaFile ? { ca: readFileSync(c.tlsCaFile) } : {}) : undefined;
  if (!c.sentinels) return new Redis(c.url, tls ? { ...base, tls } : base);
  return new Redis({
    ...base,
    sentinels: c.sentinels.split(',').map((hp) => {
      const [host, port] = hp.trim().split(':');
      return { host: host!, port: Number(port ?? 26379) };
    }),
    name: c.sentinelName ?? 'mymaster',
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    sentinelPassword: c.sentinelPassword || undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    ...(tls ? { tls, sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
  });
}
