import { createHash } from 'node:crypto';
import {
  WEIGHT_RULES,
  type MappedArg,
  type ParamSpec,
  type RunInPod,
  type SerializedDag,
  type SerializedTask,
  type TaskArgs,
  type TaskKind,
} from '../model/dag.js';
import { DEFAULT_POOL, ID_PATTERN, POOL_NAME } from '../model/ids.js';
import { retryPolicyProblems } from '../model/retry-policy.js';
import { TRIGGER_RULES, type TriggerRule } from '../model/trigger-rules.js';
import {
  DAG_CALLBACK_SLOTS,
  dagCallbackRef,
  parseCallbackRef,
  TASK_CALLBACK_SLOTS,
  taskCallbackRef,
  type CallbackRef,
  type DagCallbackSlot,
  type TaskCallbackSlot,
} from '../model/callbacks.js';
import type { Callback } from './callback-context.js';
import { callSiteLine, getImportingFile } from './call-site.js';
import type { TaskContext } from './context.js';
import { parseDuration, type Duration } from './durations.js';
import { Operators } from './operators.js';
import { DAG_FIELDS, GROUP_FIELDS, RUN_IN_POD_FIELDS, TASK_ARG_FIELDS, TASK_ARG_KEYS, taskFields, unknownFields } from './option-fields.js';
import type { BaseTaskOptions, DagOptions, MappableOptions, ParamInput, TaskArgsInput } from './options.js';
import { podSecretsProblems, validatePodOptions } from './pod-options.js';
import { datasetListProblem, parseSchedule } from './schedule.js';
import { isGroup, sourcesOf, TaskList, TaskRef, type GroupRef, type Targets } from './task-ref.js';
import { TaskGroup, type GroupHost, type TaskGroupOptions } from './task-group.js';
import { validateSensorOptions } from './sensor-options.js';
import { validateTriggerDagRunOptions } from './trigger-dag-run-options.js';
import { ValidationIssues } from './validation.js';
import { DagImportError } from '../errors/dag-import-error.js';
import { registerDag } from './registry.js';
import { connSecretName } from '../secrets/pod-secrets.js';
import { SECRET_ID } from '../secrets/secret-id.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TaskFunction = (ctx: TaskContext<any>) => unknown;

interface DeclaredTask {
  kind: TaskKind;
  options: BaseTaskOptions & Record<string, unknown>;
  line: number | undefined;
  downstream: Set<string>;
  group: string | undefined;
  /** The mapped task group the task belongs to, if any. */
  mapGroup?: string | undefined;
}

const GROUP_ID = /^[A-Za-z0-9_-]{1,100}$/;

const DEFAULT_ARGS: TaskArgs = {
  owner: 'aloft',
  retries: 0,
  retryDelayMs: 300_000,
  retryExponentialBackoff: false,
  maxRetryDelayMs: 86_400_000,
  executionTimeoutMs: null,
  queue: 'default',
  priority: 1,
  dependsOnPast: false,
  pool: null,
  poolSlots: 1,
  runInPod: null,
};

/** Instances a mapped task may expand to unless it sets `maxMapLength` (ALOFT_MAX_MAP_LENGTH's default). */
export const DEFAULT_MAX_MAP_LENGTH = 1024;

/** Settings of the process that validates a DAG, which the DAG file does not choose. */
export interface SerializeSettings {
  /** Default `maxMapLength` of mapped tasks (the scheduler's ALOFT_MAX_MAP_LENGTH). Default 1024. */
  maxMapLength?: number;
}

/**
 * A DAG under construction. Tasks are declared with its methods; `serialize()` validates the
 * whole graph and returns what the scheduler stores.
 */
