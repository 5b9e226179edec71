import express, { type Router } from 'express';
import type { Queue } from 'bullmq';
import type { AloftClient, SecretStore } from '@aloft/core';
import type { EventHub } from './live.js';
import { dagRoutes } from './routes/dags.js';
import { datasetRoutes } from './routes/datasets.js';
import { eventRoutes } from './routes/events.js';
import { apiErrors } from './routes/http.js';
import { importErrorRoutes } from './routes/import-errors.js';
import { jobRoutes } from './routes/jobs.js';
import { logRoutes } from './routes/logs.js';
import { poolRoutes } from './routes/pools.js';
import { queueRoutes } from './routes/queues.js';
import { runRoutes } from './routes/runs.js';
import { secretRoutes } from './routes/secrets.js';
import { taskInstanceRoutes } from './routes/task-instances.js';

export interface ApiOptions {
  client: AloftClient;
  hub: EventHub;
  /** How often a followed log is read for new lines. Default 300 ms. */
  followPollMs?: number;
  /** The dashboard's BullMQ queues by name (the ones bull-board shows), refreshed first. */
  queues: () => Promise<ReadonlyMap<string, Queue>>;
  /** Pods run on the quick start's local stand-in (ALOFT_K8S_STAND_IN): DAGs with pod tasks say so. */
  podsOnStandIn?: boolean;
  /** Runs one backfill may create (ALOFT_BACKFILL_MAX_RUNS). Default 1000. */
  maxBackfillRuns?: number;
  /** Aloft's own store of connections and variables. */
  secrets: SecretStore;
}

/**
 * The REST API over DAGs, runs, task instances, logs and outputs (/api/v1), one router per
 * resource in routes/, each calling AloftClient for what it reads and changes. Reads need a
 * viewer, changes an operator. Bad input gets 400 JSON naming the field, unknown ids 404.
 */
export function api(o: ApiOptions): Router {
  const { client } = o;
  const r = express.Router();
  r.use(
    dagRoutes({ client, podsOnStandIn: o.podsOnStandIn ?? false, maxBackfillRuns: o.maxBackfillRuns ?? 1000 }),
    runRoutes(client),
    taskInstanceRoutes(client),
    logRoutes({ client, hub: o.hub, followPollMs: o.followPollMs ?? 300 }),
    eventRoutes(o.hub),
    datasetRoutes(client),
    importErrorRoutes(client),
    poolRoutes(client),
    jobRoutes(client),
    queueRoutes(o.queues),
    secretRoutes(o.secrets),
  );
  r.use(apiErrors());
  return r;
}
