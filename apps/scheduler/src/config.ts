import { z } from 'zod';
import { dagsFolder, DAGS_FOLDER_SETTING, parseEnv, SERVICE_SETTINGS, serviceConfig, USER_CODE_SETTINGS, type ServiceConfig } from '@aloft/core';
import type { DagProcessorOptions } from './dag-processor.js';

/** Every environment variable the scheduler reads, with its default. */
const SCHEDULER_ENV = z.object({
  ...SERVICE_SETTINGS,
  ...DAGS_FOLDER_SETTING,
  ...USER_CODE_SETTINGS,
  ALOFT_SCHEDULER_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8791),
  ALOFT_SCHEDULER_LOOP_MS: z.coerce.number().int().min(50).default(1000),
  ALOFT_SWEEP_MS: z.coerce.number().int().min(100).default(10000),
  ALOFT_DAG_PARSE_TIMEOUT_MS: z.coerce.number().int().min(100).default(30000),
  ALOFT_DAG_PARSE_MEMORY_MB: z.coerce.number().int().min(128).default(1024),
  ALOFT_DAG_PARSE_RETRY_MS: z.coerce.number().int().min(0).default(60_000),
  ALOFT_DAG_SCAN_MS: z.coerce.number().int().min(100).default(2000),
  ALOFT_MAX_CATCHUP_RUNS: z.coerce.number().int().min(1).default(100),
  ALOFT_MAX_MAP_LENGTH: z.coerce.number().int().min(1).default(1024),
  ALOFT_RETENTION_MAX_RUNS: z.coerce.number().int().min(1).default(500),
  ALOFT_RETENTION_MAX_AGE_DAYS: z.coerce.number().min(0).default(30),
  ALOFT_TASK_QUEUED_TIMEOUT_MS: z.coerce.number().int().min(0).default(600_000),
});

export const SCHEDULER_VARIABLES: readonly string[] = Object.keys(SCHEDULER_ENV.shape);

export interface SchedulerConfig extends ServiceConfig {
  dagsFolder: string;
  httpPort: number;
  loopMs: number;
  sweepMs: number;
  scanMs: number;
  parseTimeoutMs: number;
  parseMemoryMb: number;
  /** First wait before a file whose parse timed out is parsed again, unchanged (doubling, at most an hour). */
  parseRetryMs: number;
  /** ALOFT_USER_CODE_USER: who imports DAG files. */
  userCodeUser: string | undefined;
  /** Default `maxMapLength` of mapped tasks, handed to the parse children. */
  maxMapLength: number;
  maxCatchupRuns: number;
  retentionMaxRuns: number;
  retentionMaxAgeMs: number;
  /** A task instance queued this long on a queue no worker listens on fails (0: never). */
  taskQueuedTimeoutMs: number;
}

/** The scheduler's settings from its environment; a bad value is an error naming the variable. */
export function loadSchedulerConfig(source: NodeJS.ProcessEnv): SchedulerConfig {
  const env = parseEnv(SCHEDULER_ENV, source);
  return {
    ...serviceConfig(env),
    dagsFolder: dagsFolder(env),
    httpPort: env.ALOFT_SCHEDULER_HTTP_PORT,
    loopMs: env.ALOFT_SCHEDULER_LOOP_MS,
    sweepMs: env.ALOFT_SWEEP_MS,
    scanMs: env.ALOFT_DAG_SCAN_MS,
    parseTimeoutMs: env.ALOFT_DAG_PARSE_TIMEOUT_MS,
    parseMemoryMb: env.ALOFT_DAG_PARSE_MEMORY_MB,
    parseRetryMs: env.ALOFT_DAG_PARSE_RETRY_MS,
    userCodeUser: env.ALOFT_USER_CODE_USER,
    maxMapLength: env.ALOFT_MAX_MAP_LENGTH,
    maxCatchupRuns: env.ALOFT_MAX_CATCHUP_RUNS,
    retentionMaxRuns: env.ALOFT_RETENTION_MAX_RUNS,
    retentionMaxAgeMs: env.ALOFT_RETENTION_MAX_AGE_DAYS * 86_400_000,
    taskQueuedTimeoutMs: env.ALOFT_TASK_QUEUED_TIMEOUT_MS,
  };
}

/**
 * The DAG processor's options that come from the settings, as the scheduler and
 * `aloft dags test` (packages/testing's Testbed) both pass them, so a parse behaves the same in both.
 */
export function parseSettings(
  config: SchedulerConfig,
): Pick<DagProcessorOptions, 'folder' | 'timeoutMs' | 'memoryMb' | 'retryMs' | 'userCodeUser' | 'settings'> {
  return {
    folder: config.dagsFolder,
    timeoutMs: config.parseTimeoutMs,
    memoryMb: config.parseMemoryMb,
    retryMs: config.parseRetryMs,
    userCodeUser: config.userCodeUser,
    settings: { ALOFT_MAX_MAP_LENGTH: String(config.maxMapLength) },
  };
}