export class Dag<P extends Record<string, unknown> = Record<string, unknown>> extends Operators<P> {
  readonly id: string;
  readonly options: DagOptions<P>;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly #tasks = new Map<string, DeclaredTask>();
  readonly #duplicates: { id: string; line: number | undefined }[] = [];
  readonly #functions = new Map<string, TaskFunction>();
  readonly #groups = new Map<string, { group: TaskGroup<never>; line: number | undefined }>();
  /** Problems found while tasks and groups were declared; `scope` names the task or group. */
  readonly #declProblems: { field: string; message: string; line: number | undefined; scope?: string }[] = [];
  readonly #host: GroupHost = {
    declare: (kind, options, fn, group) => this.#declare(kind, options, fn, group),
    downstreamOf: (taskId) => this.#tasks.get(taskId)?.downstream ?? new Set(),
    addGroup: (group, line, options) => {
      const scope = `group "${group.id}"`;
      for (const p of unknownFields(options, GROUP_FIELDS, 'a task group option')) this.#declProblems.push({ ...p, line, scope });
      for (const p of unknownFields(options?.defaultArgs, TASK_ARG_FIELDS, 'a task argument', 'defaultArgs.')) this.#declProblems.push({ ...p, line, scope });
      if (!GROUP_ID.test(group.localId)) {
        this.#declProblems.push({ field: 'group', message: `group id must be letters, digits, "_" or "-" (got ${JSON.stringify(group.localId)})`, line });
      } else if (this.#groups.has(group.id)) {
        this.#declProblems.push({ field: 'group', message: `group "${group.id}" is declared twice`, line });
      } else this.#groups.set(group.id, { group, line });
      if (group.mapped?.id === group.id && group.parent?.mapped) {
        this.#declProblems.push({
          field: 'expand',
          message: `group "${group.id}" is mapped inside mapped group "${group.parent.mapped.id}"; mapped groups do not nest`,
          line,
        });
      }
    },
  };

  constructor(options: DagOptions<P>) {
    super();
    this.options = options;
    this.id = String(options?.id);
    this.file = getImportingFile();
    this.line = callSiteLine();
    registerDag(this as Dag);
  }

  protected declareTask<T>(kind: TaskKind, options: BaseTaskOptions, fn?: TaskFunction): TaskRef<T> {
    return this.#declare<T>(kind, options, fn);
  }

  protected newGroup(options: TaskGroupOptions): TaskGroup<P> {
    return new TaskGroup<P>(this.#host, options, undefined, callSiteLine());
  }

  /** The function of a `fn`, `branch` or `shortCircuit` task, a sensor's `poke` or an HTTP sensor's `responseCheck`. */
  functionOf(taskId: string): TaskFunction | undefined {
    return this.#functions.get(taskId);
  }

  /** The function a callback reference (`task:<id>:onFailure`, `dag:onSuccess`) names. */
  callbackOf(ref: string): Callback | undefined {
    const p = parseCallbackRef(ref);
    if (!p) return undefined;
    const fn = p.scope === 'dag' ? this.options?.[p.slot] : this.#taskCallback(p.taskId, p.slot);
    return typeof fn === 'function' ? (fn as Callback) : undefined;
  }

  /** A task's own callback (group defaults included), else the DAG's defaultArgs one. */
  #taskCallback(taskId: string, slot: TaskCallbackSlot): unknown {
    const t = this.#tasks.get(taskId);
    if (!t) return undefined;
    return t.options[slot] ?? this.options?.defaultArgs?.[slot];
  }

  #declare<T>(kind: TaskKind, options: BaseTaskOptions, fn?: TaskFunction, group?: TaskGroup<never>): TaskRef<T> {
    const line = callSiteLine();
    const id = group ? `${group.id}.${String(options?.id)}` : String(options?.id);
    // The task's own options, before its group's defaults are merged in.
    const { fields, operator } = taskFields(kind, (options ?? {}) as unknown as Record<string, unknown>);
    const scope = `task "${id}"`;
    for (const p of unknownFields(options, fields, `an option of ${operator} tasks`)) this.#declProblems.push({ ...p, line, scope });
    const upstream = checkUpstream(options?.upstream, (field, message) => this.#declProblems.push({ field, message, line, scope }));
    if (group) {
      // The group's defaults (with its parents'), under the task's own options.
      const defaults = Object.fromEntries(TASK_ARG_KEYS.filter((k) => group.defaultArgs[k] !== undefined).map((k) => [k, group.defaultArgs[k]]));
      options = { ...defaults, ...options };
    }
    const mg = group?.mapped;
    if (mg) {
      // Every task of a mapped group is mapped the group's way, copy i beside copy i.
      const own = options as MappableOptions;
      if (own.expand !== undefined)
        this.#declProblems.push({ field: 'expand', message: `task "${id}" is in mapped group "${mg.id}" and cannot be mapped itself`, line });
      else if (!MAPPABLE.includes(kind))
        this.#declProblems.push({
          field: 'kind',
          message: `task "${id}" (${kind}): the tasks of mapped group "${mg.id}" must be command, fn or kubernetesPod tasks`,
          line,
        });
      else
        options = {
          ...options,
          expand: mg.expand,
          args: mg.args || own.args ? { ...mg.args, ...own.args } : undefined,
          maxMapLength: mg.maxMapLength,
        } as BaseTaskOptions;
    }
    if (this.#tasks.has(id)) {
      this.#duplicates.push({ id, line });
    } else {
      this.#tasks.set(id, { kind, options: options as DeclaredTask['options'], line, downstream: new Set(), group: group?.id, mapGroup: mg?.id });
    }
    if (fn !== undefined) this.#functions.set(id, fn);
    const ref = new TaskRef<T>(id, kind, (ids) => {
      for (const d of ids) this.#tasks.get(id)?.downstream.add(d);
    });
    group?.addMember(ref);
    for (const up of [...sourcesOf(upstream), ...expandSources(options), ...teardownSetups(options)]) {
      this.#tasks.get(up?.id)?.downstream.add(id);
      if (!this.#tasks.has(up?.id)) this.#danglingUpstreams.push({ task: id, upstream: String(up?.id), line });
    }
    return ref;
  }

  readonly #danglingUpstreams: { task: string; upstream: string; line: number | undefined }[] = [];

  /** Validates everything and returns the stored form; throws DagImportError naming each problem. */
  serialize(settings: SerializeSettings = {}): SerializedDag {
    const o = this.options ?? ({} as DagOptions<P>);
    const issues = new ValidationIssues(this.file);
    const where = `dag "${this.id}"`;
    if (!ID_PATTERN.test(this.id)) {
      issues.add('id', `${where}: id must be letters, digits, "_", "-" or "." (got ${JSON.stringify(o.id)})`, this.line);
    }
    const schedule = parseSchedule(o.schedule ?? null, o.timezone ?? 'UTC');
    if (typeof schedule === 'string') {
      // A problem inside the schedule names its sub-field (`.datasets …` → schedule.datasets).
      const sub = /^\.(\w+) /.exec(schedule)?.[1];
      issues.add(sub ? `schedule.${sub}` : 'schedule', `${where}: schedule${sub ? '' : ' '}${schedule}`, this.line);
    }
    if (o.description !== undefined && typeof o.description !== 'string') {
      issues.add('description', `${where}: description must be a string (got ${typeof o.description})`, this.line);
    }
    const timezone = o.timezone ?? 'UTC';
    if (!isTimeZone(timezone)) issues.add('timezone', `${where}: timezone "${timezone}" is not an IANA time zone`, this.line);
    const startDate = toIso(o.startDate, `${where}: startDate`, issues, this.line);
    const endDate = toIso(o.endDate, `${where}: endDate`, issues, this.line);
    if (startDate && endDate && endDate < startDate) {
      issues.add('endDate', `${where}: endDate must not be before startDate`, this.line);
    }
    if (schedule && typeof schedule !== 'string' && schedule.kind !== 'datasets' && !startDate) {
      issues.add('startDate', `${where}: a scheduled DAG needs a startDate`, this.line);
    }
    const maxActiveRuns = positiveInt(o.maxActiveRuns ?? 16, `${where}: maxActiveRuns`, issues, this.line);
    const maxActiveTasks = positiveInt(o.maxActiveTasks ?? 16, `${where}: maxActiveTasks`, issues, this.line);
    const defaults = resolveArgs(DEFAULT_ARGS, o.defaultArgs ?? {}, `${where}: defaultArgs`, issues, this.line);
    const params = resolveParams(o.params ?? {}, `${where}: params`, issues, this.line);
    const deadlineMs = optionalDuration(o.deadline, 'deadline', where, issues, this.line);
    const dagrunTimeoutMs = optionalDuration(o.dagrunTimeout, 'dagrunTimeout', where, issues, this.line);
    const defaultSlaMs = optionalDuration(o.defaultArgs?.sla, 'sla', `${where}: defaultArgs`, issues, this.line);
    const dagCallbacks: Partial<Record<DagCallbackSlot, CallbackRef>> = {};
    for (const slot of DAG_CALLBACK_SLOTS) {
      if (isCallback(o[slot], slot, where, issues, this.line)) dagCallbacks[slot] = dagCallbackRef(slot);
    }
    for (const slot of TASK_CALLBACK_SLOTS) isCallback(o.defaultArgs?.[slot], slot, `${where}: defaultArgs`, issues, this.line);

    for (const p of unknownFields(o, DAG_FIELDS, 'a DAG option')) issues.add(p.field, `${where}: ${p.message}`, this.line);
    for (const p of unknownFields(o.defaultArgs, TASK_ARG_FIELDS, 'a task argument', 'defaultArgs.')) issues.add(p.field, `${where}: ${p.message}`, this.line);
    for (const g of this.#declProblems) issues.add(g.field, `${where}${g.scope ? `, ${g.scope}` : ''}: ${g.message}`, g.line);
    for (const dup of this.#duplicates) {
      issues.add('id', `${where}: task id "${dup.id}" is declared twice`, dup.line);
    }
    for (const d of this.#danglingUpstreams) {
      issues.add('upstream', `${where}, task "${d.task}": upstream "${d.upstream}" is not a task of this DAG`, d.line);
    }
    const upstreams = new Map<string, Set<string>>();
    for (const id of this.#tasks.keys()) upstreams.set(id, new Set());
    for (const [id, t] of this.#tasks) {
      for (const down of t.downstream) {
        if (!this.#tasks.has(down)) {
          issues.add('downstream', `${where}, task "${id}": downstream "${down}" is not a task of this DAG`, t.line);
        } else {
          upstreams.get(down)!.add(id);
        }
      }
    }
    const tasks: SerializedTask[] = [];
    for (const [id, t] of this.#tasks) {
      const at = `${where}, task "${id}"`;
      if (!ID_PATTERN.test(id)) issues.add('id', `${at}: id must be letters, digits, "_", "-" or "."`, t.line);
      const args = resolveArgs(defaults, t.options, at, issues, t.line);
      const role = setupTeardown(t, at, issues, this.#tasks);
      const triggerRule = (role.teardown ? 'all_done_setup_success' : (t.options.triggerRule ?? 'all_success')) as TriggerRule;
      if (!TRIGGER_RULES.includes(triggerRule)) {
        issues.add('triggerRule', `${at}: triggerRule must be one of ${TRIGGER_RULES.join(', ')} (got ${JSON.stringify(triggerRule)})`, t.line);
      }
      const task: SerializedTask = {
        id,
        kind: t.kind,
        ...args,
        upstream: [...upstreams.get(id)!].sort(),
        downstream: [...t.downstream].sort(),
        triggerRule,
        line: t.line,
        hasFunction: this.#functions.has(id),
        ...(t.group ? { group: t.group } : {}),
        ...role,
      };
      Object.assign(task, mapping(t, upstreams.get(id)!, at, issues, settings.maxMapLength ?? DEFAULT_MAX_MAP_LENGTH));
      // defaultArgs were checked once above; here only what the task (or its group) sets.
      const slaMs = t.options.sla !== undefined ? optionalDuration(t.options.sla, 'sla', at, issues, t.line) : defaultSlaMs;
      if (slaMs !== undefined) task.slaMs = slaMs;
      const callbacks: Partial<Record<TaskCallbackSlot, CallbackRef>> = {};
      for (const slot of TASK_CALLBACK_SLOTS) {
        const own = t.options[slot];
        const has = own !== undefined ? isCallback(own, slot, at, issues, t.line) : typeof o.defaultArgs?.[slot] === 'function';
        if (has) callbacks[slot] = taskCallbackRef(id, slot);
      }
      // As in Airflow, the DAG's onSlaMiss hears about task SLA misses too.
      if (slaMs !== undefined && !callbacks.onSlaMiss && dagCallbacks.onSlaMiss) callbacks.onSlaMiss = dagCallbacks.onSlaMiss;
      if (Object.keys(callbacks).length > 0) task.callbacks = callbacks;
      if (t.kind === 'command') {
        task.command = commandSpec(t.options, at, issues, t.line);
        // In its own pod, the command and its env reach the pod spec: only references may name secrets.
        if (task.runInPod && task.command) podSecretsProblems(task.command.env, { command: task.command.command }, at, issues, t.line);
      }
      if (t.kind === 'kubernetesPod') task.pod = validatePodOptions(t.options, at, issues, t.line, this.file);
      if (t.kind === 'triggerDagRun') task.trigger = validateTriggerDagRunOptions(t.options, at, issues, t.line);
      if (t.kind === 'sensor') task.sensor = validateSensorOptions(t.options, at, issues, t.line);
      if (t.options.outlets !== undefined) {
        const problem = datasetListProblem(t.options.outlets);
        if (problem) issues.add('outlets', `${at}: outlets ${problem}`, t.line);
        else task.outlets = [...t.options.outlets];
      }
      if (['fn', 'branch', 'shortCircuit'].includes(t.kind) && typeof t.options['run'] !== 'function') {
        issues.add('run', `${at}: run must be a function`, t.line);
      }
      tasks.push(task);
    }
    const cycle = findCycle(tasks);
    if (cycle) issues.add('upstream', `${where}: cycle ${describeCycle(cycle)}`, this.#tasks.get(cycle[0]!)?.line);
    if (tasks.length === 0) issues.add('tasks', `${where}: has no tasks`, this.line);
    issues.throwIfAny();

    const body = {
      id: this.id,
      description: o.description ?? '',
      fileloc: this.file ?? '',
      line: this.line,
      schedule: schedule as SerializedDag['schedule'],
      timezone,
      startDate: startDate ?? null,
      endDate: endDate ?? null,
      catchup: o.catchup ?? false,
      maxActiveRuns,
      maxActiveTasks,
      tags: [...(o.tags ?? [])],
      params,
      tasks,
      ...(this.#groups.size
        ? {
            groups: [...this.#groups.values()].map(({ group, line }) => ({
              id: group.id,
              parent: group.parent?.id ?? null,
              ...(group.tooltip ? { tooltip: group.tooltip } : {}),
              ...(group.mapped?.id === group.id ? { mapped: true as const } : {}),
              line,
            })),
          }
        : {}),
      ...(deadlineMs !== undefined ? { deadlineMs } : {}),
      ...(dagrunTimeoutMs !== undefined ? { dagrunTimeoutMs } : {}),
      ...(Object.keys(dagCallbacks).length > 0 ? { callbacks: dagCallbacks } : {}),
      ...(Object.keys(dagCallbacks).length > 0 || tasks.some((t) => t.callbacks?.onSlaMiss) ? { callbackQueue: defaults.queue } : {}),
    };
    const version = createHash('sha256')
      .update(storedJson(body, where, this.file, this.line))
      .digest('hex')
      .slice(0, 16);
    return { ...body, version };
  }
}

/** Declares a DAG. Export it (or just call this) from a file in the DAG folder. */
export function dag<P extends Record<string, unknown> = Record<string, unknown>>(options: DagOptions<P>): Dag<P> {
  return new Dag<P>(options);
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function toIso(v: string | Date | undefined, what: string, issues: ValidationIssues, line?: number): string | undefined {
  if (v === undefined) return undefined;
  const d = v instanceof Date ? v : new Date(v);
  if (Number.isNaN(d.getTime())) {
    issues.add(what.split(': ').pop() ?? 'date', `${what} is not a date (got ${JSON.stringify(v)})`, line);
    return undefined;
  }
  return d.toISOString();
}

function optionalDuration(v: Duration | undefined, field: string, at: string, issues: ValidationIssues, line?: number): number | undefined {
  if (v === undefined) return undefined;
  const ms = parseDuration(v);
  if (typeof ms === 'string') {
    issues.add(field, `${at}: ${field} ${ms}`, line);
    return undefined;
  }
  return ms;
}

/** True for a function; an error naming the field for anything else but undefined. */
function isCallback(v: unknown, field: string, at: string, issues: ValidationIssues, line?: number): v is Callback {
  if (v === undefined) return false;
  if (typeof v === 'function') return true;
  issues.add(field, `${at}: ${field} must be a function (got ${v === null ? 'null' : typeof v})`, line);
  return false;
}

function positiveInt(v: unknown, what: string, issues: ValidationIssues, line?: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    issues.add(what.split(': ').pop()!, `${what} must be a whole number ≥ 1 (got ${JSON.stringify(v)})`, line);
    return 1;
  }
  return v;
}

function resolveArgs(base: TaskArgs, input: TaskArgsInput, at: string, issues: ValidationIssues, line?: number): TaskArgs {
  const out = { ...base };
  const dur = (field: keyof TaskArgsInput, v: Duration | undefined) => optionalDuration(v, field, at, issues, line);
  if (input.owner !== undefined) out.owner = String(input.owner);
  if (input.retries !== undefined) {
    if (!Number.isInteger(input.retries) || input.retries < 0) {
      issues.add('retries', `${at}: retries must be ≥ 0 (got ${JSON.stringify(input.retries)})`, line);
    } else out.retries = input.retries;
  }
  out.retryDelayMs = dur('retryDelay', input.retryDelay) ?? out.retryDelayMs;
  out.maxRetryDelayMs = dur('maxRetryDelay', input.maxRetryDelay) ?? out.maxRetryDelayMs;
  if (input.retryExponentialBackoff !== undefined) out.retryExponentialBackoff = Boolean(input.retryExponentialBackoff);
  if (input.executionTimeout === null) out.executionTimeoutMs = null;
  else out.executionTimeoutMs = dur('executionTimeout', input.executionTimeout) ?? out.executionTimeoutMs;
  if (input.queue !== undefined) {
    if (typeof input.queue !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(input.queue)) {
      issues.add('queue', `${at}: queue must be letters, digits, "_" or "-" (got ${JSON.stringify(input.queue)})`, line);
    } else out.queue = input.queue;
  }
  if (input.priority !== undefined) {
    if (!Number.isInteger(input.priority) || input.priority < 1 || input.priority > 1_000_000) {
      issues.add('priority', `${at}: priority must be a whole number from 1 to 1000000 (got ${JSON.stringify(input.priority)})`, line);
    } else out.priority = input.priority;
  }
  if (input.dependsOnPast !== undefined) out.dependsOnPast = Boolean(input.dependsOnPast);
  if (input.pool !== undefined) {
    if (typeof input.pool !== 'string' || !POOL_NAME.test(input.pool)) {
      issues.add('pool', `${at}: pool must be letters, digits, "_", "-" or "." (got ${JSON.stringify(input.pool)})`, line);
    } else out.pool = input.pool === DEFAULT_POOL ? null : input.pool;
  }
  if (input.poolSlots !== undefined) {
    if (!Number.isInteger(input.poolSlots) || input.poolSlots < 1) {
      issues.add('poolSlots', `${at}: poolSlots must be a whole number ≥ 1 (got ${JSON.stringify(input.poolSlots)})`, line);
    } else out.poolSlots = input.poolSlots;
  }
  if (input.runInPod !== undefined) out.runInPod = runInPodOf(input.runInPod, at, issues, line);
  if (input.retryPolicy !== undefined) {
    const problems = retryPolicyProblems(input.retryPolicy);
    for (const p of problems) issues.add(p.field, `${at}: ${p.field} ${p.message}`, line);
    if (problems.length === 0) out.retryPolicy = input.retryPolicy;
  }
  if (input.waitForDownstream !== undefined) {
    if (input.waitForDownstream) {
      out.waitForDownstream = true;
      out.dependsOnPast = true;
    } else delete out.waitForDownstream;
  }
  if (input.weightRule !== undefined) {
    if (!(WEIGHT_RULES as readonly unknown[]).includes(input.weightRule)) {
      issues.add('weightRule', `${at}: weightRule must be one of ${WEIGHT_RULES.join(', ')} (got ${JSON.stringify(input.weightRule)})`, line);
    } else out.weightRule = input.weightRule;
  }
  for (const field of ['maxActiveTisPerDag', 'maxActiveTisPerDagrun'] as const) {
    const v = input[field];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 1) issues.add(field, `${at}: ${field} must be a whole number ≥ 1 (got ${JSON.stringify(v)})`, line);
    else out[field] = v;
  }
  return out;
}

