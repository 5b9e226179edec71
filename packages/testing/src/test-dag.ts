import { dirname, resolve } from 'node:path';
import {
  checkConf,
  intervalsBetween,
  manualRunId,
  topologicalOrder,
  UNMAPPED,
  type RunState,
  type SerializedDag,
  type TaskInstance,
  type TaskState,
} from '@aloft/core';
import { InvalidConfError, UnknownTaskError } from './errors.js';
import { Testbed, type PodTarget, type TestbedOptions } from './testbed.js';

/** One task instance as the test run left it. */
export interface TestTaskResult {
  taskId: string;
  /** −1 for an unmapped task, else the instance of a mapped one. */
  mapIndex: number;
  state: TaskState;
  /** The last try. */
  try: number;
  reason?: string | undefined;
  /** What a successful task returned. */
  output?: unknown;
  /** Every try's log lines, in order. */
  log: string[];
}

export interface TestDagResult {
  state: RunState;
  runId: string;
  dagId: string;
  /** Where pod tasks ran: `stand-in` is the local Kubernetes API emulator of the quick start. */
  pods: PodTarget;
  tasks: TestTaskResult[];
}

export interface TestDagOptions extends TestbedOptions {
  /** The DAG to run when the file declares several. */
  dagId?: string;
  /** The run's logical date (default: now). A scheduled DAG's run gets the data interval starting then. */
  date?: Date | string;
  /** The run's conf, checked against the DAG's params as a trigger checks it. */
  conf?: Record<string, unknown>;
  /** How long the run may take before the test gives up (default 120 s). */
  timeoutMs?: number;
  /** Called as each task instance ends for good, with how many have ended of how many known. */
  onTaskEnd?: (task: TestTaskResult, progress: { done: number; total: number }) => void;
}

export interface TestTaskOptions extends TestDagOptions {
  /** Outputs of the task's upstream tasks, by task id (default none). */
  upstream?: Record<string, unknown>;
}

/** A DAG value from `dag()` (it knows its file), or the path of a DAG file. */
export type DagOrFile = string | { readonly id: string; readonly file: string | undefined };

const FINAL: ReadonlySet<TaskState> = new Set(['success', 'failed', 'skipped', 'upstream_failed']);

/**
 * Runs one whole run of a DAG for a logical date, in this process, with the real engine: a
 * throw-away redis-server, the DAG file parsed and stored as the scheduler does, the run
 * created as a trigger creates it, and a worker on the DAG's queues running every task
 * (function tasks from their file, commands as processes, pods on the configured cluster
 * or the quick start's local stand-in). Resolves when the run ends, with every task's
 * state, output and log; stops everything it started, whatever happens.
 *
 *   const r = await testDag('dags/etl.ts', { date: '2026-01-01', conf: { currency: 'USD' } });
 *   expect(r.state).toBe('success');
 */
export async function testDag(dagOrFile: DagOrFile, o: TestDagOptions = {}): Promise<TestDagResult> {
  const { file, dagId } = target(dagOrFile, o.dagId);
  const bed = await Testbed.start(dirname(file), o);
  try {
    return await runDag(bed, await bed.loadFile(file, dagId), o);
  } finally {
    await bed.stop();
  }
}

/**
 * Runs one task of a DAG alone (Airflow's `tasks test`): its upstream tasks count as
 * succeeded with the outputs given, every other task as skipped, and the task itself runs
 * as in a whole run. The result's `tasks` holds that task's instances only.
 */
export async function testTask(dagOrFile: DagOrFile, taskId: string, o: TestTaskOptions = {}): Promise<TestDagResult> {
  const { file, dagId } = target(dagOrFile, o.dagId);
  const bed = await Testbed.start(dirname(file), o);
  try {
    return await runDag(bed, await bed.loadFile(file, dagId), o, { taskId, upstream: o.upstream ?? {} });
  } finally {
    await bed.stop();
  }
}

function target(dagOrFile: DagOrFile, dagId: string | undefined): { file: string; dagId: string | undefined } {
  if (typeof dagOrFile === 'string') return { file: resolve(dagOrFile), dagId };
  if (!dagOrFile.file) throw new Error(`DAG "${dagOrFile.id}" does not know its file: pass the path of its DAG file instead`);
  return { file: dagOrFile.file, dagId: dagId ?? dagOrFile.id };
}

/** The run's logical date and data interval: a scheduled DAG's interval starting at `date`, else `date` alone. */
export function interval(dag: SerializedDag, date: Date): { start: Date; end: Date } {
  if (dag.schedule && dag.schedule.kind !== 'datasets') {
    const from = dag.startDate ? new Date(dag.startDate) : date;
    const first = intervalsBetween(dag.schedule, dag.timezone, from, date, date, 1)[0];
    if (first && first.start.getTime() === date.getTime()) return first;
  }
  return { start: date, end: date };
}

export function dateOf(v: Date | string | undefined): Date {
  const d = v === undefined ? new Date() : new Date(v);
  if (Number.isNaN(d.getTime())) throw new Error(`date must be a date such as 2026-01-01 or 2026-01-01T06:00:00Z (got ${JSON.stringify(v)})`);
  return d;
}

