/**
 * The shapes the REST API sends and takes. They are written out here (not imported from
 * @aloft/core) so the SDK runs in any Node program without Redis or BullMQ installed.
 * Dates are epoch milliseconds unless a field says otherwise.
 */

/** A cron expression, a fixed interval or datasets; `null` means the DAG runs only when triggered. */
export type Schedule = { kind: 'cron'; expression: string } | { kind: 'interval'; everyMs: number } | { kind: 'datasets'; uris: string[] } | null;

export type RunState = 'queued' | 'running' | 'success' | 'failed';
export type RunType = 'scheduled' | 'manual' | 'backfill' | 'adhoc' | 'dataset_triggered';
export type TaskState =
  'none' | 'scheduled' | 'queued' | 'running' | 'success' | 'failed' | 'up_for_retry' | 'up_for_reschedule' | 'upstream_failed' | 'skipped';
export type TaskKind = 'empty' | 'command' | 'fn' | 'branch' | 'shortCircuit' | 'kubernetesPod' | 'triggerDagRun' | 'sensor';
/** States a task instance can be marked with by hand. */
export type MarkState = 'success' | 'failed' | 'skipped';

/** One entry of `GET /dags`. */
export interface DagSummary {
  id: string;
  description: string;
  schedule: Schedule;
  tags: string[];
  paused: boolean;
  /** The DAG file, relative to the DAGs folder. */
  fileloc: string;
  /** True when the file that declared the DAG is gone. */
  missing: boolean;
  /** The schedule in words, e.g. "At 06:00 (UTC)". */
  scheduleText: string;
  timezone: string;
  /** When the next scheduled run is due; `null` when paused or unscheduled. */
  nextRunAt: number | null;
  owners: string[];
  /** How many tasks the DAG has. */
  tasks: number;
  /** The latest runs, newest first. */
  recentRuns: { runId: string; state: RunState | 'unknown'; logicalDate: number }[];
}

/** A mapped task as a whole: how many instances it expanded to, and how many are in each state. */
export interface MappedSummary {
  n: number;
  states: Partial<Record<TaskState, number>>;
}

/** `GET /dags/:dagId/grid`: the latest runs (newest first) with one state per task. */
export interface Grid {
  /** The DAG's tasks (`mapped` when they expand at run time), then task ids only older versions (or ad-hoc jobs) had, as kind `unknown`. */
  tasks: { id: string; kind: TaskKind | 'unknown'; upstream: string[]; triggerRule: string; mapped?: boolean | undefined }[];
  /** All runs of the DAG, for paging. */
  total: number;
  runs: {
    runId: string;
    state: RunState;
    runType: RunType;
    logicalDate: number;
    startDate?: number | undefined;
    endDate?: number | undefined;
    /** Each task's state; an expanded mapped task's summed up over its instances. */
    tis: Record<string, TaskState>;
    /** Expanded mapped tasks of the run, by task id; absent when there are none. */
    mapped?: Record<string, MappedSummary> | undefined;
  }[];
}

export interface ParamSpec {
  type: 'string' | 'number' | 'boolean' | 'object' | 'array';
  default: unknown;
  description?: string | undefined;
}

/** A task as the DAG declares it (a subset of what the server sends is typed; the rest passes through). */
export interface DagTask {
  id: string;
  kind: TaskKind;
  upstream: string[];
  downstream: string[];
  triggerRule: string;
  owner: string;
  retries: number;
  retryDelayMs: number;
  retryExponentialBackoff: boolean;
  maxRetryDelayMs: number;
  executionTimeoutMs: number | null;
  queue: string;
  priority: number;
  dependsOnPast: boolean;
  hasFunction: boolean;
  line?: number | undefined;
  command?: { command: string | string[]; env: Record<string, string>; cwd?: string | undefined; skipExitCode: number } | undefined;
  pod?: Record<string, unknown> | undefined;
  runInPod?: Record<string, unknown> | null | undefined;
  /** Full id of the task group the task is in (`extract.more`), if any. */
  group?: string | undefined;
  [other: string]: unknown;
}

/** `GET /dags/:dagId`: the DAG as stored, with its pause state. */
export interface DagDetail {
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
  tasks: DagTask[];
  /** Task groups (full id, parent group), when the DAG has any. */
  groups?: { id: string; parent: string | null; tooltip?: string | undefined }[] | undefined;
  /** Content hash of the DAG; changes when the DAG changes. */
  version: string;
  paused: boolean;
  missing: boolean;
  /** Set when the DAG has pod tasks and its pods run on the quick start's local stand-in, not a cluster. */
  podNote?: string | undefined;
}

/** A DAG file that failed to import. */
export interface ImportErrorRecord {
  file: string;
  line?: number | undefined;
  field?: string | undefined;
  message: string;
  at: number;
}

export interface DagRun {
  dagId: string;
  runId: string;
  state: RunState;
  runType: RunType;
  version: string;
  logicalDate: number;
  dataIntervalStart: number;
  dataIntervalEnd: number;
  conf: Record<string, unknown>;
  queuedAt: number;
  startDate?: number | undefined;
  endDate?: number | undefined;
  /** Task instances not finished yet. */
  unfinished: number;
  reason?: string | undefined;
  /** `dag/run/task/try` of the triggerDagRun task that started the run. */
  triggeredBy?: string | undefined;
  /** dataset_triggered runs: the dataset updates that made the run. */
  datasetEvents?: DatasetEvent[] | undefined;
}

