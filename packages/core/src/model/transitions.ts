import type { TaskState } from './states.js';

/**
 * The one table of allowed task instance transitions. The Lua scripts enforce the same
 * table (store/lua/*.lua); a test checks both agree.
 */
export const TASK_TRANSITIONS: Readonly<Record<TaskState, readonly TaskState[]>> = {
  none: ['scheduled', 'queued', 'skipped', 'upstream_failed'],
  scheduled: ['queued', 'skipped', 'upstream_failed', 'none'],
  queued: ['running', 'failed', 'none', 'skipped', 'success'],
  // running → running is a takeover of a stalled job by another worker, same try.
  running: ['running', 'success', 'failed', 'up_for_retry', 'up_for_reschedule', 'skipped', 'none', 'queued'],
  up_for_retry: ['queued', 'failed', 'none'],
  // A reschedule-mode sensor's next poke claims it again with the same try.
  up_for_reschedule: ['running', 'failed', 'skipped', 'success', 'none'],
  success: ['none'],
  failed: ['none', 'success'],
  upstream_failed: ['none', 'success', 'failed'],
  skipped: ['none', 'success', 'failed'],
};

export function canTransition(from: TaskState, to: TaskState): boolean {
  return TASK_TRANSITIONS[from].includes(to);
}
