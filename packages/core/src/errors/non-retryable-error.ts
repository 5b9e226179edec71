import { TaskFailedError } from './task-failed-error.js';

/** Fails the task at once, whatever retries remain (e.g. output over the size limit). */
export class NonRetryableError extends TaskFailedError {
  /** The mark `isNonRetryable` reads; any error of the DAG author's may carry it too. */
  readonly nonRetryable = true;
}

/**
 * Whether a thrown value fails its task without a retry: a NonRetryableError, or any error
 * marked `nonRetryable: true`. Read by name and mark, not by class identity alone, because a
 * DAG file may load its own copy of @aloft/core (tests/engine.test.ts, "NonRetryableError").
 */
export function isNonRetryable(err: unknown): boolean {
  if (err instanceof NonRetryableError) return true;
  if (typeof err !== 'object' || err === null) return false;
  return (err as { nonRetryable?: unknown }).nonRetryable === true || (err as { name?: unknown }).name === 'NonRetryableError';
}
