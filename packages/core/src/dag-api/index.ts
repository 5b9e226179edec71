export { dag, Dag, DEFAULT_MAX_MAP_LENGTH, type SerializeSettings, type TaskFunction } from './dag.js';
export { chain, TaskList, TaskRef, type GroupRef } from './task-ref.js';
export { TaskGroup, type TaskGroupOptions } from './task-group.js';
export type { SensorOutput } from './operators.js';
export { SkipSignal, type RunContext, type TaskContext, type TaskLogger, type VariableReader } from './context.js';
export type * from './options.js';
export { declaredByAnyCopy, takeDefinedDags, registerDag } from './registry.js';
export { setImportingFile } from './call-site.js';
export { importDagFile } from './loader.js';
export { attemptSignal } from './attempt-signal.js';
export {
  parseSchedule,
  datasetListProblem,
  dueIntervals,
  intervalsBetween,
  nextRunAt,
  manualDataInterval,
  describeSchedule,
  ds,
  type DataInterval,
  type DueInput,
  type ScheduleInput,
} from './schedule.js';
export {
  renderTemplate,
  renderArgs,
  isTemplate,
  isPlainLookup,
  templateContext,
  type RenderLimits,
  type TemplateInfo,
  type TemplateSecrets,
} from './templating.js';
export { MAX_TEMPLATE_RANGE } from './template-sandbox.js';
export type { Callback, CallbackContext } from './callback-context.js';
export { webhookNotifier, type WebhookNotifierOptions } from './webhook-notifier.js';
export { secret, type ConnectionRef } from './secret-refs.js';