/** One update of a dataset, by a successful task with outlets. */
export interface DatasetEvent {
  uri: string;
  at: number;
  dagId: string;
  runId: string;
  taskId: string;
}

/** One entry of `GET /datasets`. */
export interface DatasetInfo {
  uri: string;
  lastUpdateAt: number | null;
  lastUpdate: DatasetEvent | null;
  updates: number;
  /** DAGs with a task whose outlets name the dataset. */
  producers: string[];
  /** DAGs scheduled on the dataset. */
  consumers: string[];
}

/** `GET /dags/:dagId/runs`: one page of runs, newest first. */
export interface RunPage {
  runs: DagRun[];
  total: number;
  limit: number;
  offset: number;
}

export interface TaskInstance {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  state: TaskState;
  try: number;
  maxTries?: number | undefined;
  queue?: string | undefined;
  queuedAt?: number | undefined;
  startDate?: number | undefined;
  endDate?: number | undefined;
  duration?: number | undefined;
  worker?: string | undefined;
  hostname?: string | undefined;
  pgid?: number | undefined;
  exitCode?: number | undefined;
  reason?: string | undefined;
  nextTryAt?: number | undefined;
  /** Sensors: the first poke (the timeout counts from it), pokes so far, and the next poke while up_for_reschedule. */
  firstPokeAt?: number | undefined;
  pokes?: number | undefined;
  nextPokeAt?: number | undefined;
  jobId?: string | undefined;
  /** What the executor says the try is doing now (e.g. why its pod is pending). */
  detail?: string | undefined;
  /** namespace/name of the try's pod, for kubernetesPod tasks. */
  pod?: string | undefined;
  /** Memory limit each try's pod ran with (oomRetry), by try number. */
  podMemoryByTry?: Record<number, string> | undefined;
  /**
   * A mapped task as a whole (map index −1 once expanded): its instance count and how many
   * are in each state; `state` then sums them up.
   */
  mapped?: MappedSummary | undefined;
}

/** `GET …/tasks/:taskId/instances`: one page of a mapped task's instances, in map-index order. */
export interface InstancePage extends MappedSummary {
  /** Instances matching the state filter (all `n` without one). */
  total: number;
  limit: number;
  offset: number;
  instances: TaskInstance[];
}

export type LogStream = 'stdout' | 'stderr' | 'system';

export interface LogLine {
  at: number;
  stream: LogStream;
  line: string;
}

/** `GET …/tasks/:taskId/logs`: lines `from` to `next - 1` of one try. */
export interface LogPage {
  try: number;
  from: number;
  /** Pass as `from` to get the lines after these. */
  next: number;
  lines: LogLine[];
}

/** What `followLog` yields: log lines as they are written, then one `end`. */
export type LogEvent =
  | ({ type: 'line'; /** Line number within the try, from 0. */ n: number } & LogLine)
  | {
      type: 'end';
      /** The task instance's state when its try finished (`up_for_retry` when another try follows). */
      state: TaskState;
      /** The try that finished. */
      try?: number | undefined;
    };

/** A pool of task slots shared by all DAGs; `slots: null` is the unconfigured default pool (unlimited). */
export interface PoolInfo {
  name: string;
  slots: number | null;
  description: string;
  /** Slots held by running task instances. */
  used: number;
  /** Slots wanted by queued task instances. */
  queued: number;
  open: number | null;
}

export interface QueueCounts {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  /** Workers listening on the queue (newer servers). */
  workers?: number;
}

interface JobSpecBase {
  retries?: number;
  retryDelayMs?: number;
  executionTimeoutMs?: number;
  queue?: string;
  /** Name of the single task; default `command` or `pod`. */
  taskId?: string;
}

/** An ad-hoc command: a shell string (`/bin/sh -c`) or an argv list (run directly). */
export interface CommandJobSpec extends JobSpecBase {
  kind: 'command';
  command: string | string[];
  env?: Record<string, string>;
  cwd?: string;
}

/** An ad-hoc Kubernetes pod. */
export interface KubernetesPodJobSpec extends JobSpecBase {
  kind: 'kubernetesPod';
  image: string;
  cmds?: string[];
  arguments?: string[];
  env?: Record<string, string>;
  namespace?: string;
  labels?: Record<string, string>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  /** How long the pod may take to start: `"5m"` or milliseconds. */
  startupTimeout?: string | number;
}

export type JobSpec = CommandJobSpec | KubernetesPodJobSpec;

/** A connection in Aloft's store as the API shows it: never its password or extra values; a viewer gets `id` only. */
export interface ConnectionSummary {
  id: string;
  type: string;
  host?: string;
  port?: number;
  login?: string;
  schema?: string;
  description?: string;
  hasPassword: boolean;
  extraKeys: string[];
  updatedAt: number;
  updatedBy: string;
}

/** What PUT /connections/{id} takes: a `uri`, or the fields; `password` is sealed and never returned. */
export interface ConnectionInput {
  uri?: string;
  type?: string;
  host?: string;
  port?: number;
  login?: string;
  password?: string;
  schema?: string;
  extra?: Record<string, unknown>;
  description?: string;
}

/** A variable in Aloft's store: `value` only when it is not secret; a viewer gets `key` only. */
export interface VariableSummary {
  key: string;
  secret: boolean;
  value?: string;
  description?: string;
  updatedAt: number;
  updatedBy: string;
}

/** Who created, changed or deleted a connection or variable; never a value. */
export interface AuditEntry {
  at: number;
  actor: string;
  action: 'created' | 'updated' | 'deleted';
  kind: 'connection' | 'variable';
  id: string;
}