function runInPodOf(v: unknown, at: string, issues: ValidationIssues, line?: number): RunInPod | null {
  if (v === false || v === null) return null;
  if (v === true) return {};
  if (typeof v !== 'object' || Array.isArray(v)) {
    issues.add('runInPod', `${at}: runInPod must be true, false or an object of pod overrides`, line);
    return null;
  }
  const o = v as Record<string, unknown>;
  for (const p of unknownFields(o, RUN_IN_POD_FIELDS, `a pod override (${Object.keys(RUN_IN_POD_FIELDS).join(', ')})`, 'runInPod.'))
    issues.add(p.field, `${at}: ${p.message}`, line);
  // The overrides are pod parameters: the same checks, with the field named under runInPod.
  const { connections, variables, ...pod } = o;
  runInPodSecrets(connections, variables, at, issues, line);
  const sub = new ValidationIssues(undefined);
  validatePodOptions({ image: 'task-image', ...pod }, `${at}: runInPod`, sub, line);
  for (const i of sub.list()) issues.add(`runInPod.${i.field}`, i.message, line);
  return o as RunInPod;
}

/** runInPod.connections and runInPod.variables: ids whose Secrets (aloft-conn-<name>, aloft-variables) can reach the pod. */
function runInPodSecrets(connections: unknown, variables: unknown, at: string, issues: ValidationIssues, line?: number): void {
  for (const [field, v, kind] of [
    ['connections', connections, 'connection'],
    ['variables', variables, 'variable'],
  ] as const) {
    if (v === undefined) continue;
    if (!Array.isArray(v)) {
      issues.add(`runInPod.${field}`, `${at}: runInPod.${field} must be a list of ${kind} ids`, line);
      continue;
    }
    v.forEach((id: unknown, i) => {
      const f = `runInPod.${field}[${i}]`;
      if (typeof id !== 'string' || !SECRET_ID.test(id))
        return issues.add(f, `${at}: ${f} is not a ${kind} id (1–250 letters, digits, "_", "-" or "."): ${JSON.stringify(id)}`, line);
      if (kind === 'connection') {
        const s = connSecretName(id);
        if ('problem' in s) issues.add(f, `${at}: ${f}: ${s.problem}`, line);
      }
    });
  }
}

