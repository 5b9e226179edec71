import { z } from 'zod';
import { REDIS_SETTINGS, type Durability, type RedisConnection } from '@aloft/core';

/**
 * The Redis settings the command line reads besides `--redis-url` and `--prefix` (which
 * commander reads from REDIS_URL and ALOFT_KEY_PREFIX). Lenient where a service is strict:
 * a bad wait setting falls back to its default rather than stopping a command.
 */
const CLI_ENV = z.object({
  ALOFT_REDIS_TLS_CA: REDIS_SETTINGS.ALOFT_REDIS_TLS_CA,
  ALOFT_REDIS_SENTINELS: REDIS_SETTINGS.ALOFT_REDIS_SENTINELS,
  ALOFT_REDIS_SENTINEL_NAME: REDIS_SETTINGS.ALOFT_REDIS_SENTINEL_NAME,
  ALOFT_REDIS_SENTINEL_PASSWORD: REDIS_SETTINGS.ALOFT_REDIS_SENTINEL_PASSWORD,
  ALOFT_REDIS_WAIT_REPLICAS: REDIS_SETTINGS.ALOFT_REDIS_WAIT_REPLICAS.catch(0),
  ALOFT_REDIS_WAIT_TIMEOUT_MS: REDIS_SETTINGS.ALOFT_REDIS_WAIT_TIMEOUT_MS.catch(1000),
});

export interface CliConfig {
  /** How to reach Redis at `url`: the Sentinels and CA of the environment. */
  connection(url: string): RedisConnection;
  durability: Durability;
}

export function loadCliConfig(source: NodeJS.ProcessEnv): CliConfig {
  const env = CLI_ENV.parse(source);
  return {
    connection: (url) => ({
      url,
      tlsCaFile: env.ALOFT_REDIS_TLS_CA,
      sentinels: env.ALOFT_REDIS_SENTINELS,
      sentinelName: env.ALOFT_REDIS_SENTINEL_NAME,
      sentinelPassword: env.ALOFT_REDIS_SENTINEL_PASSWORD,
    }),
    durability: { replicas: env.ALOFT_REDIS_WAIT_REPLICAS, timeoutMs: env.ALOFT_REDIS_WAIT_TIMEOUT_MS },
  };
}
