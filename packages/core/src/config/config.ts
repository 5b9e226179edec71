import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { SERVICE_CREDENTIALS } from './service-credentials.mjs';

/**
 * A comma-separated list of object names that may contain `*` ("warehouse,etl-*"); empty
 * allows none. Default `*`, every name: the shipped manifests set their own list.
 */
function nameList(kind: string) {
  return z
    .string()
    .default('*')
    .transform((s, c) => {
      const names = s.split(',').map((x) => x.trim()).filter(Boolean);
      const bad = names.find((n) => !/^[a-z0-9*]([-a-z0-9.*]*[a-z0-9*])?$/.test(n));
      if (bad === undefined) return names;
      c.addIssue({ code: 'custom', message: `"${bad}" is not a ${kind} name or a pattern with * (lower-case letters, digits, "-", ".")` });
      return z.NEVER;
    });
}

/**
 * The proxies whose X-Forwarded-For (and -Proto, -Host) the dashboard believes: a
 * comma-separated list of addresses, subnets (10.0.0.0/8) or the names loopback, linklocal
 * and uniquelocal. Default empty, none: the client is the address that connected.
 */
function proxyList() {
  return z
    .string()
    .default('')
    .transform((s, c) => {
      const entries = s.split(',').map((x) => x.trim()).filter(Boolean);
      const bad = entries.find((e) => {
        if (['loopback', 'linklocal', 'uniquelocal'].includes(e)) return false;
        const [address = '', bits, ...rest] = e.split('/');
        const family = isIP(address);
        const max = family === 4 ? 32 : 128;
        return family === 0 || rest.length > 0 || (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= max));
      });
      if (bad === undefined) return entries;
      c.addIssue({ code: 'custom', message: `"${bad}" is not an address, a subnet (10.0.0.0/8) or one of loopback, linklocal, uniquelocal` });
      return z.NEVER;
    });
}

/**
 * Every environment variable Aloft reads, with its default. The README's configuration
 * reference is this list.
 */
