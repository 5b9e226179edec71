import type { RunInPod } from '../model/dag.js';
import type { TriggerRule } from '../model/trigger-rules.js';
import type { Callback } from './callback-context.js';
import type { TaskContext } from './context.js';
import type { Duration } from './durations.js';
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
   * Run this `command`/`fn` task (or, in defaultArgs, every such task of the DAG) in a pod
   * of its own built from the Aloft task image, like Airflow's KubernetesExecutor. `true`
   * uses the worker's defaults; an object overrides image, namespace, resources, node
   * selector, tolerations, service account, secrets, labels and annotations.
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

/** Every task argument's name, as written in options and defaultArgs. */
export const TASK_ARG_KEYS = [
  'owner', 'retries', 'retryDelay', 'retryExponentialBackoff', 'maxRetryDelay', 'executionTimeout', 'queue', 'priority', 'dependsOnPast', 'runInPod',
  'sla', 'onExecute', 'onSuccess', 'onFailure', 'onRetry', 'onSlaMiss',
] as const satisfies readonly (keyof TaskArgsInput)[];

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
  /**
   * The run should have finished within this long after its data interval end (for a
   * manual run: its trigger time); a miss fires `onSlaMiss` once. Not checked for backfills.
   */
  deadline?: Duration;
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
export interface KubernetesPodTaskOptions extends BaseTaskOptions {
  image: string;
  /** Default `default`. */
  namespace?: string;
  /** The container's command (entrypoint); templated like command tasks. */
  cmds?: string[];
  /** The container's arguments; templated. */
  arguments?: string[];
  /** Values (templated) or references to a secret or config map key. */
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
  tolerations?: { key?: string; operator?: 'Exists' | 'Equal'; value?: string; effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute'; tolerationSeconds?: number }[];
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
}
