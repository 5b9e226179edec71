import { Registry, collectDefaultMetrics } from 'prom-client';
import { createLogger, createRedis, loadConfig, redactUrl, RedisOutageLog, ServiceHttp, Store } from '@aloft/core';
import { DagProcessor } from './dag-processor.js';
import { Scheduler } from './scheduler.js';

const config = loadConfig();
const env = config.env;
const logger = createLogger({ name: 'scheduler', level: config.logLevel, pretty: config.logPretty });
const outage = new RedisOutageLog(logger);
const redis = outage.watch(createRedis(config.redisUrl, {}, config.source), 'scheduler');
const store = new Store(redis, config.prefix, env.ALOFT_LOG_MAX_LINES, config.durability, (err) => logger.warn({ err: err.message }, 'not confirmed by the replicas in time'));
const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'aloft_scheduler_' });

const processor = new DagProcessor({
  folder: config.dagsFolder,
  store,
  logger,
  timeoutMs: env.ALOFT_DAG_PARSE_TIMEOUT_MS,
  memoryMb: env.ALOFT_DAG_PARSE_MEMORY_MB,
  userCodeUser: env.ALOFT_USER_CODE_USER,
  settings: { ALOFT_MAX_MAP_LENGTH: String(env.ALOFT_MAX_MAP_LENGTH) },
});
const scheduler = new Scheduler({
  store,
  redis,
  processor,
  logger,
  registry,
  loopMs: env.ALOFT_SCHEDULER_LOOP_MS,
  sweepMs: env.ALOFT_SWEEP_MS,
  scanMs: env.ALOFT_DAG_SCAN_MS,
  maxCatchupRuns: env.ALOFT_MAX_CATCHUP_RUNS,
  retentionMaxRuns: env.ALOFT_RETENTION_MAX_RUNS,
  retentionMaxAgeMs: env.ALOFT_RETENTION_MAX_AGE_DAYS * 86_400_000,
  outage,
});

const http = new ServiceHttp({
  port: env.ALOFT_SCHEDULER_HTTP_PORT,
  registry,
  healthy: () => scheduler.loopLagMs < Math.max(60_000, env.ALOFT_SCHEDULER_LOOP_MS * 30),
  ready: () => redis.status === 'ready',
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  scheduler.stop();
  processor.stop();
  await scheduler.releaseLease().catch(() => undefined);
  await http.stop();
  await redis.quit();
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

logger.info({ redis: redactUrl(config.redisUrl), prefix: config.prefix, dags: config.dagsFolder, id: scheduler.id }, 'scheduler starting');
await http.start().catch((err: unknown) => {
  logger.warn({ err, port: env.ALOFT_SCHEDULER_HTTP_PORT }, 'health/metrics port unavailable; continuing without it');
});
await scheduler.start();
