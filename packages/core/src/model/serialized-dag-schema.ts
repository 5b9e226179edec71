import { z } from 'zod';
import { DAG_CALLBACK_SLOTS, parseCallbackRef, TASK_CALLBACK_SLOTS, type CallbackRef } from './callbacks.js';
import { WEIGHT_RULES, type RunInPod, type SerializedDag } from './dag.js';
import type { PodParams } from './pod-params.js';
import { ID_PATTERN, POOL_NAME } from './ids.js';
import { TRIGGER_RULES } from './trigger-rules.js';

/**
 * A serialized DAG as it arrives from somewhere Aloft does not trust (a parse child, which
 * runs the DAG file's code): its shape, the id rules the DAG API enforces, and size caps.
 * What needs the whole graph (edges that match, no cycle, a valid cron) is checked by the
 * caller. Unknown fields are refused; `SameShape` below keeps this schema and `SerializedDag`
 * in step at compile time.
 */

/** Tasks one DAG may have: far above any real DAG, low enough that one cannot fill Redis. */
export const MAX_TASKS_PER_DAG = 20_000;
/** DAGs one file may declare. */
export const MAX_DAGS_PER_FILE = 1_000;

const ID_RULE = 'must be letters, digits, "_", "-" or "." (1 to 250 characters)';
const id = z.string().regex(ID_PATTERN, ID_RULE);
const GROUP_ID = /^[A-Za-z0-9_-]{1,100}(\.[A-Za-z0-9_-]{1,100})*$/;
const QUEUE = /^[A-Za-z0-9_-]{1,64}$/;
const ms = z.number().int().min(0);
const text = (max: number) => z.string().max(max);
const isoDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO date');
const json = z.record(z.string(), z.unknown());
/** Pod overrides: checked field by field by the DAG API and again where the pod is built. */
const runInPod = z.custom<RunInPod>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'must be an object of pod overrides');
const callbackRef = z.custom<CallbackRef>(
  (v) => typeof v === 'string' && parseCallbackRef(v) !== undefined,
  'must be a callback reference (task:<id>:<slot> or dag:<slot>)',
);
const slots = <S extends readonly string[]>(names: S) => z.partialRecord(z.enum(names), callbackRef);

const schedule = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('cron'), expression: text(200) }),
    z.strictObject({ kind: z.literal('interval'), everyMs: z.number().int().min(1000) }),
    z.strictObject({ kind: z.literal('datasets'), uris: z.array(text(1000)).min(1).max(1000) }),
  ])
  .nullable();

const sensorCheck = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('fn') }),
  z.strictObject({ type: z.literal('file'), path: text(4096) }),
  z.strictObject({
    type: z.literal('http'),
    url: text(8192),
    method: text(16),
    headers: z.record(z.string(), z.string()),
    body: z.string().optional(),
    requestTimeoutMs: ms,
    hasResponseCheck: z.boolean(),
  }),
  z.strictObject({
    type: z.literal('externalTask'),
    externalDagId: id,
    externalTaskId: id.optional(),
    allowedStates: z.array(text(32)),
    failedStates: z.array(text(32)),
    executionDeltaMs: z.number().int(),
  }),
]);

const runState = z.enum(['success', 'failed']);

