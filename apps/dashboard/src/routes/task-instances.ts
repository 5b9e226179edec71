import express, { type Router } from 'express';
import type { AloftClient } from '@aloft/core';
import { requireRole } from '../auth.js';
import { handle, param, parse } from './http.js';
import { API_SCHEMAS } from './schemas.js';

const { Clear, Instance, InstanceQuery, Mark } = API_SCHEMAS;

/** A run's task instances: the list, one instance, a mapped task's instances, clear, mark, output. */
export function taskInstanceRoutes(client: AloftClient): Router {
  const r = express.Router();
  const viewer = requireRole('viewer');
  const operator = requireRole('operator');

  r.get(
    '/dags/:dagId/runs/:runId/tasks',
    viewer,
    handle(async (req, res) => {
      await client.getRun(param(req, 'dagId'), param(req, 'runId'));
      res.json({ taskInstances: await client.listTaskInstances(param(req, 'dagId'), param(req, 'runId')) });
    }),
  );
  r.get(
    '/dags/:dagId/runs/:runId/tasks/:taskId',
    viewer,
    handle(async (req, res) => {
      const q = parse(Instance, req.query);
      res.json(await client.getTaskInstance(param(req, 'dagId'), param(req, 'runId'), param(req, 'taskId'), q.mapIndex));
    }),
  );
  r.get(
    '/dags/:dagId/runs/:runId/tasks/:taskId/instances',
    viewer,
    handle(async (req, res) => {
      const q = parse(InstanceQuery, req.query);
      const page = await client.listMappedInstances(param(req, 'dagId'), param(req, 'runId'), param(req, 'taskId'), q);
      res.json({ ...page, limit: q.limit, offset: q.offset });
    }),
  );
  r.post(
    '/dags/:dagId/runs/:runId/tasks/:taskId/clear',
    operator,
    handle(async (req, res) => {
      const body = parse(Clear, req.body);
      const cleared = await client.clearTask(param(req, 'dagId'), param(req, 'runId'), param(req, 'taskId'), body);
      res.json({ cleared });
    }),
  );
  r.post(
    '/dags/:dagId/runs/:runId/tasks/:taskId/mark',
    operator,
    handle(async (req, res) => {
      const body = parse(Mark, req.body);
      await client.markTask(param(req, 'dagId'), param(req, 'runId'), param(req, 'taskId'), body.state, body.mapIndex);
      res.json(await client.getTaskInstance(param(req, 'dagId'), param(req, 'runId'), param(req, 'taskId'), body.mapIndex));
    }),
  );
  r.get(
    '/dags/:dagId/runs/:runId/tasks/:taskId/output',
    viewer,
    handle(async (req, res) => {
      const q = parse(Instance, req.query);
      await client.getTaskInstance(param(req, 'dagId'), param(req, 'runId'), param(req, 'taskId'), q.mapIndex);
      const output = await client.getOutput(param(req, 'dagId'), param(req, 'runId'), param(req, 'taskId'), q.mapIndex);
      res.json({ output: output ?? null });
    }),
  );
  return r;
}
