import { Registry, collectDefaultMetrics } from 'prom-client';
import { createLogger, createRedis, redactUrl, RedisOutageLog, secretsBackends, ServiceHttp, Store, userCodeIdentity } from '@aloft/core';
import { loadWorkerConfig, runSettings } from './config.js';
import { AloftWorker } from './worker.js';

const config = loadWorkerConfig(process.env);
const logger = createLogger({ name: config.workerId, level: config.logLevel, pretty: config.logPretty });
const outage = new RedisOutageLog(logger);
const redis = outage.watch(createRedis(config.redis), 'store');
const store = new Store(redis, config.prefix, config.logMaxLines, config.durability, (err) =>
  logger.warn({ err: err.message }, 'not confirmed by the replicas in time'),
);
const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'aloft_worker_' });

const worker = new AloftWorker({
  store,
  env: process.env,
  connection: () => outage.watch(createRedis(config.redis), 'bullmq'),
  logger,
  outage,
  ...runSettings(config),
  queues: config.queues,
  workerId: config.workerId,
  kubernetes: config.kubernetes,
  dagsFolder: config.dagsFolder,
  taskPods: config.taskPods,
  podsOnStandIn: config.podsOnStandIn,
  userCode: userCodeIdentity(config.userCodeUser),
  secrets: secretsBackends(redis, store.keys, { ...config.secrets, env: process.env }),
  registry,
});

const http = new ServiceHttp({
  port: config.httpPort,
  registry,
  healthy: () => true,
  ready: () => redis.status === 'ready' && worker.isRunning,
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal, running: worker.runningCount }, 'stopping: finishing running tasks');
  // A bound on the whole stop. Seen in tests/chaos.test.ts: a SIGTERM that arrived while the
  // worker was reconnecting to a restarted Redis never finished closing BullMQ's workers
  // (no task was running; the stop waited 5 minutes until SIGKILL). Past the grace period
  // every task has been handed back, and the reaper ends any process group left, so exiting
  // loses nothing; the job locks lapse and other workers take the jobs over.
  const bound = setTimeout(() => {
    logger.warn({ graceMs: config.graceMs, running: worker.runningCount }, 'stop not finished 15 s after the grace period; exiting');
    process.exit(1);
  }, config.graceMs + 15_000);
  bound.unref();
  await worker.close(config.graceMs);
  await http.stop();
  await redis.quit();
  logger.info('stopped');
  process.exit(0);
}
// A command still in flight when Redis goes away during shutdown rejects; that is expected
// then. Any other unhandled rejection is a bug: log it and exit as Node would.
process.on('unhandledRejection', (err) => {
  if (stopping) return void logger.warn({ err }, 'ignored while stopping');
  logger.fatal({ err }, 'unhandled rejection');
  process.exit(1);
});
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

logger.info({ redis: redactUrl(config.redis.url), prefix: config.prefix }, 'worker starting');
worker.start();
await http.start().catch((err: unknown) => {
  logger.warn({ err, port: config.httpPort }, 'health/metrics port unavailable; continuing without it');
});