function resolveParams(input: Record<string, ParamInput>, at: string, issues: ValidationIssues, line?: number): Record<string, ParamSpec> {
  const out: Record<string, ParamSpec> = {};
  for (const [name, v] of Object.entries(input)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && 'type' in v && 'default' in v) {
      if (!['string', 'number', 'boolean', 'object', 'array'].includes(v.type)) {
        issues.add('params', `${at}.${name}: type must be string, number, boolean, object or array`, line);
        continue;
      }
      if (!isJson(v.default, `${at}.${name}`, issues, line)) continue;
      out[name] = { type: v.type, default: v.default, description: v.description };
    } else {
      const type = Array.isArray(v) ? 'array' : v === null ? 'object' : (typeof v as ParamSpec['type']);
      if (!['string', 'number', 'boolean', 'object', 'array'].includes(type)) {
        issues.add('params', `${at}.${name}: default must be JSON (got ${typeof v})`, line);
        continue;
      }
      if (!isJson(v, `${at}.${name}`, issues, line)) continue;
      out[name] = { type, default: v };
    }
  }
  return out;
}

/** A param default must survive JSON (no cycle, no BigInt, not nested past the stack). */
function isJson(v: unknown, at: string, issues: ValidationIssues, line?: number): boolean {
  try {
    JSON.stringify(v);
    return true;
  } catch (err) {
    issues.add('params', `${at}: default must be JSON (${(err as Error).message})`, line);
    return false;
  }
}

