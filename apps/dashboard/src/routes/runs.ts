import express, { type Router } from 'express';
import { ADHOC_DAG_ID, checkConf, type AloftClient } from '@aloft/core';
import { requireRole } from '../auth.js';
import { BadRequest, handle, param, parse } from './http.js';
import { API_SCHEMAS } from './schemas.js';

const { RunFilter, Trigger } = API_SCHEMAS;

/** A DAG's runs: the list (filtered by state and run type), triggering, one run, cancelling. */
export function runRoutes(client: AloftClient): Router {
  const r = express.Router();
  const viewer = requireRole('viewer');
  const operator = requireRole('operator');

  r.get(
    '/dags/:dagId/runs',
    viewer,
    handle(async (req, res) => {
      const q = parse(RunFilter, req.query);
      const { runs, total } = await client.findRuns(param(req, 'dagId'), q);
      res.json({ runs, total, limit: q.limit, offset: q.offset });
    }),
  );
  r.post(
    '/dags/:dagId/runs',
    operator,
    handle(async (req, res) => {
      const body = parse(Trigger, req.body);
      const dagId = param(req, 'dagId');
      if (dagId === ADHOC_DAG_ID) throw new BadRequest('ad-hoc jobs are submitted with POST /api/v1/jobs', 'dagId');
      const dag = await client.getDag(dagId);
      const problems = checkConf(dag.dag.params, body.conf);
      if (problems.length) throw new BadRequest(problems[0]!, problems[0]!.split(' ')[0]!);
      try {
        const run = await client.trigger(dagId, {
          conf: body.conf,
          runId: body.runId,
          logicalDate: body.logicalDate ? new Date(body.logicalDate) : undefined,
        });
        res.status(201).json(run);
      } catch (err) {
        if (/already exists/.test(String(err))) throw new BadRequest((err as Error).message, 'runId', 409);
        throw err;
      }
    }),
  );
  r.get(
    '/dags/:dagId/runs/:runId',
    viewer,
    handle(async (req, res) => {
      res.json(await client.getRun(param(req, 'dagId'), param(req, 'runId')));
    }),
  );
  r.post(
    '/dags/:dagId/runs/:runId/cancel',
    operator,
    handle(async (req, res) => {
      await client.cancelRun(param(req, 'dagId'), param(req, 'runId'), `cancelled by ${req.user!.username}`);
      res.json(await client.getRun(param(req, 'dagId'), param(req, 'runId')));
    }),
  );
  return r;
}
