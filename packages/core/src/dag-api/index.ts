export { dag, Dag, type TaskFunction } from './dag.js';
export { chain, TaskList, TaskRef } from './task-ref.js';
export { SkipSignal, type TaskContext, type TaskLogger } from './context.js';
export type * from './options.js';
export { takeDefinedDags, registerDag } from './registry.js';
export { setImportingFile } from './call-site.js';
export { importDagFile } from './loader.js';
export { parseSchedule, dueIntervals, nextRunAt, describeSchedule, ds, type DataInterval, type DueInput } from './schedule.js';
export { renderTemplate, renderArgs, templateContext, type TemplateInfo } from './templating.js';
