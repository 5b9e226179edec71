import type { SerializedDag } from '../model/dag.js';

/** One task as the Lua scripts read it: short keys keep the graph hash small. */
export interface GraphNode {
  u: string[];
  d: string[];
  r: string;
  q: string;
  p: number;
  k: string;
  n: number;
  dl: number;
  eb: boolean;
  md: number;
  dop: boolean;
  /** Pool and slots taken, when the task names a pool. */
  pl?: string;
  ps?: number;
  /** Mapped: each argument's list length (literal) or source task, and the cap. */
  m?: { s: ({ a: string; n: number } | { a: string; t: string })[]; x: number; g?: string };
  /** Datasets the task updates on success (only present when it has outlets). */
  o?: string[];
  /** Has task callbacks: an `empty` task then goes to a worker, which runs them (as in Airflow). */
  cb?: true;
  /** maxActiveTisPerDag and maxActiveTisPerDagrun, when set (claim-try.lua counts the DAG's running instances). */
  mt?: number;
  mr?: number;
  /** waitForDownstream (trigger-rules.lua's pastAllows also checks the previous run's direct downstream). */
  wfd?: true;
  /** A setup task: a teardown downstream runs when one of its setups succeeded (all_done_setup_success). */
  st?: true;
}

/** The most priority a job can have (BullMQ's priorities, lowest first, from 1: jobs.lua maps 1000001 − p). */
const MAX_PRIORITY = 1_000_000;

/**
 * Each task's priority weighed by its weight rule (Airflow's priority_weight_total): its own,
 * plus that of every task downstream (the default) or upstream of it, each relative counted
 * once (a diamond's shared task too, as in Airflow), at most MAX_PRIORITY. The relatives are
 * bit sets built in topological order, one union per edge: a 10,000-task DAG takes 12.5 MB
 * for a moment. Past WEIGHED_TASKS_MAX tasks every task keeps its own priority.
 */
export function weighedPriorities(dag: Pick<SerializedDag, 'tasks'>): Map<string, number> {
  const tasks = dag.tasks;
  const out = new Map(tasks.map((t) => [t.id, t.priority]));
  const rules = new Set(tasks.map((t) => t.weightRule ?? 'downstream'));
  if (tasks.length > WEIGHED_TASKS_MAX || (rules.size === 1 && rules.has('absolute'))) return out;
  const index = new Map(tasks.map((t, i) => [t.id, i]));
  const order = topologicalOrder(dag).map((id) => index.get(id)!);
  const words = Math.ceil(tasks.length / 32);
  for (const dir of ['downstream', 'upstream'] as const) {
    if (!rules.has(dir)) continue;
    // Relatives of a task: its direct ones and theirs, built from the far end of the graph.
    const sets = new Map<number, Uint32Array>();
    const walk = dir === 'downstream' ? [...order].reverse() : order;
    for (const i of walk) {
      const set = new Uint32Array(words);
      for (const id of tasks[i]![dir]) {
        const r = index.get(id);
        if (r === undefined) continue;
        set[r >>> 5]! |= 1 << (r & 31);
        const theirs = sets.get(r)!;
        for (let w = 0; w < words; w++) set[w]! |= theirs[w]!;
      }
      sets.set(i, set);
    }
    tasks.forEach((t, i) => {
      if ((t.weightRule ?? 'downstream') !== dir) return;
      const set = sets.get(i)!;
      let total = t.priority;
      for (let r = 0; r < tasks.length && total < MAX_PRIORITY; r++) if (set[r >>> 5]! & (1 << (r & 31))) total += tasks[r]!.priority;
      out.set(t.id, Math.min(MAX_PRIORITY, total));
    });
  }
  return out;
}

/** Above this many tasks, weight rules are not applied (the bit sets would take V²/8 bytes). */
const WEIGHED_TASKS_MAX = 20_000;

/**
 * Per-DAG limits, read on every task start: kept apart from the task lists (`__topo`,
 * `__leaves`) so that reading them stays O(1) on a DAG with thousands of tasks.
 */
export interface GraphMeta {
  mat: number;
  mar: number;
  /** The DAG's run callbacks (references) and the queue their jobs go to, when it has any. */
  cbs?: string | undefined;
  cbf?: string | undefined;
  cbq?: string | undefined;
}

