import type { SerializedDag, SerializedTask, TaskInstanceKey, TemplateInfo } from '@aloft/core';
import type { TaskTemplates } from '../template-renderer.js';
import type { ExecEnv, RunningTask } from './types.js';

/** One try of one task, claimed and prepared: what every executor starts from. */
export interface TaskRequest {
  dag: SerializedDag;
  task: SerializedTask;
  /** The try and its run: ids, dates, params, conf, arguments and upstream outputs. */
  info: TemplateInfo;
  key: TaskInstanceKey;
  /** Renders the task's templated fields against `info`. */
  templates: TaskTemplates;
}

/**
 * Starts the tries of one kind of task. The returned task carries its result and how to
 * stop it; a rejection (a template that does not render, say) fails the try, and a
 * rejection with a NonRetryableError fails it without a retry.
 */
export interface Executor {
  start(r: TaskRequest, env: ExecEnv): Promise<RunningTask>;
}

/**
 * The executor of every task kind. Built as an object of this type, so a kind added to
 * TaskKind without an executor does not compile (tsc -p apps/worker).
 */
export type ExecutorsByKind = { readonly [K in SerializedTask['kind']]: Executor };
