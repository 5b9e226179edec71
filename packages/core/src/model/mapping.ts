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

const SUMMARY_ORDER: readonly TaskState[] = ['running', 'queued', 'up_for_retry', 'up_for_reschedule', 'scheduled', 'none', 'failed', 'upstream_failed', 'success', 'skipped'];

/**
 * One state for a mapped task as a whole, from its instances' states: the most active
 * one while any is unfinished, then failed before success, as Airflow's grid shows it.
 */
export function summarizeMapped(states: Iterable<TaskState>): TaskState {
  const seen = new Set(states);
  return SUMMARY_ORDER.find((s) => seen.has(s)) ?? 'skipped';
}
