import type { RunInPod, WeightRule } from '../model/dag.js';
import type { RetryPolicy } from '../model/retry-policy.js';
import type { TriggerRule } from '../model/trigger-rules.js';
import type { Callback } from './callback-context.js';
import type { TaskContext } from './context.js';
import type { Duration } from './durations.js';
import type { ScheduleInput } from './schedule.js';
import type { GroupRef, TaskRef } from './task-ref.js';

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
  /**
   * A pool whose slots cap how many instances run at once across all DAGs (create it with
   * `aloft pools set NAME SLOTS`). Default: default_pool, unlimited unless configured.
   */
  pool?: string;
  /** Slots of the pool each instance takes. Default 1. */
  poolSlots?: number;
  /**
   * Which failed tries are retried, as Argo's retryStrategy: on these exit codes, on errors
   * of these names, or when an expression over the try holds (any that is given). A failed
   * try that meets none fails the task at once. Without it every failure is retried.
   */
  retryPolicy?: RetryPolicy;
  /**
   * As Airflow's wait_for_downstream: wait until this task's instance in the previous run and
   * the tasks right downstream of it there have succeeded or been skipped (implies dependsOnPast).
   */
  waitForDownstream?: boolean;
  /**
   * How `priority` is weighed, as Airflow's weight_rule: `downstream` (default) adds the
   * priority of every task downstream, `upstream` of every task upstream, `absolute` none.
   */
  weightRule?: WeightRule;
  /** At most this many instances of this task run at once across all runs of the DAG (Airflow's max_active_tis_per_dag). */
  maxActiveTisPerDag?: number;
  /** At most this many instances of this task run at once within one run, e.g. of a mapped task (max_active_tis_per_dagrun). */
  maxActiveTisPerDagrun?: number;
  /**
   * Run this `command`/`fn` task (or, in defaultArgs, every such task of the DAG) in a pod
   * of its own built from the Aloft task image, like Airflow's KubernetesExecutor. `true`
   * uses the worker's defaults; an object overrides image, namespace, resources, node
   * selector, tolerations, service account, secrets, labels and annotations, and names the
   * `connections` and `variables` the pod gets by Secret reference (docs/secrets.md).
   */
  runInPod?: boolean | RunInPod;
  /**
   * Airflow's SLA: the task instance should have finished successfully within this long
   * after its run's data interval end (for a manual run: its trigger time). A miss fires
   * `onSlaMiss` (the task's, else the DAG's) once. Not checked for backfill runs.
   */
  sla?: Duration;
  /** Before each try starts, on the worker. */
  onExecute?: Callback;
  onSuccess?: Callback;
  /** When the task fails for good (no tries left); `ctx.reason` says why. */
  onFailure?: Callback;
  /** When a try fails and another is scheduled; `ctx.reason` says why. */
  onRetry?: Callback;
  /** When the task misses its `sla`. */
  onSlaMiss?: Callback;
}

export type ParamInput =
  string | number | boolean | null | unknown[] | { type: 'string' | 'number' | 'boolean' | 'object' | 'array'; default: unknown; description?: string };

export interface DagOptions<P extends Record<string, unknown> = Record<string, unknown>> {
  id: string;
  description?: string;
  /**
   * A cron expression or preset (`@daily`, `@hourly`, …), `{ every: '10m' }` for a fixed
   * interval, `{ datasets: ['s3://bucket/orders.csv', 'warehouse.orders'] }` for one run each
   * time all of those datasets have been updated (by tasks' `outlets`) since the last such
   * run, or null/omitted for manual runs only.
   */
  schedule?: ScheduleInput;
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
  /**
   * The run should have finished within this long after its data interval end (for a
   * manual run: its trigger time); a miss fires `onSlaMiss` once. Not checked for backfills.
   */
  deadline?: Duration;
  /**
   * A run still running this long after it started fails, and its running tasks are stopped
   * (Airflow's `dagrun_timeout`); `onFailure` fires with the reason.
   */
  dagrunTimeout?: Duration;
  /** When a run of this DAG succeeds. */
  onSuccess?: Callback;
  /** When a run of this DAG fails (or is cancelled); `ctx.reason` names the failed tasks. */
  onFailure?: Callback;
  /** When a run misses its `deadline`, or a task without its own `onSlaMiss` misses its `sla`. */
  onSlaMiss?: Callback;
}

