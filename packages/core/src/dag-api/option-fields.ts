import { closestMatch } from 'leven';
import type { RunInPod, TaskKind } from '../model/dag.js';
import type {
  BaseTaskOptions,
  BranchTaskOptions,
  CommandTaskOptions,
  DagOptions,
  ExternalTaskSensorOptions,
  FileSensorOptions,
  FnTaskOptions,
  HttpSensorOptions,
  KubernetesPodTaskOptions,
  MappableOptions,
  SensorTaskOptions,
  SensorWaitOptions,
  ShortCircuitTaskOptions,
  TaskArgsInput,
  TriggerDagRunTaskOptions,
} from './options.js';
import { SENSOR_TYPE, type SensorType } from './sensor-options.js';
import type { TaskGroupOptions } from './task-group.js';

/**
 * The fields each options object of the DAG API accepts. Each table `satisfies` a record over
 * the keys of its TypeScript type, so an option added to a type without being listed here
 * (or listed here but gone from the type) fails `tsc`: the lists cannot drift from the types.
 */
type FieldsOf<T> = Record<keyof T, true>;

/** Task arguments: task options, a DAG's `defaultArgs` and a group's `defaultArgs`. */
export const TASK_ARG_FIELDS = {
  owner: true,
  retries: true,
  retryDelay: true,
  retryExponentialBackoff: true,
  maxRetryDelay: true,
  executionTimeout: true,
  queue: true,
  priority: true,
  dependsOnPast: true,
  pool: true,
  poolSlots: true,
  waitForDownstream: true,
  retryPolicy: true,
  weightRule: true,
  maxActiveTisPerDag: true,
  maxActiveTisPerDagrun: true,
  runInPod: true,
  sla: true,
  onExecute: true,
  onSuccess: true,
  onFailure: true,
  onRetry: true,
  onSlaMiss: true,
} as const satisfies FieldsOf<TaskArgsInput>;

/** Every task argument's name, as written in options and defaultArgs. */
export const TASK_ARG_KEYS = Object.keys(TASK_ARG_FIELDS) as (keyof TaskArgsInput)[];

export const DAG_FIELDS = {
  id: true,
  description: true,
  schedule: true,
  startDate: true,
  endDate: true,
  timezone: true,
  catchup: true,
  maxActiveRuns: true,
  maxActiveTasks: true,
  tags: true,
  params: true,
  defaultArgs: true,
  deadline: true,
  dagrunTimeout: true,
  onSuccess: true,
  onFailure: true,
  onSlaMiss: true,
} as const satisfies FieldsOf<DagOptions>;

export const GROUP_FIELDS = {
  id: true,
  tooltip: true,
  defaultArgs: true,
  expand: true,
  args: true,
  maxMapLength: true,
} as const satisfies FieldsOf<TaskGroupOptions>;

/** `runInPod: { … }` overrides. */
export const RUN_IN_POD_FIELDS = {
  image: true,
  namespace: true,
  resources: true,
  nodeSelector: true,
  tolerations: true,
  serviceAccountName: true,
  secrets: true,
  labels: true,
  annotations: true,
  materializeSecrets: true,
  connections: true,
  variables: true,
} as const satisfies FieldsOf<RunInPod>;

const BASE = {
  ...TASK_ARG_FIELDS,
  id: true,
  upstream: true,
  triggerRule: true,
  outlets: true,
  setup: true,
  teardown: true,
} as const satisfies FieldsOf<BaseTaskOptions>;
const MAPPABLE = { args: true, expand: true, maxMapLength: true } as const satisfies FieldsOf<MappableOptions>;
const SENSOR_WAIT = {
  pokeInterval: true,
  timeout: true,
  mode: true,
  exponentialBackoff: true,
  maxWait: true,
  softFail: true,
} as const satisfies FieldsOf<SensorWaitOptions>;

/** A kubernetesPod task's own parameters, beside the task options. */
export const POD_FIELDS = {
  image: true,
  namespace: true,
  cmds: true,
  arguments: true,
  env: true,
  envFrom: true,
  labels: true,
  annotations: true,
  namePrefix: true,
  resources: true,
  secrets: true,
  volumes: true,
  volumeMounts: true,
  nodeSelector: true,
  affinity: true,
  tolerations: true,
  serviceAccountName: true,
  imagePullPolicy: true,
  imagePullSecrets: true,
  securityContext: true,
  containerSecurityContext: true,
  initContainers: true,
  sidecars: true,
  hostNetwork: true,
  dnsPolicy: true,
  priorityClassName: true,
  podTemplate: true,
  podTemplateFile: true,
  startupTimeout: true,
  activeDeadline: true,
  terminationGracePeriod: true,
  onFinish: true,
  getLogs: true,
  skipExitCodes: true,
  cluster: true,
  oomRetry: true,
  materializeSecrets: true,
} as const satisfies Omit<FieldsOf<KubernetesPodTaskOptions>, keyof BaseTaskOptions | keyof MappableOptions>;

