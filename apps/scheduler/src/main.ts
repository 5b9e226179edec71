import { Registry, collectDefaultMetrics } from 'prom-client';
import { createLogger, createRedis, redactUrl, RedisOutageLog, ServiceHttp, Store } from '@aloft/core';
import { loadSchedulerConfig, parseSettings } from './config.js';
import { DagProcessor } from './dag-processor.js';
import { Scheduler } from './scheduler.js';

const config = loadSchedulerConfig(process.env);
const logger = createLogger({ name: 'scheduler', level: config.logLevel, pretty: config.logPretty });
const outage = new RedisOutageLog(logger);
const redis = outage.watch(createRedis(config.redis), 'scheduler');
const store = new Store(redis, config.prefix, config.logMaxLines, config.durability, (err) =>
  logger.warn({ err: err.message }, 'not confirmed by the replicas in time'),
);
const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'aloft_scheduler_' });

const processor = new DagProcessor({ ...parseSettings(config), store, logger, env: process.env });
const scheduler = new Scheduler({
  store,
  redis,
  processor,
  logger,
  registry,
  loopMs: config.loopMs,
  sweepMs: config.sweepMs,
  scanMs: config.scanMs,
  maxCatchupRuns: config.maxCatchupRuns,
  retentionMaxRuns: config.retentionMaxRuns,
  retentionMaxAgeMs: config.retentionMaxAgeMs,
  taskQueuedTimeoutMs: config.taskQueuedTimeoutMs,
  outage,
});

const http = new ServiceHttp({
  port: config.httpPort,
  registry,
  healthy: () => scheduler.loopLagMs < Math.max(60_000, config.loopMs * 30),
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
  await scheduler.close();
  await http.stop();
  await redis.quit();
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

logger.info({ redis: redactUrl(config.redis.url), prefix: config.prefix, dags: config.dagsFolder, id: scheduler.id }, 'scheduler starting');
await http.start().catch((err: unknown) => {
  logger.warn({ err, port: config.httpPort }, 'health/metrics port unavailable; continuing without it');
});
await scheduler.start();