/**
 * The stored form as JSON, for the version hash; a value that JSON cannot hold and that no
 * check above caught (a tag nested past the stack) is a DagImportError naming its field.
 */
function storedJson(body: Record<string, unknown>, where: string, file: string | undefined, line: number | undefined): string {
  try {
    return JSON.stringify(body);
  } catch (err) {
    const field = Object.keys(body).find((k) => {
      try {
        JSON.stringify(body[k]);
        return false;
      } catch {
        return true;
      }
    });
    throw new DagImportError({ file, line, field, message: `${where}: ${field ?? 'the DAG'} cannot be stored as JSON (${(err as Error).message})` });
  }
}

/**
 * The `upstream` option's tasks and groups; anything else (a task's id as a string, a plain
 * object) is reported with its index and left out, so one mistake gives one message.
 */
function checkUpstream(v: unknown, problem: (field: string, message: string) => void): Targets {
  const isTarget = (x: unknown): x is TaskRef<unknown> | GroupRef => x instanceof TaskRef || isGroup(x);
  const explain = (field: string, x: unknown): void => {
    if (typeof x === 'string') {
      const name = /^[A-Za-z_$][\w$]*$/.test(x) ? x : 'task';
      problem(
        'upstream',
        `${field} is the string ${JSON.stringify(x)}: pass the task itself (const ${name} = d.command({ id: '${x.replaceAll("'", "\\'")}', … }), then upstream: [${name}])`,
      );
    } else problem('upstream', `${field} is not a task or a task group (got ${shown(x)})`);
  };
  if (v === undefined || v === null) return [];
  if (v instanceof TaskList || isTarget(v)) return v;
  if (!Array.isArray(v)) {
    explain('upstream', v);
    return [];
  }
  const ok: (TaskRef<unknown> | GroupRef)[] = [];
  v.forEach((x: unknown, i) => (isTarget(x) ? ok.push(x) : explain(`upstream[${i}]`, x)));
  return ok;
}

