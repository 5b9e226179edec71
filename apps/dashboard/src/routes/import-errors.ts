import express, { type Router } from 'express';
import type { AloftClient } from '@aloft/core';
import { requireRole } from '../auth.js';
import { handle } from './http.js';

/** DAG files that failed to import. */
export function importErrorRoutes(client: AloftClient): Router {
  const r = express.Router();
  r.get(
    '/importErrors',
    requireRole('viewer'),
    handle(async (_req, res) => {
      res.json({ importErrors: await client.importErrors() });
    }),
  );
  return r;
}
