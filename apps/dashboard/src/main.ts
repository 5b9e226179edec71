import type { Server } from 'node:http';
import { createLogger, createRedis, loadConfig, redactUrl, RedisOutageLog, Store } from '@aloft/core';
import { createDashboard } from './app.js';

const config = loadConfig();
const logger = createLogger({ name: 'dashboard', level: config.logLevel, pretty: config.logPretty });
const outage = new RedisOutageLog(logger);
const redis = outage.watch(createRedis(config.redisUrl, {}, config.source), 'dashboard');
const store = new Store(redis, config.prefix, config.env.ALOFT_LOG_MAX_LINES, config.durability);
const dashboard = createDashboard({
  store,
  redis,
  logger,
  loginAttempts: config.env.ALOFT_DASHBOARD_LOGIN_ATTEMPTS,
  loginAccountAttempts: config.env.ALOFT_DASHBOARD_LOGIN_ACCOUNT_ATTEMPTS,
  trustProxy: config.env.ALOFT_DASHBOARD_TRUST_PROXY,
  maxJsonDepth: config.env.ALOFT_API_MAX_JSON_DEPTH,
  maxBackfillRuns: config.env.ALOFT_BACKFILL_MAX_RUNS,
  outage,
  podsOnStandIn: config.env.ALOFT_K8S_STAND_IN === '1',
});
await dashboard.auth.bootstrap(config.env.ALOFT_DASHBOARD_ADMIN_PASSWORD);
const bundled = Date.now();
await dashboard.uiReady.then(
  () => logger.info({ ms: Date.now() - bundled }, 'web UI bundled'),
  (err: unknown) => logger.error({ err }, 'the web UI could not be bundled; the API still works'),
);
await dashboard.refreshQueues().catch((err: unknown) => logger.warn({ err }, 'could not list queues yet'));

const port = config.env.ALOFT_DASHBOARD_PORT;
const server: Server = dashboard.app.listen(port, () => {
  logger.info({ url: `http://localhost:${port}/`, redis: redactUrl(config.redisUrl) }, 'dashboard listening');
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
  await dashboard.close();
  await redis.quit();
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