export interface BaseTaskOptions extends TaskArgsInput {
  id: string;
  /** Tasks (or whole task groups: their leaves) this task runs after. */
  upstream?: readonly (TaskRef<unknown> | GroupRef)[];
  triggerRule?: TriggerRule;
  /**
   * Datasets (URIs or names) this task updates: each success records an update of each,
   * which DAGs scheduled on those datasets react to.
   */
  outlets?: readonly string[];
  /** Airflow's setup task: makes what the work needs (a cluster, a table); its teardown undoes it. */
  setup?: boolean;
  /**
   * Airflow's teardown task: runs once everything upstream is done, whatever its state, when
   * one of its setups succeeded (trigger rule all_done_setup_success). `setups` become its
   * upstream. Its failure does not fail the run unless `failRun` (Airflow's on_failure_fail_dagrun).
   */
  teardown?: boolean | { setups?: readonly TaskRef<unknown>[]; failRun?: boolean };
}

/**
 * Arguments of `command`, `fn` and `kubernetesPod` tasks: `ctx.args` in a function and
 * `{{ args.name }}` in templates. With `expand` the task is mapped, like Airflow's
 * `partial(...).expand(...)`: one instance per element, created when the task is ready.
 */
export interface MappableOptions {
  /** Fixed arguments, the same for every instance (JSON values). */
  args?: Record<string, unknown>;
  /**
   * Mapped arguments: a literal list, or an upstream task whose output is a list (it
   * becomes an upstream). Several give their cross product. An empty list skips the task.
   */
  expand?: Record<string, readonly unknown[] | TaskRef<unknown>>;
  /** Instances allowed per run; past it the task fails. Default the scheduler's ALOFT_MAX_MAP_LENGTH, 1024. */
  maxMapLength?: number;
}

export interface CommandTaskOptions extends BaseTaskOptions, MappableOptions {
  /** A shell string or an argv list; templated with the run context (`{{ ds }}`). */
  command: string | string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Exit code that means skipped. Default 99. */
  skipExitCode?: number;
}

/** Starts a run of another DAG, like Airflow's TriggerDagRunOperator; its output is the run id. */
export interface TriggerDagRunTaskOptions extends BaseTaskOptions {
  /** The DAG to start. */
  dagId: string;
  /** The run's conf; string values (at any depth) are templated with this run's context. */
  conf?: Record<string, unknown>;
  /**
   * Run id of the new run (templated). Default: derived from this task instance and try, so
   * a try taken over by another worker finds its run instead of starting a second one.
   */
  runId?: string;
  /** Wait for the run to end; fail when it ends in one of `failedStates`. Default false. */
  waitForCompletion?: boolean;
  /** How often the run's state is checked while waiting. Default 5s. */
  pokeInterval?: Duration;
  /** Run states that make this task succeed. Default ['success']. */
  allowedStates?: ('success' | 'failed')[];
  /** Run states that make this task fail. Default ['failed']. */
  failedStates?: ('success' | 'failed')[];
}

export interface FnTaskOptions<T, P> extends BaseTaskOptions, MappableOptions {
  run: (ctx: TaskContext<P>) => T | Promise<T>;
}

export interface BranchTaskOptions<P> extends BaseTaskOptions {
  /** Returns the downstream task (ids or refs) to follow; the other direct downstreams are skipped. */
  run: (ctx: TaskContext<P>) => string | string[] | TaskRef<unknown> | TaskRef<unknown>[] | Promise<string | string[] | TaskRef<unknown> | TaskRef<unknown>[]>;
}

export interface ShortCircuitTaskOptions<P> extends BaseTaskOptions {
  /** Returning false skips everything downstream, whatever its trigger rules. */
  run: (ctx: TaskContext<P>) => boolean | Promise<boolean>;
}

