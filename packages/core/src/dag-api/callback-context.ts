import type { CallbackSlot, SlaMiss } from '../model/callbacks.js';
import type { RunContext } from './context.js';

/**
 * What a callback receives: the run (and, for task callbacks, the task instance) it is about,
 * which slot fired, and why. Like a `fn` task's context, without outputs or skip(); its log
 * lines go to the task's log (task callbacks) and the worker's log.
 */
export interface CallbackContext<P = Record<string, unknown>> extends RunContext<P> {
  /** `task` for callbacks declared on a task (or in defaultArgs), `dag` for the DAG's own. */
  scope: 'task' | 'dag';
  /** Which slot fired: onExecute, onSuccess, onFailure, onRetry or onSlaMiss. */
  callback: CallbackSlot;
  /** Null for run callbacks and the run deadline's onSlaMiss. */
  taskId: string | null;
  /** The try the callback is about; null for run callbacks. */
  tryNumber: number | null;
  /** The task instance's (task scope) or the run's (dag scope) state, e.g. `failed`. */
  state: string;
  /** Why it failed (onFailure, onRetry), when known. */
  reason: string | undefined;
  /** Set for onSlaMiss. */
  sla: SlaMiss | undefined;
  /** Aborted when the callback runs out of time (ALOFT_CALLBACK_TIMEOUT_MS). */
  signal: AbortSignal;
}

/**
 * A callback: runs isolated like a `fn` task; what it returns is ignored, and when it throws
 * or times out that is logged and changes no state.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Callback = (ctx: CallbackContext<any>) => unknown;
