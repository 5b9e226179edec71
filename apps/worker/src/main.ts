import { Registry, collectDefaultMetrics } from 'prom-client';
import { createLogger, createRedis, loadConfig, redactUrl, RedisOutageLog, secretsBackends, ServiceHttp, Store, userCodeIdentity } from '@aloft/core';
import { AloftWorker } from './worker.js';

const config = loadConfig();
const env = config.env;
const logger = createLogger({ name: env.ALOFT_WORKER_ID, level: config.logLevel, pretty: config.logPretty });
const outage = new RedisOutageLog(logger);
const redis = outage.watch(createRedis(config.redisUrl, {}, config.source), 'store');
const store = new Store(redis, config.prefix, env.ALOFT_LOG_MAX_LINES, config.durability, (err) => logger.warn({ err: err.message }, 'not confirmed by the replicas in time'));
const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'aloft_worker_' });

const worker = new AloftWorker({
  store,
  connection: () => outage.watch(createRedis(config.redisUrl, {}, config.source), 'bullmq'),
  logger,
  outage,
  queues: env.ALOFT_WORKER_QUEUES.split(',').map((q) => q.trim()).filter(Boolean),
  concurrency: env.ALOFT_WORKER_CONCURRENCY,
  workerId: env.ALOFT_WORKER_ID,
  host: env.ALOFT_WORKER_HOST,
  lockMs: env.ALOFT_LOCK_MS,
  heartbeatMs: env.ALOFT_HEARTBEAT_MS,
  killGraceMs: env.ALOFT_KILL_GRACE_MS,
  callbackTimeoutMs: env.ALOFT_CALLBACK_TIMEOUT_MS,
  maxOutputBytes: env.ALOFT_MAX_OUTPUT_BYTES,
  kubernetes: { kubeconfig: env.ALOFT_K8S_KUBECONFIG, context: env.ALOFT_K8S_CONTEXT, startupTimeoutMs: env.ALOFT_K8S_STARTUP_TIMEOUT_MS, createConcurrency: env.ALOFT_K8S_CREATE_CONCURRENCY, orphanSweepMs: env.ALOFT_K8S_ORPHAN_SWEEP_MS },
  dagsFolder: config.dagsFolder,
  taskPods: {
    image: env.ALOFT_TASK_POD_IMAGE,
    command: env.ALOFT_TASK_POD_COMMAND,
    namespace: env.ALOFT_TASK_POD_NAMESPACE,
    dagsFolder: env.ALOFT_TASK_POD_DAGS_FOLDER,
  },
  podReferences: { secrets: env.ALOFT_POD_SECRET_ALLOWLIST, configMaps: env.ALOFT_POD_CONFIGMAP_ALLOWLIST },
  podsOnStandIn: env.ALOFT_K8S_STAND_IN === '1',
  userCode: userCodeIdentity(env.ALOFT_USER_CODE_USER),
  fnRunners: { warm: env.ALOFT_FN_RUNNERS_WARM, idleMs: env.ALOFT_FN_RUNNER_IDLE_MS, maxHeapMb: env.ALOFT_FN_RUNNER_HEAP_MB },
  templates: { timeoutMs: env.ALOFT_TEMPLATE_TIMEOUT_MS, maxBytes: env.ALOFT_TEMPLATE_MAX_BYTES, heapMb: env.ALOFT_TEMPLATE_HEAP_MB },
  maxTakeovers: env.ALOFT_MAX_TAKEOVERS,
  secrets: secretsBackends(redis, store.keys, { order: env.ALOFT_SECRETS_BACKENDS, env: config.source, dir: env.ALOFT_SECRETS_DIR, keys: env.ALOFT_SECRETS_KEYS }),
  registry,
});

const http = new ServiceHttp({
  port: env.ALOFT_WORKER_HTTP_PORT,
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
    logger.warn({ graceMs: env.ALOFT_WORKER_GRACE_MS, running: worker.runningCount }, 'stop not finished 15 s after the grace period; exiting');
    process.exit(1);
  }, env.ALOFT_WORKER_GRACE_MS + 15_000);
  bound.unref();
  await worker.close(env.ALOFT_WORKER_GRACE_MS);
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

logger.info({ redis: redactUrl(config.redisUrl), prefix: config.prefix }, 'worker starting');
worker.start();
await http.start().catch((err: unknown) => {
  logger.warn({ err, port: env.ALOFT_WORKER_HTTP_PORT }, 'health/metrics port unavailable; continuing without it');
});
