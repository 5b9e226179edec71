import type { Server } from 'node:http';
import { createLogger, createRedis, redactUrl, RedisOutageLog, Store } from '@aloft/core';
import { createDashboard } from './app.js';
import { loadDashboardConfig } from './config.js';

const config = loadDashboardConfig(process.env);
const logger = createLogger({ name: 'dashboard', level: config.logLevel, pretty: config.logPretty });
const outage = new RedisOutageLog(logger);
const redis = outage.watch(createRedis(config.redis), 'dashboard');
const store = new Store(redis, config.prefix, config.logMaxLines, config.durability);
const dashboard = createDashboard({
  store,
  redis,
  logger,
  loginAttempts: config.loginAttempts,
  loginAccountAttempts: config.loginAccountAttempts,
  trustProxy: config.trustProxy,
  maxJsonDepth: config.maxJsonDepth,
  maxBackfillRuns: config.maxBackfillRuns,
  outage,
  podsOnStandIn: config.podsOnStandIn,
  secretsKeys: config.secretsKeys,
});
await dashboard.auth.bootstrap(config.adminPassword);
const bundled = Date.now();
await dashboard.uiReady.then(
  () => logger.info({ ms: Date.now() - bundled }, 'web UI bundled'),
  (err: unknown) => logger.error({ err }, 'the web UI could not be bundled; the API still works'),
);
await dashboard.refreshQueues().catch((err: unknown) => logger.warn({ err }, 'could not list queues yet'));

const port = config.port;
const server: Server = dashboard.app.listen(port, () => {
  logger.info({ url: `http://localhost:${port}/`, redis: redactUrl(config.redis.url) }, 'dashboard listening');
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
