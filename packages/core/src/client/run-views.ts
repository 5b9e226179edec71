import type { SerializedDag, TaskKind } from '../model/dag.js';
import { taskStatesOfRun, type MappedSummary } from '../model/mapping.js';
import { TASK_STATES, type RunState, type TaskState } from '../model/states.js';
import type { DagHead, DagRecord, DagRun, RunType, Store } from '../store/store.js';

/**
 * The reads behind the dashboard's overview pages, which gather many runs' state in one round
 * trip each rather than one call per run. AloftClient's methods of the same names call them.
 */

/** A DAG as the DAG list shows it: its definition without the tasks, and its latest runs. */
export interface DagOverview {
  head: DagHead;
  /** The definition with `tasks` emptied (the list never shows them). */
  dag: SerializedDag;
  owners: string[];
  /** How many tasks the DAG has. */
  tasks: number;
  /** The latest runs, newest first. */
  recentRuns: { runId: string; state: RunState | 'unknown'; logicalDate: number }[];
}

/** Runs × tasks: one state per task of a page of runs, newest first. The SDK's `Grid` (tests/sdk-types.test.ts). */
export interface RunGrid {
  /** The DAG's tasks (`mapped` when they expand at run time), then task ids only older versions (or ad-hoc jobs) had, as kind `unknown`. */
  tasks: { id: string; kind: TaskKind | 'unknown'; upstream: string[]; triggerRule: string; mapped?: boolean | undefined }[];
  /** All runs of the DAG, for paging. */
  total: number;
  runs: {
    runId: string;
    state: RunState;
    runType: RunType;
    logicalDate: number;
    startDate?: number | undefined;
    endDate?: number | undefined;
    /** Each task's state; an expanded mapped task's summed up over its instances. */
    tis: Record<string, TaskState>;
    /** Expanded mapped tasks of the run, by task id; absent when there are none. */
    mapped?: Record<string, MappedSummary> | undefined;
  }[];
}

type Summary = { version: string; dag: SerializedDag; owners: string[]; tasks: number };

/**
 * The DAG list with each DAG's latest runs. What it shows of a DAG's definition is kept by
 * id and version: parsing every DAG's JSON per request costs most with the biggest DAGs,
 * and a version never changes.
 */
export class DagOverviews {
  readonly #summaries = new Map<string, Summary>();

  constructor(private readonly store: Store) {}

