import express, { type Router } from 'express';
import cronstrue from 'cronstrue';
import { describeSchedule, nextRunAt, type AloftClient, type DagHead, type Schedule, type SerializedDag } from '@aloft/core';
import { requireRole } from '../auth.js';
import { exactly, matchTaskIds } from '../task-regex.js';
import { handle, param, parse } from './http.js';
import { API_SCHEMAS } from './schemas.js';

const { Backfill, ClearRange, GridQuery, Pause } = API_SCHEMAS;

/** Runs the DAG list shows of each DAG. */
const RECENT_RUNS = 12;

/** What a DAG with pod tasks says when its pods run on the quick start's stand-in. */
export const STAND_IN_NOTE =
  "Pods run on a local stand-in, not a cluster: the quick start found no KUBECONFIG, so each pod's command runs as a local process (packages/k8s-emulator). Set KUBECONFIG before `node scripts/up.mjs` to run them on a cluster.";

/** "At 06:00 AM, only on Monday (Europe/Paris)": cron in words by cronstrue, intervals and datasets by Aloft. */
export function scheduleInWords(schedule: Schedule, timezone: string): string {
  if (!schedule) return 'Manual only';
  if (schedule.kind === 'interval') return describeSchedule(schedule).replace(/^every/, 'Every');
  if (schedule.kind === 'datasets') return describeSchedule(schedule).replace(/^on/, 'On');
  const tz = timezone === 'UTC' ? ' (UTC)' : ` (${timezone})`;
  try {
    return cronstrue.toString(schedule.expression, { verbose: false, use24HourTimeFormat: true }) + tz;
  } catch {
    return `cron ${schedule.expression}${tz}`;
  }
}

function nextRun(dag: SerializedDag, head: DagHead, now: Date): number | null {
  if (head.paused || !dag.schedule || !dag.startDate || head.missing) return null;
  const at = nextRunAt({
    schedule: dag.schedule,
    timezone: dag.timezone,
    startDate: new Date(dag.startDate),
    endDate: dag.endDate ? new Date(dag.endDate) : null,
    catchup: dag.catchup,
    lastIntervalEnd: head.lastIntervalEnd === null ? null : new Date(head.lastIntervalEnd),
    now,
  });
  return at ? at.getTime() : null;
}

export interface DagRoutesOptions {
  client: AloftClient;
  /** Pods run on the quick start's local stand-in (ALOFT_K8S_STAND_IN): DAGs with pod tasks say so. */
  podsOnStandIn: boolean;
  /** Runs one backfill may create (ALOFT_BACKFILL_MAX_RUNS). */
  maxBackfillRuns: number;
}

/** DAGs: the list, one DAG, pausing, the grid, and the operations over a range of runs (backfill, clear). */
export function dagRoutes(o: DagRoutesOptions): Router {
  const { client } = o;
  const r = express.Router();
  const viewer = requireRole('viewer');
  const operator = requireRole('operator');

  r.get(
    '/dags',
    viewer,
    handle(async (req, res) => {
      const tag = typeof req.query['tag'] === 'string' ? req.query['tag'] : undefined;
      const paused = req.query['paused'] === undefined ? undefined : req.query['paused'] === 'true';
      const now = new Date();
      const dags = (await client.listDagOverviews({ tag, paused, recentRuns: RECENT_RUNS })).map(({ head, dag, owners, tasks, recentRuns }) => ({
        id: dag.id,
        description: dag.description,
        schedule: dag.schedule,
        scheduleText: scheduleInWords(dag.schedule, dag.timezone),
        timezone: dag.timezone,
        nextRunAt: nextRun(dag, head, now),
        tags: dag.tags,
        owners,
        paused: head.paused,
        fileloc: dag.fileloc,
        missing: head.missing,
        tasks,
        recentRuns,
      }));
      res.json({ dags });
    }),
  );
  r.get(
    '/dags/:dagId',
    viewer,
    handle(async (req, res) => {
      const d = await client.getDag(param(req, 'dagId'));
      const pods = d.dag.tasks.some((t) => t.kind === 'kubernetesPod' || t.runInPod);
      res.json({ ...d.dag, paused: d.paused, missing: d.missing, ...(o.podsOnStandIn && pods ? { podNote: STAND_IN_NOTE } : {}) });
    }),
  );
  r.patch(
    '/dags/:dagId',
    operator,
    handle(async (req, res) => {
      const body = parse(Pause, req.body);
      await client.setPaused(param(req, 'dagId'), body.paused);
      res.json({ id: param(req, 'dagId'), paused: body.paused });
    }),
  );
  r.delete(
    '/dags/:dagId',
    operator,
    handle(async (req, res) => {
      res.json(await client.deleteDag(param(req, 'dagId')));
    }),
  );
  r.get(
    '/dags/:dagId/grid',
    viewer,
    handle(async (req, res) => {
      const q = parse(GridQuery, req.query);
      res.json(await client.getRunGrid(param(req, 'dagId'), q));
    }),
  );
  r.post(
    '/dags/:dagId/backfill',
    operator,
    handle(async (req, res) => {
      const body = parse(Backfill, req.body);
      const range = { from: new Date(body.from), to: new Date(body.to) };
      res.status(201).json(await client.backfill(param(req, 'dagId'), { ...body, ...range, maxRuns: o.maxBackfillRuns }));
    }),
  );
  r.post(
    '/dags/:dagId/clear',
    operator,
    handle(async (req, res) => {
      const body = parse(ClearRange, req.body);
      const dagId = param(req, 'dagId');
      const range = { from: new Date(body.from), to: new Date(body.to) };
      await client.getDag(dagId);
      // The user's pattern never runs on this thread: the ids it matches, found in a worker
      // thread by RE2, go to clearRange as a pattern of those ids alone. A run that gets a
      // new task id in between is not cleared by it.
      const taskRegex = body.taskRegex ? exactly(await matchTaskIds(body.taskRegex, await client.taskIdsBetween(dagId, range.from, range.to))) : undefined;
      res.json(await client.clearRange(dagId, { ...body, ...range, taskRegex }));
    }),
  );
  return r;
}
