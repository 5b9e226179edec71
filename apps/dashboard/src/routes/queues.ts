import express, { type Router } from 'express';
import type { Queue } from 'bullmq';
import { requireRole } from '../auth.js';
import { handle } from './http.js';

/** Jobs of one queue by state; waiting counts BullMQ's prioritized jobs (Aloft enqueues with priorities). */
export async function queueCounts(q: Queue): Promise<{ waiting: number; active: number; delayed: number; completed: number; failed: number }> {
  const c = await q.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'completed', 'failed');
  return {
    waiting: (c['wait'] ?? 0) + (c['prioritized'] ?? 0),
    active: c['active'] ?? 0,
    delayed: c['delayed'] ?? 0,
    completed: c['completed'] ?? 0,
    failed: c['failed'] ?? 0,
  };
}

/** The BullMQ queues: jobs by state and workers, per queue. `queues` gives them by name, refreshed first. */
export function queueRoutes(queues: () => Promise<ReadonlyMap<string, Queue>>): Router {
  const r = express.Router();
  r.get(
    '/queues',
    requireRole('viewer'),
    handle(async (_req, res) => {
      const found = await queues();
      const out = [];
      for (const name of [...found.keys()].sort()) {
        const q = found.get(name)!;
        out.push({ name, ...(await queueCounts(q)), workers: (await q.getWorkers()).length });
      }
      res.json({ queues: out });
    }),
  );
  return r;
}