/**
 * Creates the run and drives it to its end on `bed`. With `only`, the run's other tasks are
 * marked first (its ancestors success, with the given outputs; the rest skipped), before the
 * worker starts, so only that task runs.
 */
export async function runDag(
  bed: Testbed,
  dag: SerializedDag,
  o: TestDagOptions,
  only?: { taskId: string; upstream: Record<string, unknown> },
): Promise<TestDagResult> {
  const conf = o.conf ?? {};
  const problems = checkConf(dag.params, conf);
  if (problems.length) throw new InvalidConfError(dag.id, problems);
  const date = dateOf(o.date);
  const { start, end } = interval(dag, date);
  const runId = manualRunId(start, 'test');
  if (only) {
    const ids = dag.tasks.map((t) => t.id);
    if (!ids.includes(only.taskId)) throw new UnknownTaskError(dag.id, only.taskId, ids);
    const stray = Object.keys(only.upstream).find((t) => !ids.includes(t));
    if (stray !== undefined) throw new UnknownTaskError(dag.id, stray, ids);
  }
  await bed.store.createRun({ dagId: dag.id, runId, runType: 'manual', logicalDate: start, dataIntervalStart: start, dataIntervalEnd: end, conf });
  if (only) await isolate(bed, dag, runId, only);
  await bed.startWorker(dag);

  const reported = new Map<string, TestTaskResult>();
  const deadline = Date.now() + (o.timeoutMs ?? 120_000);
  let step = 0;
  for (;;) {
    await bed.schedulerStep(step++ % 10 === 0);
    const run = await bed.store.getRun(dag.id, runId);
    const tis = instances(await bed.store.listTis(dag.id, runId), only?.taskId);
    for (const ti of tis) {
      const k = `${ti.taskId}:${ti.mapIndex}`;
      if (!FINAL.has(ti.state) || reported.has(k)) continue;
      const r = await result(bed, dag.id, runId, ti);
      reported.set(k, r);
      o.onTaskEnd?.(r, { done: reported.size, total: Math.max(tis.length, only ? 1 : expected(dag, tis)) });
    }
    if (run && (run.state === 'success' || run.state === 'failed') && tis.every((t) => FINAL.has(t.state))) {
      return { state: run.state, runId, dagId: dag.id, pods: bed.pods, tasks: [...reported.values()] };
    }
    if (Date.now() > deadline) {
      const open = tis.filter((t) => !FINAL.has(t.state)).map((t) => `${name(t)} (${t.state}${t.detail ? `: ${t.detail}` : ''})`);
      throw new Error(
        `DAG "${dag.id}": the run did not end within ${o.timeoutMs ?? 120_000} ms (timeoutMs); not finished: ${open.join(', ') || 'the run itself'}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Marks every task but `only.taskId`: its ancestors succeeded (with the given outputs), the others skipped. */
async function isolate(bed: Testbed, dag: SerializedDag, runId: string, only: { taskId: string; upstream: Record<string, unknown> }): Promise<void> {
  const byId = new Map(dag.tasks.map((t) => [t.id, t]));
  const ancestors = new Set<string>();
  const walk = (id: string) => {
    for (const u of byId.get(id)?.upstream ?? []) if (!ancestors.has(u)) walk((ancestors.add(u), u));
  };
  walk(only.taskId);
  await bed.store.setOutputs(dag.id, runId, only.upstream);
  for (const id of topologicalOrder(dag)) {
    if (id !== only.taskId) await bed.store.markTi(dag.id, runId, id, ancestors.has(id) ? 'success' : 'skipped');
  }
}

/** Instances that run (a mapped task's, not its summary row), of one task when `taskId` is given. */
function instances(tis: TaskInstance[], taskId: string | undefined): TaskInstance[] {
  return tis.filter((t) => !(t.mapped && t.mapped.n > 0) && (taskId === undefined || t.taskId === taskId));
}

/** How many instances the run will have as far as known now: one per task until a mapped one expands. */
function expected(dag: SerializedDag, tis: TaskInstance[]): number {
  const seen = new Set(tis.map((t) => t.taskId));
  return tis.length + dag.tasks.filter((t) => !seen.has(t.id)).length;
}

const name = (t: { taskId: string; mapIndex: number }) => (t.mapIndex === UNMAPPED ? t.taskId : `${t.taskId}[${t.mapIndex}]`);

async function result(bed: Testbed, dagId: string, runId: string, ti: TaskInstance): Promise<TestTaskResult> {
  const key = { dagId, runId, taskId: ti.taskId, mapIndex: ti.mapIndex };
  const log: string[] = [];
  for (let t = 1; t <= ti.try; t++) for (const l of await bed.store.getLog(key, t, 0, 100_000)) log.push(l.line);
  const output = ti.state === 'success' ? await bed.store.getOutput(key) : null;
  return {
    taskId: ti.taskId,
    mapIndex: ti.mapIndex,
    state: ti.state,
    try: ti.try,
    ...(ti.reason ? { reason: ti.reason } : {}),
    ...(output !== null ? { output } : {}),
    log,
  };
}
