import type { CallbackRef, DagCallbackSlot, TaskCallbackSlot } from './callbacks.js';
import type { PodParams } from './pod-params.js';
import type { RetryPolicy } from './retry-policy.js';
import type { TriggerRule } from './trigger-rules.js';

/**
 * A schedule as stored: a cron expression, a fixed interval, or datasets (a run once every
 * one of them has been updated since the DAG's last dataset-triggered run); `null` = manual only.
 */
export type Schedule = { kind: 'cron'; expression: string } | { kind: 'interval'; everyMs: number } | { kind: 'datasets'; uris: string[] } | null;

/** A schedule that creates runs per data interval (cron or interval). */
export type TimeSchedule = Extract<NonNullable<Schedule>, { kind: 'cron' | 'interval' }>;

export type TaskKind = 'empty' | 'command' | 'fn' | 'branch' | 'shortCircuit' | 'kubernetesPod' | 'triggerDagRun' | 'sensor';

/** What a sensor checks on each poke. */
export type SensorCheck =
  /** The task's `poke` function (in the DAG file): falsy = not yet, true = done, another value = done with that output. */
  | { type: 'fn' }
  /** A path (templated) exists. */
  | { type: 'file'; path: string }
  /**
   * An HTTP request (url and header values templated) answers 2xx; with a `responseCheck`
   * function in the DAG file, that function decides (falsy = not yet) and its value is the output.
   */
  | {
      type: 'http';
      url: string;
      method: string;
      headers: Record<string, string>;
      body?: string | undefined;
      requestTimeoutMs: number;
      hasResponseCheck: boolean;
    }
  /**
   * Another DAG's run for the same logical date (minus `executionDeltaMs`), or one of its
   * tasks, reaches one of `allowedStates`; one of `failedStates` ends the sensor at once.
   */
  | {
      type: 'externalTask';
      externalDagId: string;
      externalTaskId?: string | undefined;
      allowedStates: string[];
      failedStates: string[];
      executionDeltaMs: number;
    };

/** A sensor task: what it checks, how often, for how long, and how it waits between checks. */
export interface SensorSpec {
  check: SensorCheck;
  pokeIntervalMs: number;
  /** Measured from the instance's first poke, across reschedules and retries (Airflow). */
  timeoutMs: number;
  /** poke: one try holds its worker slot between pokes; reschedule: it is handed back. */
  mode: 'poke' | 'reschedule';
  /** Interval × 2^(pokes − 1), with jitter, capped by maxWaitMs. */
  exponentialBackoff: boolean;
  maxWaitMs: number | null;
  /** A timeout (or an external failed state) skips instead of failing. */
  softFail: boolean;
}

/** What a `triggerDagRun` task starts, and whether it waits for the run to end. */
export interface TriggerDagRunSpec {
  dagId: string;
  /** Values that are strings (at any depth) are templated with the run context. */
  conf: Record<string, unknown>;
  /** Templated; unset: derived from the triggering task instance and try. */
  runId?: string | undefined;
  waitForCompletion: boolean;
  pokeIntervalMs: number;
  /** Run states that end the wait with success / failure. */
  allowedStates: ('success' | 'failed')[];
  failedStates: ('success' | 'failed')[];
}

export interface CommandSpec {
  /** A shell string (run by `/bin/sh -c`) or an argv list (run directly). */
  command: string | string[];
  env: Record<string, string>;
  cwd?: string | undefined;
  /** Exit code that marks the task skipped instead of failed. Default 99. */
  skipExitCode: number;
}

/** Everything a task may take from `defaultArgs` and override. */
export interface TaskArgs {
  owner: string;
  retries: number;
  retryDelayMs: number;
  retryExponentialBackoff: boolean;
  maxRetryDelayMs: number;
  executionTimeoutMs: number | null;
  queue: string;
  /** Higher runs first, as in Airflow's priority_weight. */
  priority: number;
  dependsOnPast: boolean;
  /** Pool whose slots the task takes while it runs; null = default_pool (unlimited unless configured). */
  pool: string | null;
  /** Slots of the pool one instance takes. Default 1. */
  poolSlots: number;
  /**
   * command/fn/branch/shortCircuit tasks: run in a pod of their own (the Aloft task image,
   * with these overrides) instead of on the worker, like Airflow's KubernetesExecutor.
   */
  runInPod: RunInPod | null;
  /**
   * Airflow's wait_for_downstream: besides dependsOnPast (which it implies), the tasks right
   * downstream of this one in the previous run must have succeeded or been skipped.
   */
  waitForDownstream?: true | undefined;
  /** Which failed tries are retried (Argo's retryStrategy); absent: every one while retries are left. */
  retryPolicy?: RetryPolicy | undefined;
  /** How the task's queue priority is weighed (Airflow's weight_rule); absent: downstream. */
  weightRule?: WeightRule | undefined;
  /** At most this many instances of the task run at once across the DAG's runs (Airflow's max_active_tis_per_dag). */
  maxActiveTisPerDag?: number | undefined;
  /** At most this many instances of the task run at once within one run (max_active_tis_per_dagrun). */
  maxActiveTisPerDagrun?: number | undefined;
}

