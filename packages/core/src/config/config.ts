import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { RedisConnection } from '../redis.js';
import type { Durability } from '../store/store.js';
import { SERVICE_CREDENTIALS } from './service-credentials.mjs';

/**
 * The pieces of configuration that more than one process reads, as zod shapes over
 * environment variables. Each app composes the pieces it needs with its own variables in
 * `apps/<app>/src/config.ts` and parses them once, in `main.ts`; nothing here reads
 * `process.env`. The README's configuration reference lists the union of the apps' variables
 * (tests/deploy.test.ts checks the shipped manifests set only those).
 */

/** How a service reaches Redis, and the key prefix every Aloft key starts with. */
export const REDIS_SETTINGS = {
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  REDIS_URL_FILE: z.string().optional(),
  ALOFT_REDIS_TLS_CA: z.string().optional(),
  ALOFT_REDIS_SENTINELS: z.string().optional(),
  ALOFT_REDIS_SENTINEL_NAME: z.string().default('mymaster'),
  ALOFT_REDIS_SENTINEL_PASSWORD: z.string().optional(),
  ALOFT_REDIS_SENTINEL_PASSWORD_FILE: z.string().optional(),
  ALOFT_REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).default(0),
  ALOFT_REDIS_WAIT_TIMEOUT_MS: z.coerce.number().int().min(1).default(1000),
  ALOFT_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .default('aloft'),
};

/** What every service (scheduler, worker, dashboard) reads: Redis, its logs, the task logs' cap. */
export const SERVICE_SETTINGS = {
  ...REDIS_SETTINGS,
  ALOFT_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  ALOFT_LOG_PRETTY: z.enum(['0', '1', 'true', 'false']).default('0'),
  ALOFT_LOG_MAX_LINES: z.coerce.number().int().min(10).default(10000),
};

/** Where DAG files are (scheduler, worker). */
export const DAGS_FOLDER_SETTING = { ALOFT_DAGS_FOLDER: z.string().default('examples/dags') };

/** Who runs user code (scheduler's parse children, worker's tasks): see `userCodeIdentity`. */
export const USER_CODE_SETTINGS = { ALOFT_USER_CODE_USER: z.string().optional() };

/** The keyring that seals Aloft's own store of connections and variables (worker, dashboard, CLI). */
export const SECRETS_KEY_SETTINGS = {
  ALOFT_SECRETS_KEYS: z.string().optional(),
  ALOFT_SECRETS_KEYS_FILE: z.string().optional(),
};

/** Where a worker reads tasks' connections and variables, in order, and the dir backend's folder. */
export const SECRETS_SETTINGS = {
  ...SECRETS_KEY_SETTINGS,
  ALOFT_SECRETS_BACKENDS: z
    .string()
    .default('env,dir,store')
    .transform((s, c) => {
      const names = s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      const bad = names.find((n) => !['env', 'dir', 'store'].includes(n));
      if (bad === undefined && new Set(names).size === names.length) return names as ('env' | 'dir' | 'store')[];
      c.addIssue({
        code: 'custom',
        message: bad === undefined ? 'names a backend twice' : `"${bad}" is not a backend: use env, dir and store, in the order to ask them`,
      });
      return z.NEVER;
    }),
  ALOFT_SECRETS_DIR: z.string().optional(),
};

/** Pods run on the quick start's local stand-in (worker, dashboard). */
export const STAND_IN_SETTING = { ALOFT_K8S_STAND_IN: z.enum(['0', '1']).default('0') };

type ServiceEnv = z.infer<z.ZodObject<typeof SERVICE_SETTINGS>>;

/** The settings every service gets from SERVICE_SETTINGS, camelCase. */
export interface ServiceConfig {
  redis: RedisConnection;
  /** Replicas that must confirm a trigger, claim or finish (Redis WAIT); 0: none. */
  durability: Durability;
  prefix: string;
  logLevel: ServiceEnv['ALOFT_LOG_LEVEL'];
  logPretty: boolean;
  /** Lines kept per task try's log (ALOFT_LOG_MAX_LINES). */
  logMaxLines: number;
}

/**
 * The services' credentials (service-credentials.mjs, shared with scripts/up.mjs). Each can also come from a file named by `<NAME>_FILE` (how a
 * Kubernetes Secret volume or `up` hands them over), which keeps it out of the service's
 * environment, where a process of the same user can read it in `/proc/<pid>/environ`.
 * None of them ever reaches user code: see `userCodeEnv` (security/user-code.ts).
 */
export { SERVICE_CREDENTIALS };

/** `source` with each credential read from its `_FILE` when that is set. */
function withCredentialFiles(source: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...source };
  for (const name of SERVICE_CREDENTIALS) {
    const file = source[`${name}_FILE`];
    if (!file) continue;
    if (source[name] !== undefined) throw new Error(`invalid configuration: set ${name} or ${name}_FILE, not both`);
    try {
      out[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new Error(`invalid configuration: ${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  return out;
}

/**
 * Parses an environment against an app's schema, each credential's `_FILE` read in first;
 * a bad value is an error naming the variable.
 */
export function parseEnv<T>(schema: z.ZodType<T>, source: NodeJS.ProcessEnv): T {
  const parsed = schema.safeParse(withCredentialFiles(source));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  return parsed.data;
}

/** The Redis connection settings of a parsed environment, as createRedis takes them. */
export function redisConnection(env: z.infer<z.ZodObject<typeof REDIS_SETTINGS>>): RedisConnection {
  return {
    url: env.REDIS_URL,
    tlsCaFile: env.ALOFT_REDIS_TLS_CA,
    sentinels: env.ALOFT_REDIS_SENTINELS,
    sentinelName: env.ALOFT_REDIS_SENTINEL_NAME,
    sentinelPassword: env.ALOFT_REDIS_SENTINEL_PASSWORD,
  };
}

/** The Redis connection an environment's REDIS_SETTINGS describe (their `_FILE`s read in). */
export function loadRedisConnection(source: NodeJS.ProcessEnv): RedisConnection {
  return redisConnection(parseEnv(z.object(REDIS_SETTINGS), source));
}

/** SERVICE_SETTINGS of a parsed environment, camelCase. */
export function serviceConfig(env: ServiceEnv): ServiceConfig {
  return {
    redis: redisConnection(env),
    durability: { replicas: env.ALOFT_REDIS_WAIT_REPLICAS, timeoutMs: env.ALOFT_REDIS_WAIT_TIMEOUT_MS },
    prefix: env.ALOFT_KEY_PREFIX,
    logLevel: env.ALOFT_LOG_LEVEL,
    logPretty: env.ALOFT_LOG_PRETTY === '1' || env.ALOFT_LOG_PRETTY === 'true',
    logMaxLines: env.ALOFT_LOG_MAX_LINES,
  };
}

/** ALOFT_DAGS_FOLDER as an absolute path. */
export function dagsFolder(env: z.infer<z.ZodObject<typeof DAGS_FOLDER_SETTING>>): string {
  return resolve(env.ALOFT_DAGS_FOLDER);
}