/** Task ids in topological order (Kahn), stable by declaration order. */
export function topologicalOrder(dag: Pick<SerializedDag, 'tasks'>): string[] {
  const indegree = new Map(dag.tasks.map((t) => [t.id, t.upstream.length]));
  const byId = new Map(dag.tasks.map((t) => [t.id, t]));
  const ready = dag.tasks.filter((t) => t.upstream.length === 0).map((t) => t.id);
  const out: string[] = [];
  while (ready.length > 0) {
    const id = ready.shift()!;
    out.push(id);
    for (const d of byId.get(id)?.downstream ?? []) {
      const left = indegree.get(d)! - 1;
      indegree.set(d, left);
      if (left === 0) ready.push(d);
    }
  }
  return out;
}

/**
 * The tasks whose states decide a finished run's (finalize.lua's finishRun), as Airflow picks
 * them: the leaves, where a teardown counts only with `failRun`, and a task whose downstream
 * are all such ignorable teardowns is a leaf. A DAG of nothing but teardowns: its leaves.
 */
export function stateLeaves(dag: Pick<SerializedDag, 'tasks'>): string[] {
  const byId = new Map(dag.tasks.map((t) => [t.id, t]));
  const ignorable = (id: string) => {
    const t = byId.get(id);
    return t?.teardown !== undefined && !t.teardown.failRun;
  };
  const leaves = dag.tasks.filter((t) => !ignorable(t.id) && t.downstream.every(ignorable)).map((t) => t.id);
  return leaves.length ? leaves : dag.tasks.filter((t) => t.downstream.length === 0).map((t) => t.id);
}

/**
 * The hash `graph:{dag}:{version}`: one field per task, plus `__meta` (limits), `__topo`
 * (task ids in topological order), `__leaves` and `__dag` (the serialized DAG).
 */
export function buildGraphHash(dag: SerializedDag): Record<string, string> {
  const hash: Record<string, string> = {};
  const groups: Record<string, string[]> = {};
  const priorities = weighedPriorities(dag);
  for (const t of dag.tasks) {
    const n: GraphNode = {
      u: t.upstream,
      d: t.downstream,
      r: t.triggerRule,
      q: t.queue,
      p: priorities.get(t.id) ?? t.priority,
      // An empty task with outlets goes to a worker like any task (which succeeds at once), so
      // its finish records the dataset updates; without, the Lua marks it done in place.
      k: t.kind === 'empty' && t.outlets ? 'emptyWithOutlets' : t.kind,
      n: t.retries,
      dl: t.retryDelayMs,
      eb: t.retryExponentialBackoff,
      md: t.maxRetryDelayMs,
      dop: t.dependsOnPast,
    };
    if (t.pool) n.pl = t.pool;
    if (t.poolSlots !== 1) n.ps = t.poolSlots;
    if (t.map) {
      n.m = { s: t.map.over.map((o) => ('values' in o ? { a: o.arg, n: o.values.length } : { a: o.arg, t: o.upstream })), x: t.map.maxLength };
      if (t.map.group) {
        n.m.g = t.map.group;
        (groups[t.map.group] ??= []).push(t.id);
      }
    }
    if (t.outlets) n.o = t.outlets;
    if (t.waitForDownstream) n.wfd = true;
    if (t.setup) n.st = true;
    if (t.maxActiveTisPerDag) n.mt = t.maxActiveTisPerDag;
    if (t.maxActiveTisPerDagrun) n.mr = t.maxActiveTisPerDagrun;
    if (t.callbacks?.onExecute || t.callbacks?.onSuccess) n.cb = true;
    hash[t.id] = JSON.stringify(n);
  }
  const meta: GraphMeta = { mat: dag.maxActiveTasks, mar: dag.maxActiveRuns };
  if (dag.callbacks?.onSuccess || dag.callbacks?.onFailure) {
    meta.cbs = dag.callbacks.onSuccess;
    meta.cbf = dag.callbacks.onFailure;
    meta.cbq = dag.callbackQueue ?? 'default';
  }
  // Members of each mapped task group, so that one expanding expands the others.
  for (const [g, members] of Object.entries(groups)) hash[`__mg:${g}`] = JSON.stringify(members);
  hash['__meta'] = JSON.stringify(meta);
  hash['__topo'] = JSON.stringify(topologicalOrder(dag));
  hash['__leaves'] = JSON.stringify(stateLeaves(dag));
  hash['__dag'] = JSON.stringify(dag);
  return hash;
}