/**
 * Airflow's weight rules: the priority a task's jobs get is its own `priority` plus that of
 * every task downstream of it (`downstream`, the default: a run's early tasks go first), or
 * upstream of it (`upstream`: a run started earlier finishes first), or its own (`absolute`).
 */
export const WEIGHT_RULES = ['downstream', 'upstream', 'absolute'] as const;
export type WeightRule = (typeof WEIGHT_RULES)[number];

/** Where and how a task that runs in its own pod runs; every field is optional. */
export type RunInPod = Partial<
  Pick<
    PodParams,
    'image' | 'namespace' | 'resources' | 'nodeSelector' | 'tolerations' | 'serviceAccountName' | 'secrets' | 'labels' | 'annotations' | 'materializeSecrets'
  >
> & {
  /** Connections the pod gets as ALOFT_CONN_<ID>, from the Secret aloft-conn-<name> (key `uri`) by reference, so ctx.conn works in it. */
  connections?: string[];
  /** Variables the pod gets as ALOFT_VAR_<KEY>, from the Secret aloft-variables (key `<key>`) by reference. */
  variables?: string[];
};

/**
 * Dynamic task mapping: one task instance per element at run time. With several mapped
 * arguments the instances are their cross product, the last argument varying fastest.
 */
export interface MapSpec {
  over: MappedArg[];
  /** Instances allowed; past it the task fails. */
  maxLength: number;
  /**
   * The mapped task group the task belongs to: instance i then waits for instance i of its
   * upstreams in the same group, not for all of them.
   */
  group?: string | undefined;
}

/** A mapped argument: a literal list from the DAG file, or an upstream task's list output. */
export type MappedArg = { arg: string; values: unknown[] } | { arg: string; upstream: string };

export interface SerializedTask extends TaskArgs {
  id: string;
  kind: TaskKind;
  upstream: string[];
  downstream: string[];
  triggerRule: TriggerRule;
  /** Line in the DAG file where the task was declared. */
  line?: number | undefined;
  command?: CommandSpec | undefined;
  /** Pod parameters, validated at import (validatePodOptions); the Kubernetes executor consumes them. */
  pod?: PodParams | undefined;
  /** Fixed arguments (`ctx.args`, `{{ args.x }}`); a mapped task's mapped ones join them per instance. */
  args?: Record<string, unknown> | undefined;
  map?: MapSpec | undefined;
  /** Full id of the innermost task group the task was declared in. */
  group?: string | undefined;
  /** Present for `fn`, `branch`, `shortCircuit`, and sensors with a `poke` or `responseCheck`: the function lives in the DAG file. */
  hasFunction: boolean;
  /** Datasets (URIs or names) this task updates when it succeeds. */
  outlets?: string[] | undefined;
  /** Present for `triggerDagRun`. */
  trigger?: TriggerDagRunSpec | undefined;
  /** Present for `sensor`. */
  sensor?: SensorSpec | undefined;
  /** A setup task (Airflow's as_setup). */
  setup?: true | undefined;
  /** A teardown task (Airflow's as_teardown); `failRun`: its failure fails the run. */
  teardown?: { failRun: boolean } | undefined;
  /** The task's SLA (ms after its run's data interval end), when it has one. */
  slaMs?: number | undefined;
  /** The callbacks this task has, by slot (its own or from defaultArgs); absent when none. */
  callbacks?: Partial<Record<TaskCallbackSlot, CallbackRef>> | undefined;
}

export interface ParamSpec {
  type: 'string' | 'number' | 'boolean' | 'object' | 'array';
  default: unknown;
  description?: string | undefined;
}

/** A task group: its full id (`outer.inner`), its parent group, and its tooltip. */
export interface SerializedGroup {
  id: string;
  parent: string | null;
  /** Present when the group is mapped (`expand`). */
  mapped?: true | undefined;
  tooltip?: string | undefined;
  line?: number | undefined;
}

export interface SerializedDag {
  id: string;
  description: string;
  fileloc: string;
  line?: number | undefined;
  schedule: Schedule;
  timezone: string;
  /** ISO instants. */
  startDate: string | null;
  endDate: string | null;
  catchup: boolean;
  maxActiveRuns: number;
  maxActiveTasks: number;
  tags: string[];
  params: Record<string, ParamSpec>;
  tasks: SerializedTask[];
  /** Task groups, when the DAG has any (for the dashboard's graph). */
  groups?: SerializedGroup[] | undefined;
  /** The run deadline (ms after the data interval end), when set. */
  deadlineMs?: number | undefined;
  /** A running run is failed this long after it started (dagrunTimeout), when set. */
  dagrunTimeoutMs?: number | undefined;
  /** The DAG's own callbacks, by slot; absent when none. */
  callbacks?: Partial<Record<DagCallbackSlot, CallbackRef>> | undefined;
  /** Queue of the jobs that run the DAG's callbacks: its defaultArgs queue. */
  callbackQueue?: string | undefined;
  /** Content hash of everything above; changes when the DAG changes. */
  version: string;
}
