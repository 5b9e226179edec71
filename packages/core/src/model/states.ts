/** Task instance states, as in Airflow. `none` means created but not yet ready. */
export const TASK_STATES = [
  'none',
  'scheduled',
  'queued',
  'running',
  'success',
  'failed',
  'up_for_retry',
  /** A sensor in reschedule mode between two pokes: it holds no worker, task or pool slot. */
  'up_for_reschedule',
  'upstream_failed',
  'skipped',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const RUN_STATES = ['queued', 'running', 'success', 'failed'] as const;
export type RunState = (typeof RUN_STATES)[number];

/** States after which a task instance never changes again unless cleared. */
export const FINISHED_TASK_STATES: ReadonlySet<TaskState> = new Set(['success', 'failed', 'upstream_failed', 'skipped']);

export const FINISHED_RUN_STATES: ReadonlySet<RunState> = new Set(['success', 'failed']);

export function isTaskState(value: string): value is TaskState {
  return (TASK_STATES as readonly string[]).includes(value);
}

export function isRunState(value: string): value is RunState {
  return (RUN_STATES as readonly string[]).includes(value);
}

export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
