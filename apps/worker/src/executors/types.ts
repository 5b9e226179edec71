import type { TaskLog } from '../task-log.js';
import type { TrySecrets } from '../try-secrets.js';

export interface ExecResult {
  /** `reschedule`: a reschedule-mode sensor that is not done pokes again at `nextPokeAt`. */
  outcome: 'success' | 'failed' | 'skipped' | 'reschedule';
  /** The task's output, already JSON-encoded, when it produced one. */
  outputJson?: string | undefined;
  reason?: string | undefined;
  exitCode?: number | undefined;
  follow?: string[] | undefined;
  skipDescendants?: boolean | undefined;
  /** A failure no retry can help (a sensor's timeout). */
  noRetry?: boolean | undefined;
  /**
   * The cluster ended the try's pod (evicted, preempted, node lost, deleted): the worker runs
   * the same try again in a new pod, up to ALOFT_POD_INFRA_REQUEUES times, without using a retry.
   */
  infra?: boolean | undefined;
  /** The name of the error a function task threw (`err.name`), for a retryPolicy's `errors`. */
  errorName?: string | undefined;
  nextPokeAt?: number | undefined;
  /** Pokes of the sensor so far, with `reschedule`. */
  pokes?: number | undefined;
}

/** A task an executor has started: its result, and how to stop it. */
export interface RunningTask {
  result: Promise<ExecResult>;
  /** Ends the task (timeout, cancel, shutdown); `result` then resolves as failed with `reason`. */
  cancel(reason: string): Promise<void>;
  /**
   * Stops watching a task that goes on without this worker (a pod), so that the next holder
   * of the try takes it over; `result` then resolves as failed with `reason`. Absent for
   * tasks that run inside the worker.
   */
  detach?(reason: string): Promise<void>;
  /** Process group id of a local process, recorded so a takeover on this host can end it. */
  pgid?: number | undefined;
}

/** The tag every process of a local task carries in its environment, and when the first started (task-processes.mjs). */
export interface ProcessTag {
  tag: string;
  since: number;
}

/**
 * Who ends a local task's processes if the worker dies (the worker's reaper, reaper.ts). It
 * hears of the tag before the first process exists, so a worker killed between the start
 * and `started` still has them ended (found by the tag).
 */
export interface TaskProcessWatch {
  starting(tag: string): void;
  started(pgid: number, tag: ProcessTag): void;
  /** The process could not start: nothing carries the tag. */
  notStarted(tag: string): void;
}

export interface ExecEnv {
  log: TaskLog;
  killGraceMs: number;
  /** The try's connections and variables (ctx.conn, ctx.variable, conn.* and var.* in templates). */
  secrets?: TrySecrets | undefined;
  /** Told of local processes as they start (absent where no reaper watches, as in `tasks render`). */
  processes?: TaskProcessWatch | undefined;
}

export const OUTPUT_MARKER = '::aloft-output::';
