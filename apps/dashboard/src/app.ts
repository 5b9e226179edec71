import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import { pinoHttp } from 'pino-http';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { listQueueNames, type Logger, type Store } from '@aloft/core';
import { renderHome } from './home.js';

export interface DashboardOptions {
  store: Store;
  redis: Redis;
  logger: Logger;
}

export interface Dashboard {
  app: Express;
  /** Picks up queues that appeared since the last call (new DAGs naming new queues). */
  refreshQueues(): Promise<void>;
  close(): Promise<void>;
}

/** The dashboard server: a home page of DAGs and runs, bull-board at /queues, health and metrics. */
export function createDashboard(o: DashboardOptions): Dashboard {
  const app = express();
  app.disable('x-powered-by');
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

  const refreshQueues = async () => {
    for (const name of await listQueueNames(o.redis, o.store.keys)) {
      if (queues.has(name)) continue;
      const q = new Queue(name, { connection: o.redis, prefix: o.store.keys.bullPrefix });
      queues.set(name, q);
      board.addQueue(new BullMQAdapter(q, { readOnlyMode: false }));
    }
  };

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
  // For autoscalers (KEDA's metrics-api scaler): jobs waiting per queue, counting BullMQ's
  // prioritized jobs (Aloft enqueues with priorities), as JSON. Counts only.
  app.get('/metrics/queues', async (_req, res) => {
    await refreshQueues().catch(() => undefined);
    const out: Record<string, { waiting: number; active: number; delayed: number }> = {};
    for (const [name, q] of queues) {
      const c = await q.getJobCounts('wait', 'prioritized', 'active', 'delayed');
      out[name] = { waiting: (c['wait'] ?? 0) + (c['prioritized'] ?? 0), active: c['active'] ?? 0, delayed: c['delayed'] ?? 0 };
    }
    res.json({ queues: out });
  });
  app.use('/queues', async (_req, _res, next) => {
    await refreshQueues().catch(() => undefined);
    next();
  });
  app.use('/queues', serverAdapter.getRouter() as express.Router);
  app.get('/', async (_req, res) => {
    res.type('html').send(await renderHome(o.store));
  });

  return {
    app,
    refreshQueues,
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
    },
  };
}