/** A value in a message: short, and never throwing. */
function shown(v: unknown): string {
  if (typeof v === 'function') return 'a function';
  if (typeof v !== 'object' || v === null) return typeof v === 'string' ? JSON.stringify(v) : String(v);
  try {
    const json = JSON.stringify(v);
    if (json !== undefined) return json.length > 80 ? `${json.slice(0, 80)}…` : json;
  } catch {
    // A cycle, or a toJSON that throws.
  }
  return 'an object';
}

/** Upstream tasks an `expand` option maps over: they become upstreams of the task. */
/**
 * A task's `setup` and `teardown` options in their stored form. A teardown's trigger rule is
 * all_done_setup_success (naming another is an error, as in Airflow), and the setups it
 * names must be setup tasks.
 */
function setupTeardown(
  t: DeclaredTask,
  at: string,
  issues: ValidationIssues,
  tasks: ReadonlyMap<string, DeclaredTask>,
): Pick<SerializedTask, 'setup' | 'teardown'> {
  const { setup, teardown, triggerRule } = t.options;
  if (setup !== undefined && typeof setup !== 'boolean') issues.add('setup', `${at}: setup must be true or false (got ${JSON.stringify(setup)})`, t.line);
  const td = teardown as unknown;
  if (td !== undefined && typeof td !== 'boolean' && (td === null || typeof td !== 'object' || Array.isArray(td))) {
    issues.add('teardown', `${at}: teardown must be true, false or { setups, failRun } (got ${JSON.stringify(td)})`, t.line);
    return {};
  }
  if (setup === true && teardown) issues.add('teardown', `${at}: a task is a setup or a teardown, not both`, t.line);
  if (setup === true) return { setup: true };
  if (!teardown) return {};
  if (triggerRule !== undefined && triggerRule !== 'all_done_setup_success')
    issues.add('triggerRule', `${at}: a teardown's trigger rule is all_done_setup_success (got ${JSON.stringify(triggerRule)})`, t.line);
  const o = typeof teardown === 'object' ? teardown : {};
  for (const k of Object.keys(o))
    if (k !== 'setups' && k !== 'failRun') issues.add(`teardown.${k}`, `${at}: teardown.${k} is not an option of a teardown (setups, failRun)`, t.line);
  for (const s of o.setups ?? []) {
    const named = s instanceof TaskRef ? tasks.get(s.id) : undefined;
    if (!named || named.options.setup !== true)
      issues.add('teardown.setups', `${at}: teardown.setups names "${String((s as { id?: unknown })?.id)}", which is not a setup task (setup: true)`, t.line);
  }
  if (o.failRun !== undefined && typeof o.failRun !== 'boolean') issues.add('teardown.failRun', `${at}: teardown.failRun must be true or false`, t.line);
  return { teardown: { failRun: o.failRun === true } };
}

