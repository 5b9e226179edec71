import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import type { Queue } from 'bullmq';
import cronstrue from 'cronstrue';
import {
  ADHOC_DAG_ID,
  checkConf,
  createClient,
  DagImportError,
  FINISHED_TASK_STATES,
  InvalidInputError,
  describeSchedule,
  intervalsBetween,
  nextRunAt,
  NotFoundError,
  NotReplicatedError,
  RUN_TYPES,
  TASK_STATES,
  taskStatesOfRun,
  type AloftClient,
  type DagHead,
  type Schedule,
  type SerializedDag,
  type Store,
  type TaskInstance,
  type TaskState,
} from '@aloft/core';
import { requireRole } from './auth.js';
import { openSse, type EventHub } from './live.js';
import { exactly, matchTaskIds, TASK_REGEX_MAX_LENGTH, TaskRegexError } from './task-regex.js';

/**
 * The REST API over DAGs, runs, task instances, logs and outputs (/api/v1). Reads need a
 * viewer, changes an operator. Bad input gets 400 JSON naming the field, unknown ids 404.
 */

const Page = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(25),
  offset: z.coerce.number().int().min(0).default(0),
});
const RunFilter = Page.extend({
  state: z.enum(['queued', 'running', 'success', 'failed']).optional(),
  runType: z.enum(RUN_TYPES).optional(),
});
const GridQuery = z.object({
  limit: z.coerce.number().int().min(1).max(365).default(25),
  offset: z.coerce.number().int().min(0).default(0),
});
const Retry = {
  retries: z.number().int().min(0).max(100).optional(),
  retryDelayMs: z.number().int().min(0).max(86_400_000).optional(),
  executionTimeoutMs: z.number().int().min(1).optional(),
  queue: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'letters, digits and _ . - only').optional(),
  taskId: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'letters, digits, _ or - only').optional(),
};
const Job = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('command'),
    command: z.union([z.string().min(1), z.array(z.string()).min(1)]),
    env: z.record(z.string(), z.string()).optional(),
    cwd: z.string().optional(),
    ...Retry,
  }),
  z.object({
    kind: z.literal('kubernetesPod'),
    image: z.string().min(1),
    namespace: z.string().optional(),
    cmds: z.array(z.string()).optional(),
    arguments: z.array(z.string()).optional(),
    env: z.record(z.string(), z.string()).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    resources: z.object({ requests: z.record(z.string(), z.string()).optional(), limits: z.record(z.string(), z.string()).optional() }).optional(),
    startupTimeout: z.union([z.string(), z.number()]).optional(),
    ...Retry,
  }),
]);
/** Which instance of a task: −1 (the default) is an unmapped task, or a mapped task as a whole. */
const mapIndex = z.coerce.number().int().min(-1).default(-1);
const Instance = z.object({ mapIndex });
const Follow = z.object({
  try: z.coerce.number().int().min(1).optional(),
  from: z.coerce.number().int().min(0).default(0),
  mapIndex,
});
const Watch = z.object({
  dagId: z.string().optional(),
  runId: z.string().optional(),
  types: z.string().regex(/^(run|ti|dag)(,(run|ti|dag))*$/, 'a comma-separated list of run, ti, dag').optional(),
});
const Trigger = z.object({
  conf: z.record(z.string(), z.unknown()).default({}),
  runId: z.string().regex(/^[A-Za-z0-9_.:+-]{1,250}$/, 'letters, digits and _ . : + - only').optional(),
  logicalDate: z.iso.datetime({ offset: true }).optional(),
});
const Pause = z.object({ paused: z.boolean() });
const Backfill = z.object({
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }),
  rerun: z.boolean().default(false),
  conf: z.record(z.string(), z.unknown()).default({}),
});
const ClearRange = z.object({
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }),
  taskRegex: z.string().max(TASK_REGEX_MAX_LENGTH).optional(),
  downstream: z.boolean().default(false),
  failedOnly: z.boolean().default(false),
});
const Clear = z.object({ downstream: z.boolean().default(false) });
const Mark = z.object({ state: z.enum(['success', 'failed', 'skipped']), mapIndex: z.number().int().min(-1).default(-1) });
const LogQuery = z.object({
  try: z.coerce.number().int().min(1).optional(),
  from: z.coerce.number().int().min(0).default(0),
  count: z.coerce.number().int().min(1).max(10_000).default(1000),
  mapIndex,
});
const InstanceQuery = Page.extend({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  state: z.enum(TASK_STATES).optional(),
});

