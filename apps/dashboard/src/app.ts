import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import { pinoHttp } from 'pino-http';
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createClient, listQueueNames, RedisOutageLog, secretStore, type Logger, type Store } from '@aloft/core';
import helmet from 'helmet';
import { api } from './api.js';
import { errorHandler } from './error-handler.js';
import { jsonLimits } from './json-limits.js';
import { EventHub } from './live.js';
import { openApiDocument } from './openapi.js';
import { Auth, requireRole, sameOrigin } from './auth.js';
import { signInRouter } from './sign-in.js';
import { adminApi } from './routes/admin.js';
import { queueCounts } from './routes/queues.js';
import { uiRouter } from './ui.js';

export interface DashboardOptions {
  store: Store;
  redis: Redis;
  logger: Logger;
  /** Refused sign-ins allowed per client address (and per known browser) in 15 minutes. Default 10. */
  loginAttempts?: number;
  /** Refused sign-ins allowed per account from browsers it does not know, in 15 minutes. Default 30. */
  loginAccountAttempts?: number;
  /** Runs one backfill through the API may create. Default 1000. */
  maxBackfillRuns?: number;
  /** How deep a JSON body of the API may nest (the body is level 1). Default 32. */
  maxJsonDepth?: number;
  /** Proxies whose X-Forwarded-For is believed (express's `trust proxy` list). Default none. */
  trustProxy?: readonly string[];
  /** Logs a Redis outage once; the dashboard's own connections and BullMQ's report to it. Default: one of its own. */
  outage?: RedisOutageLog;
  /** Pods run on the quick start's local stand-in; DAGs with pod tasks say so. */
  podsOnStandIn?: boolean;
  /** The keyring of Aloft's secret store (ALOFT_SECRETS_KEYS); without it the API refuses secrets. */
  secretsKeys?: string | undefined;
}

export interface Dashboard {
  app: Express;
  /** Resolves once the web UI is bundled (rejects if it cannot be). */
  uiReady: Promise<unknown>;
  auth: Auth;
  /** Picks up queues that appeared since the last call (new DAGs naming new queues). */
  refreshQueues(): Promise<void>;
  close(): Promise<void>;
}

/** The dashboard server: a home page of DAGs and runs, bull-board at /queues, health and metrics. */
export function createDashboard(o: DashboardOptions): Dashboard {
  const app = express();
  app.disable('x-powered-by');
  const ui = uiRouter();
  // Only a listed proxy may say where the client connected from (X-Forwarded-For), which the
  // sign-in limits count: believed from any private peer, any client there could rotate it.
  // X-Forwarded-Proto from the Ingress is believed regardless (auth.ts, isHttps).
  app.set('trust proxy', o.trustProxy?.length ? [...o.trustProxy] : false);
  // bull-board's UI needs its own scripts and styles; the other headers apply everywhere.
  // Referrer-Policy same-origin, not helmet's no-referrer: under no-referrer browsers send
  // `Origin: null` on form posts, and the CSRF check could not tell our own forms apart.
  app.use(helmet({ contentSecurityPolicy: false, referrerPolicy: { policy: 'same-origin' } }));
  app.use(
    pinoHttp({
      logger: o.logger,
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' },
      serializers: {
        req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url }),
        res: (res: { statusCode: number }) => ({ status: res.statusCode }),
      },
    }),
  );

  const client = createClient({ store: o.store });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'aloft_dashboard_' });
  const queues = new Map<string, Queue>();
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath('/queues');
  const board = createBullBoard({ queues: [], serverAdapter });

  new Gauge({
    name: 'aloft_queue_jobs',
    help: 'Jobs per queue and state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      for (const [name, q] of queues) {
        const counts = await q.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children');
        for (const [state, n] of Object.entries(counts)) this.set({ queue: name, state }, n);
      }
    },
  });

  new Gauge({
    name: 'aloft_task_instances',
    help: 'Task instances of running DAG runs, by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      for (const [state, n] of await client.activeTaskStates()) this.set({ state }, n);
    },
  });
  const eventLag = new Histogram({
    name: 'aloft_event_lag_seconds',
    help: 'From a task or run transition to the dashboard reading it for live updates',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });

  const outage = o.outage ?? new RedisOutageLog(o.logger);
  const refreshQueues = async () => {
    for (const name of await listQueueNames(o.redis, o.store.keys)) {
      if (queues.has(name)) continue;
      const q = new Queue(name, { connection: o.redis, prefix: o.store.keys.bullPrefix });
      // Without a listener BullMQ prints the error to stderr itself.
      q.on('error', (err) => {
        if (!outage.report(err, `queue ${name}`)) o.logger.error({ err, queue: name }, 'queue error');
      });
      queues.set(name, q);
      board.addQueue(new BullMQAdapter(q, { readOnlyMode: false }));
    }
  };

  const auth = new Auth(o.redis, o.store.keys.prefix, o.logger);
  app.use(auth.session());
  app.use(
    signInRouter({
      auth,
      redis: o.redis,
      prefix: o.store.keys.prefix,
      logger: o.logger,
      loginAttempts: o.loginAttempts ?? 10,
      loginAccountAttempts: o.loginAccountAttempts ?? 30,
    }),
  );

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/readyz', (_req, res) => {
    const ok = o.redis.status === 'ready';
    res.status(ok ? 200 : 503).json({ ok });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  // For autoscalers (KEDA's metrics-api scaler): jobs per queue as JSON, counts only.
  app.get('/metrics/queues', async (_req, res) => {
    await refreshQueues().catch(() => undefined);
    const out: Record<string, { waiting: number; active: number; delayed: number }> = {};
    for (const [name, q] of queues) {
      const { waiting, active, delayed } = await queueCounts(q);
      out[name] = { waiting, active, delayed };
    }
    res.json({ queues: out });
  });
  // Everything below needs a signed-in user; changing anything needs an operator.
  app.use(sameOrigin(), requireRole('viewer'));
  const openapi = openApiDocument();
  app.get('/api/v1/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  const hub = new EventHub(o.store, o.logger, outage, eventLag);
  const rest = api({
    client,
    hub,
    podsOnStandIn: o.podsOnStandIn ?? false,
    maxBackfillRuns: o.maxBackfillRuns,
    secrets: secretStore(o.redis, o.store.keys, { keys: o.secretsKeys }),
    queues: async () => {
      await refreshQueues();
      return queues;
    },
  });
  app.use('/api/v1', express.json({ limit: '100kb' }), jsonLimits(o.maxJsonDepth ?? 32), rest, adminApi(auth));
  app.use('/queues', (req, res, next) => (['GET', 'HEAD'].includes(req.method) ? next() : requireRole('operator')(req, res, next)));
  app.use('/queues', async (_req, _res, next) => {
    await refreshQueues().catch(() => undefined);
    next();
  });
  app.use('/queues', serverAdapter.getRouter() as express.Router);
  app.use(ui);

  app.use(errorHandler(o.logger));

  return {
    app,
    uiReady: ui.ready,
    auth,
    refreshQueues,
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
      await hub.close();
    },
  };
}