  async #summaryOf(head: DagHead): Promise<Summary | undefined> {
    const hit = this.#summaries.get(head.dagId);
    if (hit?.version === head.version) return hit;
    const rec = await this.store.getDag(head.dagId);
    if (!rec) return undefined;
    const { tasks, ...dag } = rec.dag;
    const s = { version: rec.dag.version, dag: { ...dag, tasks: [] }, owners: [...new Set(tasks.map((t) => t.owner))], tasks: tasks.length };
    this.#summaries.set(head.dagId, s);
    return s;
  }

  async list(filter: { tag?: string | undefined; paused?: boolean | undefined }, recent: number): Promise<DagOverview[]> {
    const { store } = this;
    const heads = (await store.listDagHeads()).filter((d) => filter.paused === undefined || d.paused === filter.paused);
    const found = await Promise.all(heads.map(async (head) => ({ head, s: await this.#summaryOf(head) })));
    const recs = found.filter((f): f is { head: DagHead; s: Summary } => !!f.s && (!filter.tag || f.s.dag.tags.includes(filter.tag)));
    // The latest runs of every DAG in one round trip: run ids, then their states.
    const ids = await Promise.all(recs.map((d) => store.redis.zrevrange(store.keys.runs(d.head.dagId), 0, recent - 1)));
    const pipe = store.redis.pipeline();
    recs.forEach((d, i) => ids[i]!.forEach((id) => pipe.hmget(store.keys.run(d.head.dagId, id), 'state', 'logicalDate')));
    const fields = ((await pipe.exec()) ?? []).map(([, v]) => v as (string | null)[]);
    let at = 0;
    return recs.map(({ head, s }, i) => ({
      head,
      dag: s.dag,
      owners: s.owners,
      tasks: s.tasks,
      recentRuns: ids[i]!.map((runId) => {
        const [state, logicalDate] = fields[at++] ?? [];
        return { runId, state: (state ?? 'unknown') as RunState | 'unknown', logicalDate: Number(logicalDate ?? 0) };
      }),
    }));
  }
}

/** The grid of a page of `rec`'s runs: every run's task states in one round trip. */
export async function runGrid(store: Store, rec: DagRecord, page: { limit: number; offset: number }): Promise<RunGrid> {
  const [runs, total] = await Promise.all([store.listRuns(rec.dag.id, page), store.countRuns(rec.dag.id)]);
  const pipe = store.redis.pipeline();
  for (const run of runs) pipe.hgetall(store.keys.tiStates(rec.dag.id, run.runId));
  const states = ((await pipe.exec()) ?? []).map(([, v]) => v as Record<string, string>);
  // Task ids the current version no longer has (or ad-hoc jobs' own) still get a row.
  const known = new Set(rec.dag.tasks.map((t) => t.id));
  const extra = new Set<string>();
  for (const h of states) {
    for (const field of Object.keys(h ?? {})) {
      const id = field.slice(0, field.lastIndexOf(':'));
      if (!known.has(id)) extra.add(id);
    }
  }
  return {
    tasks: [
      ...rec.dag.tasks.map((t) => ({ id: t.id, kind: t.kind, upstream: t.upstream, triggerRule: t.triggerRule, ...(t.map ? { mapped: true } : {}) })),
      ...[...extra].sort().map((id) => ({ id, kind: 'unknown' as const, upstream: [], triggerRule: 'all_success' })),
    ],
    total,
    runs: runs.map((run, i) => {
      // A mapped task gets one summarized state per run, and its instances' counts.
      const { tis, mapped } = taskStatesOfRun(states[i] ?? {});
      const base = {
        runId: run.runId,
        state: run.state,
        runType: run.runType,
        logicalDate: run.logicalDate,
        startDate: run.startDate,
        endDate: run.endDate,
        tis,
      };
      return Object.keys(mapped).length ? { ...base, mapped } : base;
    }),
  };
}

/**
 * A page of a DAG's runs, newest first, that match the filter, and how many runs the DAG
 * has. Filtered: the runs are walked newest first in chunks, skipping `offset` matches.
 */
export async function findRuns(
  store: Store,
  dagId: string,
  q: { limit: number; offset: number; state?: RunState | undefined; runType?: RunType | undefined },
): Promise<{ runs: DagRun[]; total: number }> {
  const total = await store.countRuns(dagId);
  if (!q.state && !q.runType) return { runs: await store.listRuns(dagId, q), total };
  const runs: DagRun[] = [];
  let skipped = 0;
  for (let at = 0; at < total && runs.length < q.limit; at += 500) {
    for (const run of await store.listRuns(dagId, { offset: at, limit: 500 })) {
      if ((q.state && run.state !== q.state) || (q.runType && run.runType !== q.runType)) continue;
      if (skipped++ < q.offset) continue;
      runs.push(run);
      if (runs.length === q.limit) break;
    }
  }
  return { runs, total };
}

/** Run ids of a DAG whose logical date is in [from, to]. */
export function runIdsBetween(store: Store, dagId: string, from: Date, to: Date): Promise<string[]> {
  return store.redis.zrangebyscore(store.keys.runs(dagId), from.getTime(), to.getTime());
}

/** The task ids of the instances of a DAG's runs whose logical date is in [from, to]. */
export async function taskIdsBetween(store: Store, dagId: string, from: Date, to: Date): Promise<string[]> {
  const runIds = await runIdsBetween(store, dagId, from, to);
  const pipe = store.redis.pipeline();
  for (const runId of runIds) pipe.hkeys(store.keys.tiStates(dagId, runId));
  const fields = ((await pipe.exec()) ?? []).flatMap(([, v]) => v as string[]);
  return [...new Set(fields.map((f) => f.slice(0, f.lastIndexOf(':'))))];
}

/** Task instances of the queued and running runs of every DAG, by state (every state, 0 when none). */
export async function activeTaskStates(store: Store): Promise<Map<TaskState, number>> {
  const counts = new Map<TaskState, number>(TASK_STATES.map((st) => [st, 0]));
  for (const dagId of await store.listDagIds()) {
    const runs = await store.redis.smembers(store.keys.activeRuns(dagId));
    if (runs.length === 0) continue;
    const pipe = store.redis.pipeline();
    for (const runId of runs) pipe.hvals(store.keys.tiStates(dagId, runId));
    for (const [, found] of (await pipe.exec()) ?? []) for (const st of found as TaskState[]) counts.set(st, (counts.get(st) ?? 0) + 1);
  }
  return counts;
}
