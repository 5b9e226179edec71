import { TaskFailedError } from './task-failed-error.js';

/** Fails the task at once, whatever retries remain (e.g. output over the size limit). */
export class NonRetryableError extends TaskFailedError {}
