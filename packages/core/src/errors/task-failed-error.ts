import { AloftError } from './aloft-error.js';

/** Why a task try failed, in words, plus the exit code when a process ran. */
export class TaskFailedError extends AloftError {
  readonly reason: string;
  readonly exitCode: number | null;
  constructor(reason: string, exitCode: number | null = null, options?: { cause?: unknown }) {
    super('TASK_FAILED', reason, options);
    this.reason = reason;
    this.exitCode = exitCode;
  }
}