/** The setups a teardown names (`teardown: { setups }`): they become its upstreams. */
function teardownSetups(options: BaseTaskOptions | undefined): TaskRef<unknown>[] {
  const td = options?.teardown;
  if (td === null || typeof td !== 'object' || !Array.isArray(td.setups)) return [];
  return td.setups.filter((v): v is TaskRef<unknown> => v instanceof TaskRef);
}

function expandSources(options: BaseTaskOptions | undefined): TaskRef<unknown>[] {
  const expand = (options as MappableOptions | undefined)?.expand;
  if (expand === null || typeof expand !== 'object') return [];
  return Object.values(expand).filter((v): v is TaskRef<unknown> => v instanceof TaskRef);
}

const MAPPABLE: readonly TaskKind[] = ['command', 'fn', 'kubernetesPod', 'sensor'];
const ARG_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The `args`, `expand` and `maxMapLength` options, checked and in their stored form. */
function mapping(t: DeclaredTask, upstream: Set<string>, at: string, issues: ValidationIssues, defaultMaxLength: number): Pick<SerializedTask, 'args' | 'map'> {
  const o = t.options as MappableOptions;
  const out: Pick<SerializedTask, 'args' | 'map'> = {};
  const names = (field: string, v: unknown): v is Record<string, unknown> => {
    if (v === undefined) return false;
    if (!MAPPABLE.includes(t.kind)) {
      issues.add(field, `${at}: ${field} is for command, fn, kubernetesPod and sensor tasks, not ${t.kind}`, t.line);
      return false;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof TaskRef) {
      issues.add(field, `${at}: ${field} must be an object of named arguments`, t.line);
      return false;
    }
    for (const k of Object.keys(v)) {
      if (!ARG_NAME.test(k))
        issues.add(`${field}.${k}`, `${at}: argument name ${JSON.stringify(k)} must be letters, digits and "_", not starting with a digit`, t.line);
    }
    return true;
  };
  if (names('args', o.args)) {
    try {
      out.args = JSON.parse(JSON.stringify(o.args)) as Record<string, unknown>;
    } catch (err) {
      issues.add('args', `${at}: args must be JSON values (${(err as Error).message})`, t.line);
    }
  }
  if (o.maxMapLength !== undefined && o.expand === undefined) issues.add('maxMapLength', `${at}: maxMapLength needs expand`, t.line);
  if (!names('expand', o.expand)) return out;
  const over: MappedArg[] = [];
  for (const [arg, v] of Object.entries(o.expand)) {
    if (out.args && arg in out.args) issues.add(`expand.${arg}`, `${at}: "${arg}" is both a fixed and a mapped argument`, t.line);
    if (v instanceof TaskRef) {
      if (upstream.has(v.id)) over.push({ arg, upstream: v.id });
    } else if (Array.isArray(v)) {
      try {
        over.push({ arg, values: JSON.parse(JSON.stringify(v)) as unknown[] });
      } catch (err) {
        issues.add(`expand.${arg}`, `${at}: expand.${arg} must hold JSON values (${(err as Error).message})`, t.line);
      }
    } else {
      issues.add(`expand.${arg}`, `${at}: expand.${arg} must be a list or an upstream task whose output is a list (got ${typeof v})`, t.line);
    }
  }
  if (Object.keys(o.expand).length === 0) issues.add('expand', `${at}: expand needs at least one argument`, t.line);
  const maxLength = o.maxMapLength ?? defaultMaxLength;
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    const from = o.maxMapLength === undefined ? 'ALOFT_MAX_MAP_LENGTH' : 'maxMapLength';
    issues.add('maxMapLength', `${at}: ${from} must be a whole number ≥ 1 (got ${JSON.stringify(maxLength)})`, t.line);
  }
  out.map = { over, maxLength, ...(t.mapGroup ? { group: t.mapGroup } : {}) };
  return out;
}

