/**
 * `@aloft/testing`: run a DAG, or one of its tasks, in-process with the real engine, as a
 * team's own tests do (`testDag`, `testTask`) and as `aloft dags test` / `aloft tasks test` do.
 */
export { testDag, testTask, runDag, type DagOrFile, type TestDagOptions, type TestDagResult, type TestTaskOptions, type TestTaskResult } from './test-dag.js';
export { Testbed, type PodTarget, type TestbedOptions } from './testbed.js';
export { DagFileError, InvalidConfError, UnknownDagError, UnknownTaskError } from './errors.js';
export { renderTaskOf, type RenderedTask, type RenderTaskOptions } from './render-task.js';
