import type { MappedArg, SerializedTask } from './dag.js';
import type { TaskState } from './states.js';

/** Where a mapped instance's elements come from: the worker reads upstream lists from Redis. */
export interface MapSource {
  /** Length of a mapped argument's list; asked only when a task maps over several. */
  length(arg: MappedArg): Promise<number>;
  /** Element `i` of a mapped argument's list. */
  element(arg: MappedArg, i: number): Promise<unknown>;
}

/**
 * The arguments of one task instance: the fixed `args`, plus for a mapped instance its
 * element of each mapped argument. Several mapped arguments form a cross product in which
 * the last varies fastest (`{ a: [1, 2], b: ['x', 'y'] }` → 1x, 1y, 2x, 2y), as in Airflow.
 */
export async function instanceArgs(task: Pick<SerializedTask, 'args' | 'map'>, mapIndex: number, source: MapSource): Promise<Record<string, unknown>> {
  const args: Record<string, unknown> = { ...task.args };
  const over = task.map?.over ?? [];
  if (over.length === 0 || mapIndex < 0) return args;
  const lengths = over.length === 1 ? [Number.POSITIVE_INFINITY] : await Promise.all(over.map((a) => source.length(a)));
  let rest = mapIndex;
  for (let k = over.length - 1; k >= 0; k--) {
    const len = lengths[k]!;
    const i = rest % len;
    rest = Math.floor(rest / len);
    args[over[k]!.arg] = await source.element(over[k]!, i);
  }
  return args;
}

/** Task states from the most active to the least: how a mapped task's instances are summed up. */
export const MAPPED_SUMMARY_ORDER: readonly TaskState[] = [
  'running',
  'queued',
  'up_for_retry',
  'up_for_reschedule',
  'scheduled',
  'none',
  'failed',
  'upstream_failed',
  'success',
  'skipped',
];

/**
 * One state for a mapped task as a whole, from its instances' states: the most active
 * one while any is unfinished, then failed before success, as Airflow's grid shows it.
 */
export function summarizeMapped(states: Iterable<TaskState>): TaskState {
  const seen = new Set(states);
  return MAPPED_SUMMARY_ORDER.find((s) => seen.has(s)) ?? 'skipped';
}

/** A mapped task as a whole: how many instances it expanded to, and how many are in each state. */
export interface MappedSummary {
  n: number;
  states: Partial<Record<TaskState, number>>;
}

/** How many of these instance states are in each state. */
export function tally(states: Iterable<TaskState>): Partial<Record<TaskState, number>> {
  const counts: Partial<Record<TaskState, number>> = {};
  for (const s of states) counts[s] = (counts[s] ?? 0) + 1;
  return counts;
}

/**
 * One state per task from a run's state hash (fields `task:mapIndex`): an unmapped task's
 * own, an expanded mapped task's instances summed up (summarizeMapped) with their counts.
 * What the grid shows, without reading any task instance's hash.
 */
export function taskStatesOfRun(fields: Record<string, string>): { tis: Record<string, TaskState>; mapped: Record<string, MappedSummary> } {
  const tis: Record<string, TaskState> = {};
  const mapped: Record<string, MappedSummary> = {};
  for (const [field, state] of Object.entries(fields)) {
    const at = field.lastIndexOf(':');
    const task = field.slice(0, at);
    if (field.charCodeAt(at + 1) === 45 /* '-': map index −1 */) {
      if (!mapped[task]) tis[task] = state as TaskState;
      continue;
    }
    const m = (mapped[task] ??= { n: 0, states: {} });
    m.n++;
    m.states[state as TaskState] = (m.states[state as TaskState] ?? 0) + 1;
  }
  for (const [task, m] of Object.entries(mapped)) tis[task] = summarizeMapped(Object.keys(m.states) as TaskState[]);
  return { tis, mapped };
}
