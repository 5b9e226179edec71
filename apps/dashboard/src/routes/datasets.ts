import express, { type Router } from 'express';
import type { AloftClient } from '@aloft/core';
import { requireRole } from '../auth.js';
import { handle } from './http.js';

/** Datasets that tasks update or DAGs are scheduled on. */
export function datasetRoutes(client: AloftClient): Router {
  const r = express.Router();
  r.get(
    '/datasets',
    requireRole('viewer'),
    handle(async (_req, res) => {
      res.json({ datasets: await client.listDatasets() });
    }),
  );
  return r;
}