const ENV = z.object({
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  ALOFT_REDIS_TLS_CA: z.string().optional(),
  ALOFT_REDIS_SENTINELS: z.string().optional(),
  ALOFT_REDIS_SENTINEL_NAME: z.string().default('mymaster'),
  ALOFT_REDIS_SENTINEL_PASSWORD: z.string().optional(),
  ALOFT_REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).default(0),
  ALOFT_REDIS_WAIT_TIMEOUT_MS: z.coerce.number().int().min(1).default(1000),
  ALOFT_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]+$/).default('aloft'),
  ALOFT_DAGS_FOLDER: z.string().default('examples/dags'),
  ALOFT_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  ALOFT_LOG_PRETTY: z.enum(['0', '1', 'true', 'false']).default('0'),
  ALOFT_SCHEDULER_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8791),
  ALOFT_SCHEDULER_LOOP_MS: z.coerce.number().int().min(50).default(1000),
  ALOFT_SWEEP_MS: z.coerce.number().int().min(100).default(10000),
  ALOFT_DAG_PARSE_TIMEOUT_MS: z.coerce.number().int().min(100).default(30000),
  ALOFT_DAG_PARSE_MEMORY_MB: z.coerce.number().int().min(128).default(1024),
  ALOFT_DAG_SCAN_MS: z.coerce.number().int().min(100).default(2000),
  ALOFT_MAX_CATCHUP_RUNS: z.coerce.number().int().min(1).default(100),
  ALOFT_BACKFILL_MAX_RUNS: z.coerce.number().int().min(1).max(10_000).default(1000),
  ALOFT_WORKER_QUEUES: z.string().default('default'),
  ALOFT_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(8),
  ALOFT_WORKER_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8792),
  ALOFT_WORKER_ID: z.string().default(`${hostname()}-${process.pid}`),
  ALOFT_WORKER_HOST: z.string().min(1).optional(),
  ALOFT_WORKER_GRACE_MS: z.coerce.number().int().min(0).default(30000),
  ALOFT_FN_RUNNERS_WARM: z.coerce.number().int().min(0).max(1000).default(2),
  ALOFT_FN_RUNNER_IDLE_MS: z.coerce.number().int().min(1000).default(600000),
  ALOFT_FN_RUNNER_HEAP_MB: z.coerce.number().int().min(16).default(1024),
  ALOFT_K8S_KUBECONFIG: z.string().optional(),
  ALOFT_K8S_CONTEXT: z.string().optional(),
  ALOFT_K8S_STARTUP_TIMEOUT_MS: z.coerce.number().int().min(1000).default(120000),
  ALOFT_TASK_POD_IMAGE: z.string().default('aloft/aloft:latest'),
  ALOFT_TASK_POD_COMMAND: z
    .string()
    .default('["aloft-entrypoint","run-task"]')
    .transform((s, c) => {
      try {
        const v: unknown = JSON.parse(s);
        if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) return v as string[];
      } catch {
        // Reported below.
      }
      c.addIssue({ code: 'custom', message: 'must be a JSON array of strings, e.g. ["aloft-entrypoint","run-task"]' });
      return z.NEVER;
    }),
  ALOFT_TASK_POD_NAMESPACE: z.string().default('default'),
  ALOFT_K8S_STAND_IN: z.enum(['0', '1']).default('0'),
  ALOFT_POD_SECRET_ALLOWLIST: nameList('Secret'),
  ALOFT_POD_CONFIGMAP_ALLOWLIST: nameList('ConfigMap'),
  ALOFT_TASK_POD_DAGS_FOLDER: z.string().default('/app/dags'),
  ALOFT_K8S_ORPHAN_SWEEP_MS: z.coerce.number().int().min(100).default(60000),
  ALOFT_K8S_CREATE_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(16),
  ALOFT_CALLBACK_TIMEOUT_MS: z.coerce.number().int().min(100).default(60000),
  ALOFT_KILL_GRACE_MS: z.coerce.number().int().min(0).default(5000),
  ALOFT_HEARTBEAT_MS: z.coerce.number().int().min(100).default(2000),
  ALOFT_LOCK_MS: z.coerce.number().int().min(1000).default(30000),
  ALOFT_LOG_MAX_LINES: z.coerce.number().int().min(10).default(10000),
  ALOFT_MAX_OUTPUT_BYTES: z.coerce.number().int().min(16).default(65536),
  ALOFT_TEMPLATE_TIMEOUT_MS: z.coerce.number().int().min(10).default(2000),
  ALOFT_TEMPLATE_MAX_BYTES: z.coerce.number().int().min(16).default(1048576),
  ALOFT_TEMPLATE_HEAP_MB: z.coerce.number().int().min(16).default(128),
  ALOFT_MAX_TAKEOVERS: z.coerce.number().int().min(0).max(100).default(3),
  ALOFT_MAX_MAP_LENGTH: z.coerce.number().int().min(1).default(1024),
  ALOFT_RETENTION_MAX_RUNS: z.coerce.number().int().min(1).default(500),
  ALOFT_RETENTION_MAX_AGE_DAYS: z.coerce.number().min(0).default(30),
  ALOFT_DASHBOARD_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  ALOFT_DASHBOARD_ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  ALOFT_DASHBOARD_LOGIN_ATTEMPTS: z.coerce.number().int().min(1).default(10),
  ALOFT_USER_CODE_USER: z.string().optional(),
  REDIS_URL_FILE: z.string().optional(),
  ALOFT_REDIS_SENTINEL_PASSWORD_FILE: z.string().optional(),
  ALOFT_DASHBOARD_ADMIN_PASSWORD_FILE: z.string().optional(),
  ALOFT_DASHBOARD_LOGIN_ACCOUNT_ATTEMPTS: z.coerce.number().int().min(1).default(30),
  ALOFT_DASHBOARD_TRUST_PROXY: proxyList(),
  ALOFT_API_MAX_JSON_DEPTH: z.coerce.number().int().min(2).max(1000).default(32),
  ALOFT_SECRETS_BACKENDS: z
    .string()
    .default('env,dir,store')
    .transform((s, c) => {
      const names = s.split(',').map((x) => x.trim()).filter(Boolean);
      const bad = names.find((n) => !['env', 'dir', 'store'].includes(n));
      if (bad === undefined && new Set(names).size === names.length) return names as ('env' | 'dir' | 'store')[];
      c.addIssue({ code: 'custom', message: bad === undefined ? 'names a backend twice' : `"${bad}" is not a backend: use env, dir and store, in the order to ask them` });
      return z.NEVER;
    }),
  ALOFT_SECRETS_DIR: z.string().optional(),
  ALOFT_SECRETS_KEYS: z.string().optional(),
  ALOFT_SECRETS_KEYS_FILE: z.string().optional(),
});

export type AloftEnv = z.infer<typeof ENV>;

/** Every environment variable Aloft reads (all have defaults or are optional). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(ENV.shape);

export interface AloftConfig {
  redisUrl: string;
  /** Replicas that must confirm a trigger, claim or finish (Redis WAIT); 0: none. */
  durability: { replicas: number; timeoutMs: number };
  prefix: string;
  dagsFolder: string;
  logLevel: AloftEnv['ALOFT_LOG_LEVEL'];
  logPretty: boolean;
  env: AloftEnv;
  /** The environment as read, with each credential's `_FILE` read in (for createRedis). */
  source: NodeJS.ProcessEnv;
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

/** Reads the environment; a bad value is an error naming the variable. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): AloftConfig {
  const resolved = withCredentialFiles(source);
  const parsed = ENV.safeParse(resolved);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  const env = parsed.data;
  return {
    redisUrl: env.REDIS_URL,
    durability: { replicas: env.ALOFT_REDIS_WAIT_REPLICAS, timeoutMs: env.ALOFT_REDIS_WAIT_TIMEOUT_MS },
    prefix: env.ALOFT_KEY_PREFIX,
    dagsFolder: resolve(env.ALOFT_DAGS_FOLDER),
    logLevel: env.ALOFT_LOG_LEVEL,
    logPretty: env.ALOFT_LOG_PRETTY === '1' || env.ALOFT_LOG_PRETTY === 'true',
    env,
    source: resolved,
  };
}