function commandSpec(o: Record<string, unknown>, at: string, issues: ValidationIssues, line?: number): SerializedTask['command'] {
  const command = o['command'];
  const okCommand =
    (typeof command === 'string' && command.trim() !== '') || (Array.isArray(command) && command.length > 0 && command.every((c) => typeof c === 'string'));
  if (!okCommand) issues.add('command', `${at}: command must be a non-empty string or array of strings`, line);
  const env = (o['env'] ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(env)) {
    if (typeof v !== 'string') issues.add('env', `${at}: env.${k} must be a string`, line);
  }
  const skipExitCode = o['skipExitCode'] ?? 99;
  if (typeof skipExitCode !== 'number' || !Number.isInteger(skipExitCode) || skipExitCode < 1 || skipExitCode > 255) {
    issues.add('skipExitCode', `${at}: skipExitCode must be 1..255 (got ${JSON.stringify(skipExitCode)})`, line);
  }
  return {
    command: command as string | string[],
    env: env as Record<string, string>,
    cwd: typeof o['cwd'] === 'string' ? o['cwd'] : undefined,
    skipExitCode: skipExitCode as number,
  };
}

/**
 * A cycle as task ids, first id repeated at the end, or undefined. Depth-first with an
 * explicit stack, not recursion: a 10,000-task chain is as deep as the graph gets
 * (packages/core/test/deep-chain.test.ts).
 */
function findCycle(tasks: SerializedTask[]): string[] | undefined {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const color = new Map<string, 1 | 2>();
  for (const root of tasks) {
    if (color.has(root.id)) continue;
    // The path from `root`, each with how many of its downstreams were looked at.
    const path: { id: string; next: number }[] = [{ id: root.id, next: 0 }];
    color.set(root.id, 1);
    while (path.length > 0) {
      const top = path[path.length - 1]!;
      const down = byId.get(top.id)?.downstream ?? [];
      if (top.next >= down.length) {
        color.set(top.id, 2);
        path.pop();
        continue;
      }
      const d = down[top.next++]!;
      const c = color.get(d);
      if (c === 1) return [...path.slice(path.findIndex((p) => p.id === d)).map((p) => p.id), d];
      if (c === undefined) {
        color.set(d, 1);
        path.push({ id: d, next: 0 });
      }
    }
  }
  return undefined;
}

/** `a → b → a`; a long cycle shows its first and last tasks and its length. */
function describeCycle(cycle: string[]): string {
  const tasks = cycle.length - 1;
  if (tasks <= 8) return cycle.join(' → ');
  return `${[...cycle.slice(0, 4), '…', ...cycle.slice(-3)].join(' → ')} (${tasks} tasks)`;
}