const PoolSet = z.object({ slots: z.number().int().min(0).max(1_000_000), description: z.string().max(500).default('') });
export const API_SCHEMAS = { Backfill, ClearRange, Page, RunFilter, GridQuery, Trigger, Pause, Clear, Mark, LogQuery, Job, Follow, Watch, Instance, InstanceQuery, PoolSet };

class BadRequest extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value ?? {});
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new BadRequest(i.message, i.path.join('.') || 'body');
  }
  return r.data;
}

/**
 * The instance whose log is asked for. A mapped task as a whole has no log of its own (each
 * instance has one), so that is a bad request naming `mapIndex` rather than an empty log.
 */
function loggedInstance(ti: TaskInstance): TaskInstance {
  if (!ti.mapped) return ti;
  const range = ti.mapped.n === 1 ? '0' : `0 to ${ti.mapped.n - 1}`;
  throw new BadRequest(`task "${ti.taskId}" is mapped into ${ti.mapped.n} instance(s), each with its own log: give a mapIndex from ${range}`, 'mapIndex');
}

const RECENT_RUNS = 12;

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

type Handler = (req: Request, res: Response) => Promise<void>;
const h = (fn: Handler) => (req: Request, res: Response, next: NextFunction) => fn(req, res).catch(next);
const p = (req: Request, name: string) => String(req.params[name]);

export interface ApiOptions {
  store: Store;
  hub: EventHub;
  /** How often a followed log is read for new lines. */
  followPollMs?: number;
  /** The dashboard's BullMQ queues by name (the ones bull-board shows), refreshed first. */
  queues: () => Promise<ReadonlyMap<string, Queue>>;
  /** Pods run on the quick start's local stand-in (ALOFT_K8S_STAND_IN): DAGs with pod tasks say so. */
  podsOnStandIn?: boolean;
  /** Runs one backfill may create (ALOFT_BACKFILL_MAX_RUNS). Default 1000. */
  maxBackfillRuns?: number;
}

/** What a DAG with pod tasks says when its pods run on the quick start's stand-in. */
export const STAND_IN_NOTE =
  'Pods run on a local stand-in, not a cluster: the quick start found no KUBECONFIG, so each pod\'s command runs as a local process (packages/k8s-emulator). Set KUBECONFIG before `node scripts/up.mjs` to run them on a cluster.';

/** Jobs of one queue by state; waiting counts BullMQ's prioritized jobs (Aloft enqueues with priorities). */
export async function queueCounts(q: Queue): Promise<{ waiting: number; active: number; delayed: number; completed: number; failed: number }> {
  const c = await q.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'completed', 'failed');
  return { waiting: (c['wait'] ?? 0) + (c['prioritized'] ?? 0), active: c['active'] ?? 0, delayed: c['delayed'] ?? 0, completed: c['completed'] ?? 0, failed: c['failed'] ?? 0 };
}

