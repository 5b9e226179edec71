/**
 * Callbacks are functions in the DAG file, so what is stored and queued is a reference:
 * `task:<taskId>:<slot>` or `dag:<slot>`. A worker's function runner imports the DAG file and
 * resolves the reference to the function, as it does for `fn` tasks.
 */

/** Task-level slots, as in Airflow's on_*_callback (plus the SLA miss of that task). */
export const TASK_CALLBACK_SLOTS = ['onExecute', 'onSuccess', 'onFailure', 'onRetry', 'onSlaMiss'] as const;
export type TaskCallbackSlot = (typeof TASK_CALLBACK_SLOTS)[number];

/** DAG-level slots: the run finished (success or failure), or missed its deadline or a task's SLA. */
export const DAG_CALLBACK_SLOTS = ['onSuccess', 'onFailure', 'onSlaMiss'] as const;
export type DagCallbackSlot = (typeof DAG_CALLBACK_SLOTS)[number];

export type CallbackSlot = TaskCallbackSlot | DagCallbackSlot;

export type CallbackRef = `task:${string}:${TaskCallbackSlot}` | `dag:${DagCallbackSlot}`;

export function taskCallbackRef(taskId: string, slot: TaskCallbackSlot): CallbackRef {
  return `task:${taskId}:${slot}`;
}

export function dagCallbackRef(slot: DagCallbackSlot): CallbackRef {
  return `dag:${slot}`;
}

export type ParsedCallbackRef = { scope: 'task'; taskId: string; slot: TaskCallbackSlot } | { scope: 'dag'; slot: DagCallbackSlot };

/** Undefined when `ref` is not a callback reference. Task ids hold no `:`, so the last one splits. */
export function parseCallbackRef(ref: string): ParsedCallbackRef | undefined {
  if (ref.startsWith('dag:')) {
    const slot = ref.slice(4);
    return (DAG_CALLBACK_SLOTS as readonly string[]).includes(slot) ? { scope: 'dag', slot: slot as DagCallbackSlot } : undefined;
  }
  if (!ref.startsWith('task:')) return undefined;
  const at = ref.lastIndexOf(':');
  const taskId = ref.slice(5, at);
  const slot = ref.slice(at + 1);
  if (at <= 5 || !(TASK_CALLBACK_SLOTS as readonly string[]).includes(slot)) return undefined;
  return { scope: 'task', taskId, slot: slot as TaskCallbackSlot };
}

/** What an SLA miss is about: a task not finished by its `sla`, or a run past its `deadline`. */
export interface SlaMiss {
  kind: 'task' | 'run';
  /** When it was due (ms): the run's data interval end plus the `sla` / `deadline`. */
  dueAt: number;
  /** The task instance's state when the miss was found (task misses), or the run's. */
  state: string;
}
