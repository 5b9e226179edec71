import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * A Redis connection for Aloft and BullMQ (`maxRetriesPerRequest: null` as BullMQ requires).
 * `redis://`, `rediss://` (TLS) and passwords/ACL users (`redis://user:pass@host`) come from
 * the URL; ioredis parses it. With ALOFT_REDIS_SENTINELS (`host:port,host:port`) the
 * connection goes through Sentinel to the primary named ALOFT_REDIS_SENTINEL_NAME, with
 * the URL's user, password, database and TLS, and follows failovers. ALOFT_REDIS_TLS_CA
 * names a CA certificate file to trust for rediss:// (a private CA; public ones need none).
 */
export function createRedis(url: string, extra: RedisOptions = {}, env: NodeJS.ProcessEnv = process.env): Redis {
  const base: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true, ...extra };
  const u = new URL(url);
  const caFile = env['ALOFT_REDIS_TLS_CA'];
  const tls = u.protocol === 'rediss:' ? (caFile ? { ca: readFileSync(caFile) } : {}) : undefined;
  const sentinels = env['ALOFT_REDIS_SENTINELS'];
  if (!sentinels) return new Redis(url, tls ? { ...base, tls } : base);
  return new Redis({
    ...base,
    sentinels: sentinels.split(',').map((hp) => {
      const [host, port] = hp.trim().split(':');
      return { host: host!, port: Number(port ?? 26379) };
    }),
    name: env['ALOFT_REDIS_SENTINEL_NAME'] ?? 'mymaster',
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    sentinelPassword: env['ALOFT_REDIS_SENTINEL_PASSWORD'] || undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    ...(tls ? { tls, sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
  });
}
