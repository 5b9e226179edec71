import express, { type Router } from 'express';
import type { AloftClient, TaskInstance } from '@aloft/core';
import { requireRole } from '../auth.js';
import { followLog } from '../log-follow.js';
import type { EventHub } from '../live.js';
import { BadRequest, handle, param, parse } from './http.js';
import { API_SCHEMAS } from './schemas.js';

const { Follow, LogQuery } = API_SCHEMAS;

/**
 * The instance whose log is asked for. A mapped task as a whole has no log of its own (each
 * instance has one), so that is a bad request naming `mapIndex` rather than an empty log.
 */
function loggedInstance(ti: TaskInstance): TaskInstance {
  if (!ti.mapped) return ti;
  const range = ti.mapped.n === 1 ? '0' : `0 to ${ti.mapped.n - 1}`;
  throw new BadRequest(`task "${ti.taskId}" is mapped into ${ti.mapped.n} instance(s), each with its own log: give a mapIndex from ${range}`, 'mapIndex');
}

export interface LogRoutesOptions {
  client: AloftClient;
  hub: EventHub;
  /** How often a followed log is read for new lines. */
  followPollMs: number;
}

/** A task instance's log: a page of lines, or followed live (SSE). */
export function logRoutes(o: LogRoutesOptions): Router {
  const { client } = o;
  const r = express.Router();
  const viewer = requireRole('viewer');

  r.get(
    '/dags/:dagId/runs/:runId/tasks/:taskId/logs',
    viewer,
    handle(async (req, res) => {
      const q = parse(LogQuery, req.query);
      const [dagId, runId, taskId] = [param(req, 'dagId'), param(req, 'runId'), param(req, 'taskId')];
      const ti = loggedInstance(await client.getTaskInstance(dagId, runId, taskId, q.mapIndex));
      const tryNo = q.try ?? ti.try;
      // Line numbers are absolute; past the log's cap the first lines are gone, and `from` says
      // where the answer starts.
      const page = await client.readLog(dagId, runId, taskId, { try: tryNo, from: q.from, count: q.count, mapIndex: q.mapIndex });
      res.json({ try: tryNo, from: page.from, next: page.from + page.lines.length, lines: page.lines });
    }),
  );
  r.get(
    '/dags/:dagId/runs/:runId/tasks/:taskId/logs/stream',
    viewer,
    handle(async (req, res) => {
      const q = parse(Follow, req.query);
      const key = { dagId: param(req, 'dagId'), runId: param(req, 'runId'), taskId: param(req, 'taskId'), mapIndex: q.mapIndex };
      const ti = loggedInstance(await client.getTaskInstance(key.dagId, key.runId, key.taskId, key.mapIndex));
      await followLog(res, { client, hub: o.hub, key, tryNo: q.try ?? Math.max(ti.try, 1), from: q.from, pollMs: o.followPollMs });
    }),
  );
  return r;
}
