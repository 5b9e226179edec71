import { isIP } from 'node:net';
import { z } from 'zod';
import { parseEnv, SECRETS_KEY_SETTINGS, SERVICE_SETTINGS, serviceConfig, STAND_IN_SETTING, type ServiceConfig } from '@aloft/core';

/**
 * The proxies whose X-Forwarded-For (and -Proto, -Host) the dashboard believes: a
 * comma-separated list of addresses, subnets (10.0.0.0/8) or the names loopback, linklocal
 * and uniquelocal. Default empty, none: the client is the address that connected.
 */
const proxyList = z
  .string()
  .default('')
  .transform((s, c) => {
    const entries = s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
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

/** Every environment variable the dashboard reads, with its default. */
const DASHBOARD_ENV = z.object({
  ...SERVICE_SETTINGS,
  ...STAND_IN_SETTING,
  ...SECRETS_KEY_SETTINGS,
  ALOFT_DASHBOARD_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  ALOFT_DASHBOARD_ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  ALOFT_DASHBOARD_ADMIN_PASSWORD_FILE: z.string().optional(),
  ALOFT_DASHBOARD_LOGIN_ATTEMPTS: z.coerce.number().int().min(1).default(10),
  ALOFT_DASHBOARD_LOGIN_ACCOUNT_ATTEMPTS: z.coerce.number().int().min(1).default(30),
  ALOFT_DASHBOARD_TRUST_PROXY: proxyList,
  ALOFT_API_MAX_JSON_DEPTH: z.coerce.number().int().min(2).max(1000).default(32),
  ALOFT_BACKFILL_MAX_RUNS: z.coerce.number().int().min(1).max(10_000).default(1000),
});

export const DASHBOARD_VARIABLES: readonly string[] = Object.keys(DASHBOARD_ENV.shape);

export interface DashboardConfig extends ServiceConfig {
  port: number;
  /** The first admin's password, set when no admin exists yet. A secret: never logged. */
  adminPassword: string | undefined;
  loginAttempts: number;
  loginAccountAttempts: number;
  trustProxy: readonly string[];
  maxJsonDepth: number;
  maxBackfillRuns: number;
  podsOnStandIn: boolean;
  /** ALOFT_SECRETS_KEYS: the keyring that seals connections and variables set through the API. A secret: never logged. */
  secretsKeys: string | undefined;
}

/** The dashboard's settings from its environment; a bad value is an error naming the variable. */
export function loadDashboardConfig(source: NodeJS.ProcessEnv): DashboardConfig {
  const env = parseEnv(DASHBOARD_ENV, source);
  return {
    ...serviceConfig(env),
    port: env.ALOFT_DASHBOARD_PORT,
    adminPassword: env.ALOFT_DASHBOARD_ADMIN_PASSWORD,
    loginAttempts: env.ALOFT_DASHBOARD_LOGIN_ATTEMPTS,
    loginAccountAttempts: env.ALOFT_DASHBOARD_LOGIN_ACCOUNT_ATTEMPTS,
    trustProxy: env.ALOFT_DASHBOARD_TRUST_PROXY,
    maxJsonDepth: env.ALOFT_API_MAX_JSON_DEPTH,
    maxBackfillRuns: env.ALOFT_BACKFILL_MAX_RUNS,
    podsOnStandIn: env.ALOFT_K8S_STAND_IN === '1',
    secretsKeys: env.ALOFT_SECRETS_KEYS,
  };
}