/** A secret reaches the pod by reference only; workers never read its value. */
export type PodSecret =
  /** One key as one environment variable. */
  | { type: 'env'; secret: string; key: string; envName: string }
  /** Every key as an environment variable. */
  | { type: 'envFrom'; secret: string }
  /** Keys as files under mountPath. */
  | { type: 'volume'; secret: string; mountPath: string; items?: { key: string; path: string }[] };

type K8sObject = Record<string, unknown>;

/**
 * A Kubernetes pod, like Airflow's KubernetesPodOperator. The parameters are merged onto
 * `podTemplate` / `podTemplateFile` when given; the main container is named `base`.
 */
export interface KubernetesPodTaskOptions extends BaseTaskOptions, MappableOptions {
  image: string;
  /** Default: the worker's ALOFT_TASK_POD_NAMESPACE, where its Role lets it create pods. */
  namespace?: string;
  /** The container's command (entrypoint); templated like command tasks. */
  cmds?: string[];
  /** The container's arguments; templated. */
  arguments?: string[];
  /**
   * Values (templated) or references to a secret or config map key. A connection or
   * variable goes by reference only: `secret.conn('warehouse').password` reads the Secret
   * aloft-conn-warehouse, key password (docs/secrets.md).
   */
  env?: Record<string, string | { secretKeyRef: { name: string; key: string } } | { configMapKeyRef: { name: string; key: string } }>;
  envFrom?: ({ secretRef: { name: string } } | { configMapRef: { name: string } })[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Prefix of the generated pod name. */
  namePrefix?: string;
  resources?: {
    requests?: { cpu?: string; memory?: string; [k: string]: string | undefined };
    limits?: { cpu?: string; memory?: string; [k: string]: string | undefined };
  };
  secrets?: PodSecret[];
  volumes?: K8sObject[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
  nodeSelector?: Record<string, string>;
  affinity?: K8sObject;
  tolerations?: {
    key?: string;
    operator?: 'Exists' | 'Equal';
    value?: string;
    effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
    tolerationSeconds?: number;
  }[];
  serviceAccountName?: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  imagePullSecrets?: string[];
  securityContext?: K8sObject;
  containerSecurityContext?: K8sObject;
  initContainers?: K8sObject[];
  sidecars?: K8sObject[];
  hostNetwork?: boolean;
  dnsPolicy?: 'ClusterFirst' | 'ClusterFirstWithHostNet' | 'Default' | 'None';
  priorityClassName?: string;
  /** A base pod (object) that the parameters are merged onto. */
  podTemplate?: K8sObject;
  /** A base pod as a YAML file, relative to the DAG file. */
  podTemplateFile?: string;
  /** Time allowed in Pending (unschedulable, pulling) before the try fails. */
  startupTimeout?: Duration;
  /** activeDeadlineSeconds of the pod. */
  activeDeadline?: Duration;
  terminationGracePeriod?: Duration;
  /** What happens to the pod when the try ends. Default `delete`. */
  onFinish?: 'delete' | 'deleteOnSuccess' | 'keep';
  /** Stream the containers' logs into the task's log. Default true. */
  getLogs?: boolean;
  /** Exit codes of the main container that mean "skipped". */
  skipExitCodes?: number[];
  /** The cluster: a kubeconfig file and context, or the worker's own service account. */
  cluster?: { kubeconfig?: string; context?: string } | { inCluster: true };
  /** After an OOMKill, the next try gets memory × factor (requests and limits), up to max. */
  oomRetry?: { factor: number; max: string };
  /**
   * Opt-in: instead of reading aloft-conn-<name> and aloft-variables from the namespace, the
   * pod reads a Secret of its own that the worker fills, when the try starts, with only the
   * connection fields and variables the task names, from the worker's backends, and that is
   * deleted with the pod. The worker then needs the Role of
   * deploy/kubernetes/components/materialize-secrets (docs/secrets.md).
   */
  materializeSecrets?: boolean;
}

/** How a sensor waits, like Airflow's BaseSensorOperator; every sensor takes these. */
export interface SensorWaitOptions {
  /** Time between pokes. Default 60s, as in Airflow; at least 100 ms. */
  pokeInterval?: Duration;
  /**
   * Give up this long after the instance's first poke (counted across reschedules and
   * retries). A timeout fails the task without retrying, or skips it with `softFail`.
   * Default 7 days, as in Airflow.
   */
  timeout?: Duration;
  /**
   * `poke` (default): one try waits on its worker between pokes, holding a worker slot.
   * `reschedule`: after a poke that says "not yet" the instance becomes up_for_reschedule and
   * gives back its worker, maxActiveTasks and pool slots until the next poke (a delayed job),
   * so thousands of waiting sensors cost no worker capacity.
   */
  mode?: 'poke' | 'reschedule';
  /** Wait interval × 2^(pokes − 1) (with jitter) between pokes. Default false. */
  exponentialBackoff?: boolean;
  /** Upper bound of a backoff wait; needs exponentialBackoff. */
  maxWait?: Duration;
  /** On timeout (or an external failed state) the task is skipped instead of failed. Default false. */
  softFail?: boolean;
}

/** A sensor whose condition is a function from this file, run isolated like `fn` tasks. */
export interface SensorTaskOptions<T, P> extends BaseTaskOptions, SensorWaitOptions, MappableOptions {
  /**
   * Checks the condition once: falsy = not yet, `true` = done, any other truthy value = done,
   * and that value is the task's output for downstream tasks. Throwing fails the try (retries
   * apply); `ctx.skip()` skips the task.
   */
  poke: (ctx: TaskContext<P>) => T | Promise<T>;
}

/** Waits until a file or directory exists, like Airflow's FileSensor. */
export interface FileSensorOptions extends BaseTaskOptions, SensorWaitOptions, MappableOptions {
  /** Path on the worker; templated (`/data/{{ ds }}/_SUCCESS`). */
  path: string;
}

/** What an HTTP sensor's `responseCheck` receives. */
export interface HttpSensorResponse {
  status: number;
  headers: Record<string, string>;
  /** The body as text, at most 1 MiB. */
  body: string;
}

export type HttpSensorMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

/** Waits until an HTTP endpoint answers 2xx, like Airflow's HttpSensor. */
export interface HttpSensorOptions<T, P> extends BaseTaskOptions, SensorWaitOptions, MappableOptions {
  /** http(s) URL; templated. Only its host and path are ever logged. */
  url: string;
  /** Default GET. */
  method?: HttpSensorMethod;
  /** Header values are templated and never logged (put tokens here, not in the URL). */
  headers?: Record<string, string>;
  /** Request body; templated. */
  body?: string;
  /** A request that takes longer counts as "not yet". Default 30s. */
  requestTimeout?: Duration;
  /**
   * Decides on a 2xx answer (other answers are "not yet" without calling it): falsy = not
   * yet, `true` = done, another value = done with that output. Runs isolated like `fn` tasks.
   */
  responseCheck?: (response: HttpSensorResponse, ctx: TaskContext<P>) => T | Promise<T>;
}

/**
 * Waits for another DAG's run with the same logical date (minus `executionDelta`), or one
 * of its tasks, to reach an allowed state, like Airflow's ExternalTaskSensor.
 */
export interface ExternalTaskSensorOptions extends BaseTaskOptions, SensorWaitOptions {
  externalDagId: string;
  /** A task of that DAG (a mapped task counts as a whole); unset: the run itself. */
  externalTaskId?: string;
  /** States that end the wait with success. Default ['success']. */
  allowedStates?: string[];
  /**
   * States that end it at once with a failure (skipped with softFail; retries apply).
   * Default: ['failed', 'upstream_failed'] for a task, ['failed'] for a run, less any
   * allowed state (Airflow's default is none: it waits until the timeout).
   */
  failedStates?: string[];
  /** The other run's logical date is this run's minus this. Default 0. */
  executionDelta?: Duration;
}
