import { z } from 'zod';
import { RUN_TYPES, TASK_STATES } from '@aloft/core';
import { TASK_REGEX_MAX_LENGTH } from '../task-regex.js';

/** The request bodies and queries of the REST API (/api/v1), which the OpenAPI document describes too. */

const Page = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(25),
  offset: z.coerce.number().int().min(0).default(0),
});
const RunFilter = Page.extend({
  state: z.enum(['queued', 'running', 'success', 'failed']).optional(),
  runType: z.enum(RUN_TYPES).optional(),
});
const GridQuery = z.object({
  limit: z.coerce.number().int().min(1).max(365).default(25),
  offset: z.coerce.number().int().min(0).default(0),
});
const Retry = {
  retries: z.number().int().min(0).max(100).optional(),
  retryDelayMs: z.number().int().min(0).max(86_400_000).optional(),
  executionTimeoutMs: z.number().int().min(1).optional(),
  queue: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,100}$/, 'letters, digits and _ . - only')
    .optional(),
  taskId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,100}$/, 'letters, digits, _ or - only')
    .optional(),
};
const Job = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('command'),
    command: z.union([z.string().min(1), z.array(z.string()).min(1)]),
    env: z.record(z.string(), z.string()).optional(),
    cwd: z.string().optional(),
    ...Retry,
  }),
  z.object({
    kind: z.literal('kubernetesPod'),
    image: z.string().min(1),
    namespace: z.string().optional(),
    cmds: z.array(z.string()).optional(),
    arguments: z.array(z.string()).optional(),
    env: z.record(z.string(), z.string()).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    resources: z.object({ requests: z.record(z.string(), z.string()).optional(), limits: z.record(z.string(), z.string()).optional() }).optional(),
    startupTimeout: z.union([z.string(), z.number()]).optional(),
    ...Retry,
  }),
]);
/** Which instance of a task: −1 (the default) is an unmapped task, or a mapped task as a whole. */
const mapIndex = z.coerce.number().int().min(-1).default(-1);
const Instance = z.object({ mapIndex });
const Follow = z.object({
  try: z.coerce.number().int().min(1).optional(),
  from: z.coerce.number().int().min(0).default(0),
  mapIndex,
});
const Watch = z.object({
  dagId: z.string().optional(),
  runId: z.string().optional(),
  types: z
    .string()
    .regex(/^(run|ti|dag)(,(run|ti|dag))*$/, 'a comma-separated list of run, ti, dag')
    .optional(),
});
const Trigger = z.object({
  conf: z.record(z.string(), z.unknown()).default({}),
  runId: z
    .string()
    .regex(/^[A-Za-z0-9_.:+-]{1,250}$/, 'letters, digits and _ . : + - only')
    .optional(),
  logicalDate: z.iso.datetime({ offset: true }).optional(),
});
const Pause = z.object({ paused: z.boolean() });
const Backfill = z.object({
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }),
  rerun: z.boolean().default(false),
  conf: z.record(z.string(), z.unknown()).default({}),
});
const ClearRange = z.object({
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }),
  taskRegex: z.string().max(TASK_REGEX_MAX_LENGTH).optional(),
  downstream: z.boolean().default(false),
  failedOnly: z.boolean().default(false),
});
const Clear = z.object({ downstream: z.boolean().default(false) });
const Mark = z.object({ state: z.enum(['success', 'failed', 'skipped']), mapIndex: z.number().int().min(-1).default(-1) });
const LogQuery = z.object({
  try: z.coerce.number().int().min(1).optional(),
  from: z.coerce.number().int().min(0).default(0),
  count: z.coerce.number().int().min(1).max(10_000).default(1000),
  mapIndex,
});
const InstanceQuery = Page.extend({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  state: z.enum(TASK_STATES).optional(),
});

const PoolSet = z.object({ slots: z.number().int().min(0).max(1_000_000), description: z.string().max(500).default('') });
export const API_SCHEMAS = {
  Backfill,
  ClearRange,
  Page,
  RunFilter,
  GridQuery,
  Trigger,
  Pause,
  Clear,
  Mark,
  LogQuery,
  Job,
  Follow,
  Watch,
  Instance,
  InstanceQuery,
  PoolSet,
};