const task = z.strictObject({
  id,
  kind: z.enum(['empty', 'command', 'fn', 'branch', 'shortCircuit', 'kubernetesPod', 'triggerDagRun', 'sensor']),
  upstream: z.array(id),
  downstream: z.array(id),
  triggerRule: z.enum(TRIGGER_RULES),
  line: z.number().int().min(1).optional(),
  owner: text(200),
  retries: z.number().int().min(0),
  retryDelayMs: ms,
  retryExponentialBackoff: z.boolean(),
  maxRetryDelayMs: ms,
  executionTimeoutMs: ms.nullable(),
  queue: z.string().regex(QUEUE, 'must be letters, digits, "_" or "-" (1 to 64 characters)'),
  priority: z.number().int().min(1).max(1_000_000),
  dependsOnPast: z.boolean(),
  pool: z.string().regex(POOL_NAME, 'must be letters, digits, "_", "-" or "." (1 to 100 characters)').nullable(),
  poolSlots: z.number().int().min(1),
  waitForDownstream: z.literal(true).optional(),
  setup: z.literal(true).optional(),
  teardown: z.strictObject({ failRun: z.boolean() }).optional(),
  retryPolicy: z
    .strictObject({
      exitCodes: z.array(z.number().int().min(0).max(255)).optional(),
      errors: z.array(z.string().min(1).max(200)).optional(),
      expression: z.string().max(2000).optional(),
    })
    .optional(),
  weightRule: z.enum(WEIGHT_RULES).optional(),
  maxActiveTisPerDag: z.number().int().min(1).optional(),
  maxActiveTisPerDagrun: z.number().int().min(1).optional(),
  runInPod: runInPod.nullable(),
  command: z
    .strictObject({
      command: z.union([z.string().min(1), z.array(z.string()).min(1)]),
      env: z.record(z.string(), z.string()),
      cwd: z.string().optional(),
      skipExitCode: z.number().int().min(1).max(255),
    })
    .optional(),
  /** Checked field by field by the DAG API (validatePodOptions) and again where the pod is built. */
  pod: z.custom<PodParams>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'must be an object of pod parameters').optional(),
  args: json.optional(),
  map: z
    .strictObject({
      over: z.array(z.union([z.strictObject({ arg: text(200), values: z.array(z.unknown()) }), z.strictObject({ arg: text(200), upstream: id })])),
      maxLength: z.number().int().min(1),
      group: z.string().regex(GROUP_ID).optional(),
    })
    .optional(),
  group: z.string().regex(GROUP_ID, 'must be a task group id').max(250).optional(),
  hasFunction: z.boolean(),
  outlets: z.array(text(1000)).optional(),
  trigger: z
    .strictObject({
      dagId: id,
      conf: json,
      runId: z.string().optional(),
      waitForCompletion: z.boolean(),
      pokeIntervalMs: ms,
      allowedStates: z.array(runState),
      failedStates: z.array(runState),
    })
    .optional(),
  sensor: z
    .strictObject({
      check: sensorCheck,
      pokeIntervalMs: ms,
      timeoutMs: ms,
      mode: z.enum(['poke', 'reschedule']),
      exponentialBackoff: z.boolean(),
      maxWaitMs: ms.nullable(),
      softFail: z.boolean(),
    })
    .optional(),
  slaMs: ms.optional(),
  callbacks: slots(TASK_CALLBACK_SLOTS).optional(),
});

export const SERIALIZED_DAG = z
  .strictObject({
    id,
    description: text(65_536),
    fileloc: z.string(),
    line: z.number().int().min(1).optional(),
    schedule,
    timezone: text(100),
    startDate: isoDate.nullable(),
    endDate: isoDate.nullable(),
    catchup: z.boolean(),
    maxActiveRuns: z.number().int().min(1),
    maxActiveTasks: z.number().int().min(1),
    tags: z.array(text(200)).max(100),
    params: z.record(
      z.string(),
      z.strictObject({ type: z.enum(['string', 'number', 'boolean', 'object', 'array']), default: z.unknown(), description: z.string().optional() }),
    ),
    tasks: z.array(task).min(1).max(MAX_TASKS_PER_DAG, `must hold at most ${MAX_TASKS_PER_DAG} tasks`),
    groups: z
      .array(
        z.strictObject({
          id: z.string().regex(GROUP_ID, 'must be a task group id').max(250),
          parent: z.string().nullable(),
          mapped: z.literal(true).optional(),
          tooltip: z.string().optional(),
          line: z.number().int().min(1).optional(),
        }),
      )
      .optional(),
    deadlineMs: ms.optional(),
    dagrunTimeoutMs: ms.optional(),
    callbacks: slots(DAG_CALLBACK_SLOTS).optional(),
    callbackQueue: z.string().regex(QUEUE).optional(),
    version: z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 hex digits'),
  })
  .superRefine((d, ctx) => {
    const seen = new Set<string>();
    d.tasks.forEach((t, i) => {
      if (seen.has(t.id)) ctx.addIssue({ code: 'custom', path: ['tasks', i, 'id'], message: `task id "${t.id}" appears twice` });
      seen.add(t.id);
    });
  });

/** Same keys, and each assignable to the other: a field added on one side only fails `tsc`. */
type SameShape<A, B> = [keyof A] extends [keyof B]
  ? [keyof B] extends [keyof A]
    ? [A] extends [B]
      ? [B] extends [A]
        ? true
        : false
      : false
    : false
  : false;
type Parsed = z.infer<typeof SERIALIZED_DAG>;
const inStep: [SameShape<Parsed, SerializedDag>, SameShape<Parsed['tasks'][number], SerializedDag['tasks'][number]>] = [true, true];
void inStep;
