import type { TriggerRule } from '../model/trigger-rules.js';
import type { TaskContext } from './context.js';
import type { Duration } from './durations.js';
import type { TaskRef } from './task-ref.js';

/** Task arguments as authors write them; every one may be set in `defaultArgs`. */
export interface TaskArgsInput {
  owner?: string;
  retries?: number;
  /** Delay before a retry. Default 5 minutes, as in Airflow. */
  retryDelay?: Duration;
  retryExponentialBackoff?: boolean;
  /** Upper bound of the backoff delay. Default 24h. */
  maxRetryDelay?: Duration;
  /** No limit unless set. */
  executionTimeout?: Duration | null;
  /** BullMQ queue the task runs on. Default `default`. */
  queue?: string;
  priority?: number;
  dependsOnPast?: boolean;
}

export type ParamInput =
  | string
  | number
  | boolean
  | null
  | unknown[]
  | { type: 'string' | 'number' | 'boolean' | 'object' | 'array'; default: unknown; description?: string };

export interface DagOptions<P extends Record<string, unknown> = Record<string, unknown>> {
  id: string;
  description?: string;
  /**
   * A cron expression or preset (`@daily`, `@hourly`, …), `{ every: '10m' }` for a fixed
   * interval, or null/omitted for manual runs only.
   */
  schedule?: string | { every: Duration } | null;
  startDate?: string | Date;
  endDate?: string | Date;
  /** IANA time zone for the schedule and `ds`. Default UTC. */
  timezone?: string;
  /** Create runs for missed intervals since startDate. Default false. */
  catchup?: boolean;
  /** Default 16. */
  maxActiveRuns?: number;
  /** Running task instances of this DAG across its runs. Default 16. */
  maxActiveTasks?: number;
  tags?: string[];
  /** Defaults for manual triggers; a run's conf overrides them. */
  params?: { [K in keyof P]: ParamInput };
  defaultArgs?: TaskArgsInput;
}

export interface BaseTaskOptions extends TaskArgsInput {
  id: string;
  upstream?: readonly TaskRef<unknown>[];
  triggerRule?: TriggerRule;
}

export interface CommandTaskOptions extends BaseTaskOptions {
  /** A shell string or an argv list; templated with the run context (`{{ ds }}`). */
  command: string | string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Exit code that means skipped. Default 99. */
  skipExitCode?: number;
}

export interface FnTaskOptions<T, P> extends BaseTaskOptions {
  run: (ctx: TaskContext<P>) => T | Promise<T>;
}

export interface BranchTaskOptions<P> extends BaseTaskOptions {
  /** Returns the downstream task (ids or refs) to follow; the other direct downstreams are skipped. */
  run: (
    ctx: TaskContext<P>,
  ) => string | string[] | TaskRef<unknown> | TaskRef<unknown>[] | Promise<string | string[] | TaskRef<unknown> | TaskRef<unknown>[]>;
}

export interface ShortCircuitTaskOptions<P> extends BaseTaskOptions {
  /** Returning false skips everything downstream, whatever its trigger rules. */
  run: (ctx: TaskContext<P>) => boolean | Promise<boolean>;
}

export interface KubernetesPodTaskOptions extends BaseTaskOptions {
  image: string;
  namespace?: string;
  cmds?: string[];
  arguments?: string[];
  env?: Record<string, string>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  namePrefix?: string;
  resources?: {
    requests?: { cpu?: string; memory?: string; [k: string]: string | undefined };
    limits?: { cpu?: string; memory?: string; [k: string]: string | undefined };
  };
  [more: string]: unknown;
}
