/** Ids of DAGs and tasks: letters, digits, `_`, `-`, `.` (`.` joins task group ids). */
export const ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,249}$/;

/** Pool names (task `pool` option, `aloft pools set`). */
export const POOL_NAME = /^[A-Za-z0-9_.-]{1,100}$/;
/** The pool of tasks that name none: unlimited until it is configured. */
export const DEFAULT_POOL = 'default_pool';

/** Map index of a task instance that is not mapped (dynamic task mapping). */
export const UNMAPPED = -1;

export interface TaskInstanceKey {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
}

/** Field naming one task instance inside its run's state hash: `task:mapIndex`. */
export function tiField(taskId: string, mapIndex: number = UNMAPPED): string {
  return `${taskId}:${mapIndex}`;
}

export function parseTiField(field: string): { taskId: string; mapIndex: number } {
  const at = field.lastIndexOf(':');
  return { taskId: field.slice(0, at), mapIndex: Number(field.slice(at + 1)) };
}

/** Run id of a scheduled run: deterministic for its logical date, as in Airflow. */
export function scheduledRunId(logicalDate: Date): string {
  return `scheduled__${logicalDate.toISOString()}`;
}

export function manualRunId(at: Date, suffix: string): string {
  return `manual__${at.toISOString()}__${suffix}`;
}

/**
 * Run id of a run started by a triggerDagRun task: deterministic per (task instance, try), so
 * a try taken over by another worker finds the run it already started.
 */
export function triggeredRunId(key: TaskInstanceKey, tryNumber: number): string {
  return `triggered__${key.dagId}.${key.taskId}__${key.runId}__try${tryNumber}`;
}

/**
 * BullMQ job id of one try of one task instance. BullMQ forbids `:` in custom ids, so
 * `%` and `:` are escaped; the id stays readable in bull-board.
 */
export function jobIdFor(key: TaskInstanceKey, tryNumber: number): string {
  const esc = (s: string) => s.replaceAll('%', '%25').replaceAll(':', '%3A');
  return [key.dagId, esc(key.runId), key.taskId, String(key.mapIndex), String(tryNumber)].join('|');
}
