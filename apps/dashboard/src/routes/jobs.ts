import express, { type Router } from 'express';
import type { AdhocJob, AloftClient } from '@aloft/core';
import { requireRole } from '../auth.js';
import { handle, parse } from './http.js';
import { API_SCHEMAS } from './schemas.js';

const { Job } = API_SCHEMAS;

/** Ad-hoc jobs: one command or pod as its own single-task run. */
export function jobRoutes(client: AloftClient): Router {
  const r = express.Router();
  r.post(
    '/jobs',
    requireRole('operator'),
    handle(async (req, res) => {
      const job = parse(Job, req.body);
      res.status(201).json(await client.submitJob(job as AdhocJob));
    }),
  );
  return r;
}