export function api(o: ApiOptions): Router {
  const { store, hub } = o;
  const maxBackfillRuns = o.maxBackfillRuns ?? 1000;
  const client: AloftClient = createClient({ redis: store.redis, prefix: store.keys.prefix, durability: store.durability });
  const r = express.Router();
  const viewer = requireRole('viewer');
  const operator = requireRole('operator');

  // What the DAG list shows of a DAG's definition, by id and version: parsing every DAG's
  // JSON per request costs most with the biggest DAGs, and a version never changes.
  const summaries = new Map<string, { version: string; dag: SerializedDag; owners: string[]; tasks: number }>();
  const summaryOf = async (head: DagHead) => {
    const hit = summaries.get(head.dagId);
    if (hit?.version === head.version) return hit;
    const rec = await store.getDag(head.dagId);
    if (!rec) return undefined;
    const { tasks, ...dag } = rec.dag;
    const s = { version: rec.dag.version, dag: { ...dag, tasks: [] }, owners: [...new Set(tasks.map((t) => t.owner))], tasks: tasks.length };
    summaries.set(head.dagId, s);
    return s;
  };

  r.get('/dags', viewer, h(async (req, res) => {
    const tag = typeof req.query['tag'] === 'string' ? req.query['tag'] : undefined;
    const paused = req.query['paused'] === undefined ? undefined : req.query['paused'] === 'true';
    const heads = (await store.listDagHeads()).filter((d) => paused === undefined || d.paused === paused);
    const found = await Promise.all(heads.map(async (head) => ({ head, s: await summaryOf(head) })));
    const recs = found.filter((f): f is { head: DagHead; s: NonNullable<typeof f.s> } => !!f.s && (!tag || f.s.dag.tags.includes(tag)));
    // The latest runs of every DAG in one round trip: run ids, then their states.
    const ids = await Promise.all(recs.map((d) => store.redis.zrevrange(store.keys.runs(d.head.dagId), 0, RECENT_RUNS - 1)));
    const pipe = store.redis.pipeline();
    recs.forEach((d, i) => ids[i]!.forEach((id) => pipe.hmget(store.keys.run(d.head.dagId, id), 'state', 'logicalDate')));
    const fields = ((await pipe.exec()) ?? []).map(([, v]) => v as (string | null)[]);
    let at = 0;
    const now = new Date();
    const dags = recs.map(({ head, s }, i) => ({
      id: s.dag.id,
      description: s.dag.description,
      schedule: s.dag.schedule,
      scheduleText: scheduleInWords(s.dag.schedule, s.dag.timezone),
      timezone: s.dag.timezone,
      nextRunAt: nextRun(s.dag, head, now),
      tags: s.dag.tags,
      owners: s.owners,
      paused: head.paused,
      fileloc: s.dag.fileloc,
      missing: head.missing,
      tasks: s.tasks,
      recentRuns: ids[i]!.map((runId) => {
        const [state, logicalDate] = fields[at++] ?? [];
        return { runId, state: state ?? 'unknown', logicalDate: Number(logicalDate ?? 0) };
      }),
    }));
    res.json({ dags });
  }));
  r.get('/dags/:dagId', viewer, h(async (req, res) => {
    const d = await client.getDag(p(req, 'dagId'));
    const pods = d.dag.tasks.some((t) => t.kind === 'kubernetesPod' || t.runInPod);
    res.json({ ...d.dag, paused: d.paused, missing: d.missing, ...(o.podsOnStandIn && pods ? { podNote: STAND_IN_NOTE } : {}) });
  }));
  r.patch('/dags/:dagId', operator, h(async (req, res) => {
    const body = parse(Pause, req.body);
    await client.getDag(p(req, 'dagId'));
    await client.setPaused(p(req, 'dagId'), body.paused);
    res.json({ id: p(req, 'dagId'), paused: body.paused });
  }));
  r.get('/datasets', viewer, h(async (_req, res) => {
    res.json({ datasets: await client.listDatasets() });
  }));
  r.get('/importErrors', viewer, h(async (_req, res) => {
    res.json({ importErrors: await client.importErrors() });
  }));
  r.get('/dags/:dagId/runs', viewer, h(async (req, res) => {
    const q = parse(RunFilter, req.query);
    const dagId = p(req, 'dagId');
    if (dagId !== ADHOC_DAG_ID) await client.getDag(dagId);
    const total = await store.countRuns(dagId);
    if (!q.state && !q.runType) {
      res.json({ runs: await client.listRuns(dagId, q), total, limit: q.limit, offset: q.offset });
      return;
    }
    // Filtered: walk the runs newest first in chunks, skipping `offset` matches.
    const runs = [];
    let skipped = 0;
    for (let at = 0; at < total && runs.length < q.limit; at += 500) {
      for (const run of await client.listRuns(dagId, { offset: at, limit: 500 })) {
        if ((q.state && run.state !== q.state) || (q.runType && run.runType !== q.runType)) continue;
        if (skipped++ < q.offset) continue;
        runs.push(run);
        if (runs.length === q.limit) break;
      }
    }
    res.json({ runs, total, limit: q.limit, offset: q.offset });
  }));
  r.get('/dags/:dagId/grid', viewer, h(async (req, res) => {
    const q = parse(GridQuery, req.query);
    const rec = await client.getDag(p(req, 'dagId'));
    const [runs, total] = await Promise.all([client.listRuns(rec.dag.id, q), store.countRuns(rec.dag.id)]);
    const pipe = store.redis.pipeline();
    for (const run of runs) pipe.hgetall(store.keys.tiStates(rec.dag.id, run.runId));
    const states = ((await pipe.exec()) ?? []).map(([, v]) => v as Record<string, string>);
    // Task ids the current version no longer has (or ad-hoc jobs' own) still get a row.
    const known = new Set(rec.dag.tasks.map((t) => t.id));
    const extra = new Set<string>();
    for (const h of states) for (const field of Object.keys(h ?? {})) {
      const id = field.slice(0, field.lastIndexOf(':'));
      if (!known.has(id)) extra.add(id);
    }
    res.json({
      tasks: [
        ...rec.dag.tasks.map((t) => ({ id: t.id, kind: t.kind, upstream: t.upstream, triggerRule: t.triggerRule, ...(t.map ? { mapped: true } : {}) })),
        ...[...extra].sort().map((id) => ({ id, kind: 'unknown', upstream: [], triggerRule: 'all_success' })),
      ],
      total,
      runs: runs.map((run, i) => {
        // A mapped task gets one summarized state per run, and its instances' counts.
        const { tis, mapped } = taskStatesOfRun(states[i] ?? {});
        const base = { runId: run.runId, state: run.state, runType: run.runType, logicalDate: run.logicalDate, startDate: run.startDate, endDate: run.endDate, tis };
        return Object.keys(mapped).length ? { ...base, mapped } : base;
      }),
    });
  }));
  r.post('/dags/:dagId/runs', operator, h(async (req, res) => {
    const body = parse(Trigger, req.body);
    if (p(req, 'dagId') === ADHOC_DAG_ID) throw new BadRequest('ad-hoc jobs are submitted with POST /api/v1/jobs', 'dagId');
    const dag = await client.getDag(p(req, 'dagId'));
    const problems = checkConf(dag.dag.params, body.conf);
    if (problems.length) throw new BadRequest(problems[0]!, problems[0]!.split(' ')[0]!);
    try {
      const run = await client.trigger(p(req, 'dagId'), {
        conf: body.conf,
        runId: body.runId,
        logicalDate: body.logicalDate ? new Date(body.logicalDate) : undefined,
      });
      res.status(201).json(run);
    } catch (err) {
      if (/already exists/.test(String(err))) throw Object.assign(new BadRequest((err as Error).message, 'runId'), { status: 409 });
      throw err;
    }
  }));
  r.post('/dags/:dagId/backfill', operator, h(async (req, res) => {
    const body = parse(Backfill, req.body);
    const range = { from: new Date(body.from), to: new Date(body.to) };
    checkBackfillSize((await client.getDag(p(req, 'dagId'))).dag, range.from, range.to);
    res.status(201).json(await client.backfill(p(req, 'dagId'), { ...body, ...range }));
  }));
  /** The task ids of the instances of a DAG's runs whose logical date is in [from, to]. */
  const taskIdsInRange = async (dagId: string, from: Date, to: Date): Promise<string[]> => {
    const runIds = await store.redis.zrangebyscore(store.keys.runs(dagId), from.getTime(), to.getTime());
    const pipe = store.redis.pipeline();
    for (const runId of runIds) pipe.hkeys(store.keys.tiStates(dagId, runId));
    const fields = ((await pipe.exec()) ?? []).flatMap(([, v]) => v as string[]);
    return [...new Set(fields.map((f) => f.slice(0, f.lastIndexOf(':'))))];
  };
  /** A backfill creates one run per interval in one request: more than the cap is a 400, before any is created. */
  const checkBackfillSize = (dag: SerializedDag, from: Date, to: Date) => {
    // No schedule, datasets, from after to: client.backfill says so.
    if (!dag.schedule || dag.schedule.kind === 'datasets' || !(from <= to)) return;
    try {
      intervalsBetween(dag.schedule, dag.timezone, dag.startDate ? new Date(dag.startDate) : from, from, to, maxBackfillRuns);
    } catch (err) {
      if (!/more than \d+ intervals/.test(String(err))) throw err;
      throw new BadRequest(
        `the range ${from.toISOString()} .. ${to.toISOString()} holds more than ${maxBackfillRuns} intervals, the most one backfill creates (ALOFT_BACKFILL_MAX_RUNS): split it`,
        'to',
      );
    }
  };
  r.post('/dags/:dagId/clear', operator, h(async (req, res) => {
    const body = parse(ClearRange, req.body);
    const dagId = p(req, 'dagId');
    const range = { from: new Date(body.from), to: new Date(body.to) };
    await client.getDag(dagId);
    // The user's pattern never runs on this thread: the ids it matches, found in a worker
    // thread by RE2, go to clearRange as a pattern of those ids alone. A run that gets a
    // new task id in between is not cleared by it.
    const taskRegex = body.taskRegex ? exactly(await matchTaskIds(body.taskRegex, await taskIdsInRange(dagId, range.from, range.to))) : undefined;
    res.json(await client.clearRange(dagId, { ...body, ...range, taskRegex }));
  }));
  r.get('/dags/:dagId/runs/:runId', viewer, h(async (req, res) => {
    res.json(await client.getRun(p(req, 'dagId'), p(req, 'runId')));
  }));
  r.post('/dags/:dagId/runs/:runId/cancel', operator, h(async (req, res) => {
    await client.cancelRun(p(req, 'dagId'), p(req, 'runId'), `cancelled by ${req.user!.username}`);
    res.json(await client.getRun(p(req, 'dagId'), p(req, 'runId')));
  }));
  r.get('/dags/:dagId/runs/:runId/tasks', viewer, h(async (req, res) => {
    await client.getRun(p(req, 'dagId'), p(req, 'runId'));
    res.json({ taskInstances: await client.listTaskInstances(p(req, 'dagId'), p(req, 'runId')) });
  }));
  r.get('/dags/:dagId/runs/:runId/tasks/:taskId', viewer, h(async (req, res) => {
    const q = parse(Instance, req.query);
    res.json(await client.getTaskInstance(p(req, 'dagId'), p(req, 'runId'), p(req, 'taskId'), q.mapIndex));
  }));
  r.get('/dags/:dagId/runs/:runId/tasks/:taskId/instances', viewer, h(async (req, res) => {
    const q = parse(InstanceQuery, req.query);
    const page = await client.listMappedInstances(p(req, 'dagId'), p(req, 'runId'), p(req, 'taskId'), q);
    res.json({ ...page, limit: q.limit, offset: q.offset });
  }));
  r.post('/dags/:dagId/runs/:runId/tasks/:taskId/clear', operator, h(async (req, res) => {
    const body = parse(Clear, req.body);
    const cleared = await client.clearTask(p(req, 'dagId'), p(req, 'runId'), p(req, 'taskId'), body);
    res.json({ cleared });
  }));
  r.post('/dags/:dagId/runs/:runId/tasks/:taskId/mark', operator, h(async (req, res) => {
    const body = parse(Mark, req.body);
    await client.markTask(p(req, 'dagId'), p(req, 'runId'), p(req, 'taskId'), body.state, body.mapIndex);
    res.json(await client.getTaskInstance(p(req, 'dagId'), p(req, 'runId'), p(req, 'taskId'), body.mapIndex));
  }));
  r.get('/dags/:dagId/runs/:runId/tasks/:taskId/logs', viewer, h(async (req, res) => {
    const q = parse(LogQuery, req.query);
    const ti = loggedInstance(await client.getTaskInstance(p(req, 'dagId'), p(req, 'runId'), p(req, 'taskId'), q.mapIndex));
    const tryNo = q.try ?? ti.try;
    // Line numbers are absolute; past the log's cap the first lines are gone, and `from` says
    // where the answer starts.
    const r = await store.readLog({ dagId: p(req, 'dagId'), runId: p(req, 'runId'), taskId: p(req, 'taskId'), mapIndex: q.mapIndex }, tryNo, q.from, q.count);
    res.json({ try: tryNo, from: r.from, next: r.from + r.lines.length, lines: r.lines });
  }));
  r.get('/dags/:dagId/runs/:runId/tasks/:taskId/logs/stream', viewer, h(async (req, res) => {
    const q = parse(Follow, req.query);
    const dagId = p(req, 'dagId');
    const runId = p(req, 'runId');
    const taskId = p(req, 'taskId');
    const ti = loggedInstance(await client.getTaskInstance(dagId, runId, taskId, q.mapIndex));
    const tryNo = q.try ?? Math.max(ti.try, 1);
    const key = { dagId, runId, taskId, mapIndex: q.mapIndex };
    let n = q.from;
    let closed = false;
    let wake: (() => void) | undefined;
    const unsubscribe = hub.subscribe((e) => {
      if (e.dagId === dagId && e.runId === runId && e.taskId === taskId && e.mapIndex === q.mapIndex) wake?.();
    });
    const send = openSse(res, () => {
      closed = true;
      unsubscribe();
      wake?.();
    });
    // A try's number is given when it is queued (or waits for its retry delay); it is over
    // once a later try exists (`retried`: a retry or a clear) or it finished for good.
    const over = async (): Promise<{ state: TaskState | 'retried' } | undefined> => {
      const { state, try: current } = await store.getTiStateAndTry(key);
      if (current > tryNo) return { state: 'retried' };
      if (state && FINISHED_TASK_STATES.has(state)) return { state };
      return undefined;
    };
    while (!closed) {
      const end = await over();
      const { from, lines } = await store.readLog(key, tryNo, n, 1000);
      // Lines trimmed away past the log's cap before they were sent are skipped, not misnumbered.
      n = from;
      for (const l of lines) send('line', { n: n++, ...l });
      if (lines.length === 1000) continue;
      if (end) {
        send('end', { try: tryNo, state: end.state });
        break;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, o.followPollMs ?? 300);
      });
      wake = undefined;
    }
    res.end();
  }));
  r.get('/events', viewer, h(async (req, res) => {
    const q = parse(Watch, req.query);
    const types = q.types ? new Set(q.types.split(',')) : undefined;
    let unsubscribe = () => {};
    const send = openSse(res, () => unsubscribe());
    unsubscribe = hub.subscribe((e) => {
      if ((q.dagId && e.dagId !== q.dagId) || (q.runId && e.runId !== q.runId) || (types && !types.has(e.type))) return;
      send(e.type, e);
    });
    send('ready', { subscribed: q });
  }));
  r.get('/queues', viewer, h(async (_req, res) => {
    const queues = await o.queues();
    const out = [];
    for (const name of [...queues.keys()].sort()) {
      const q = queues.get(name)!;
      out.push({ name, ...(await queueCounts(q)), workers: (await q.getWorkers()).length });
    }
    res.json({ queues: out });
  }));
  r.get('/pools', viewer, h(async (_req, res) => {
    res.json({ pools: await client.listPools() });
  }));
  r.put('/pools/:name', operator, h(async (req, res) => {
    const body = parse(PoolSet, req.body);
    res.json(await client.setPool(p(req, 'name'), body.slots, body.description));
  }));
  r.delete('/pools/:name', operator, h(async (req, res) => {
    await client.deletePool(p(req, 'name'));
    res.status(204).end();
  }));
  r.post('/jobs', operator, h(async (req, res) => {
    const job = parse(Job, req.body);
    res.status(201).json(await client.submitJob(job as Parameters<AloftClient['submitJob']>[0]));
  }));
  r.get('/dags/:dagId/runs/:runId/tasks/:taskId/output', viewer, h(async (req, res) => {
    const q = parse(Instance, req.query);
    await client.getTaskInstance(p(req, 'dagId'), p(req, 'runId'), p(req, 'taskId'), q.mapIndex);
    const output = await client.getOutput(p(req, 'dagId'), p(req, 'runId'), p(req, 'taskId'), q.mapIndex);
    res.json({ output: output ?? null });
  }));

  // Known failures as 4xx JSON; the rest goes to the app's handler (500, logged).
  r.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (err instanceof NotFoundError) return void res.status(404).json({ error: err.message, field: 'path' });
    if (err instanceof DagImportError) return void res.status(400).json({ error: err.message, field: err.field ?? 'body' });
    if (err instanceof InvalidInputError) return void res.status(400).json({ error: err.message, field: err.field });
    // Recorded, but not yet safe from a failover: the caller may repeat it with the same run id.
    if (err instanceof NotReplicatedError) return void res.status(503).json({ error: err.message });
    if (err instanceof TaskRegexError) return void res.status(err.status).json({ error: err.message, field: err.field });
    if (err instanceof BadRequest) return void res.status((err as BadRequest & { status?: number }).status ?? 400).json({ error: err.message, field: err.field });
    next(err);
  });
  return r;
}
