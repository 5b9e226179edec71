/**
 * `@aloft/core/dag`: what a DAG file imports. It holds the DAG API (dag(), operators, task
 * groups, chain, callbacks, webhookNotifier) and the types a DAG file names, and loads none
 * of the engine: no ioredis, BullMQ, pino or prom-client, so a DAG file costs its parse
 * process, function host and template process only the DAG API
 * (packages/core/test/dag-entry.test.ts lists what importing this module loads).
 * Everything here is the same module instance that `@aloft/core` re-exports, so DAGs declared
 * through either entry reach the same registry. The engine keeps importing `@aloft/core`.
 */
export { dag, Dag, type TaskFunction } from './dag-api/dag.js';
export { chain, TaskList, TaskRef, type GroupRef } from './dag-api/task-ref.js';
export { TaskGroup, type TaskGroupOptions } from './dag-api/task-group.js';
export type { SensorOutput } from './dag-api/operators.js';
export { SkipSignal, type RunContext, type TaskContext, type TaskLogger, type VariableReader } from './dag-api/context.js';
export type { Connection } from './secrets/connection.js';
export { secret, type ConnectionRef } from './dag-api/secret-refs.js';
export type * from './dag-api/options.js';
export type { Duration } from './dag-api/durations.js';
export type { RetryPolicy } from './model/retry-policy.js';
export type { ScheduleInput } from './dag-api/schedule.js';
export type { Callback, CallbackContext } from './dag-api/callback-context.js';
export { NonRetryableError } from './errors/non-retryable-error.js';
export { webhookNotifier, type WebhookNotifierOptions } from './dag-api/webhook-notifier.js';
export { TRIGGER_RULES, type TriggerRule } from './model/trigger-rules.js';
export { RUN_STATES, TASK_STATES, type RunState, type TaskState } from './model/states.js';