/** The fields of each operator's options, by task kind (a sensor by the sensor it is). */
const TASK_FIELDS = {
  empty: BASE,
  command: { ...BASE, ...MAPPABLE, command: true, env: true, cwd: true, skipExitCode: true } satisfies FieldsOf<CommandTaskOptions>,
  fn: { ...BASE, ...MAPPABLE, run: true } satisfies FieldsOf<FnTaskOptions<unknown, unknown>>,
  branch: { ...BASE, run: true } satisfies FieldsOf<BranchTaskOptions<unknown>>,
  shortCircuit: { ...BASE, run: true } satisfies FieldsOf<ShortCircuitTaskOptions<unknown>>,
  kubernetesPod: { ...BASE, ...MAPPABLE, ...POD_FIELDS } satisfies FieldsOf<KubernetesPodTaskOptions>,
  triggerDagRun: {
    ...BASE,
    dagId: true,
    conf: true,
    runId: true,
    waitForCompletion: true,
    pokeInterval: true,
    allowedStates: true,
    failedStates: true,
  } satisfies FieldsOf<TriggerDagRunTaskOptions>,
} as const satisfies Record<Exclude<TaskKind, 'sensor'>, Record<string, true>>;

const SENSOR_FIELDS = {
  fn: { ...BASE, ...SENSOR_WAIT, ...MAPPABLE, poke: true } satisfies FieldsOf<SensorTaskOptions<unknown, unknown>>,
  file: { ...BASE, ...SENSOR_WAIT, ...MAPPABLE, path: true } satisfies FieldsOf<FileSensorOptions>,
  http: {
    ...BASE,
    ...SENSOR_WAIT,
    ...MAPPABLE,
    url: true,
    method: true,
    headers: true,
    body: true,
    requestTimeout: true,
    responseCheck: true,
  } satisfies FieldsOf<HttpSensorOptions<unknown, unknown>>,
  externalTask: {
    ...BASE,
    ...SENSOR_WAIT,
    externalDagId: true,
    externalTaskId: true,
    allowedStates: true,
    failedStates: true,
    executionDelta: true,
  } satisfies FieldsOf<ExternalTaskSensorOptions>,
} as const satisfies Record<SensorType, Record<string, true>>;

const SENSOR_OPERATOR: Record<SensorType, string> = { fn: 'sensor', file: 'fileSensor', http: 'httpSensor', externalTask: 'externalTaskSensor' };

/** The fields a task's options may have, and the operator's name for messages. */
export function taskFields(kind: TaskKind, options: Record<string, unknown>): { fields: Readonly<Record<string, true>>; operator: string } {
  if (kind !== 'sensor') return { fields: TASK_FIELDS[kind], operator: kind };
  const type = options[SENSOR_TYPE] as SensorType;
  // The operator sets the sensor type; it is not an option authors write.
  return { fields: { ...(SENSOR_FIELDS[type] ?? SENSOR_FIELDS.fn), [SENSOR_TYPE]: true }, operator: SENSOR_OPERATOR[type] ?? 'sensor' };
}

/** One problem per key of `options` that `fields` does not list, with the closest known key when one is near. */
export function unknownFields(options: unknown, fields: Readonly<Record<string, true>>, what: string, prefix = ''): { field: string; message: string }[] {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return [];
  const known = Object.keys(fields).filter((k) => k !== SENSOR_TYPE);
  return Object.keys(options)
    .filter((k) => !Object.hasOwn(fields, k))
    .map((k) => {
      const near = suggestion(k, known);
      return { field: `${prefix}${k}`, message: `${prefix}${k} is not ${what}${near ? `; did you mean \`${prefix}${near}\`?` : ''}` };
    });
}

/**
 * The known key closest to a misspelt one: compared without case, within about one edit per
 * three letters (at most three), so `shedule` finds `schedule` and `cmd` finds nothing.
 */
function suggestion(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const maxDistance = Math.min(3, Math.max(1, Math.floor(lower.length / 3)));
  const byLower = new Map(known.map((k) => [k.toLowerCase(), k]));
  const match = closestMatch(lower, [...byLower.keys()], { maxDistance });
  return match === undefined ? undefined : byLower.get(match);
}
