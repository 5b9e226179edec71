import { checkConf, manualRunId, userCodeIdentity, type SerializedDag } from '@aloft/core';
import { dryRunTask, type RenderedTask } from '@aloft/worker/task-render';
import { InvalidConfError, UnknownTaskError } from './errors.js';
import { dateOf, interval } from './test-dag.js';
import type { Testbed } from './testbed.js';

export type { RenderedTask };

export interface RenderTaskOptions {
  /** The run's logical date (default: now). */
  date?: Date | string | undefined;
  conf?: Record<string, unknown> | undefined;
  /** Upstream outputs the templates see, by task id (default none). */
  upstream?: Record<string, unknown> | undefined;
}

/**
 * What the worker would start for the task's first try in a run of this date and conf
 * (`aloft tasks render`): the rendered command, the names of its variables, and for a pod
 * task the pod, built by the worker's own code and never created. The worker's settings
 * (task pod image and namespace, template limits, secrets backends) come from the testbed's
 * environment.
 */
export async function renderTaskOf(bed: Testbed, dag: SerializedDag, taskId: string, o: RenderTaskOptions = {}): Promise<RenderedTask> {
  const ids = dag.tasks.map((t) => t.id);
  if (!ids.includes(taskId)) throw new UnknownTaskError(dag.id, taskId, ids);
  const conf = o.conf ?? {};
  const problems = checkConf(dag.params, conf);
  if (problems.length) throw new InvalidConfError(dag.id, problems);
  const { start, end } = interval(dag, dateOf(o.date));
  const config = bed.workerConfig();
  return dryRunTask({
    dag,
    taskId,
    run: { runId: manualRunId(start, 'test'), logicalDate: start, dataIntervalStart: start, dataIntervalEnd: end, conf },
    outputs: o.upstream ?? {},
    secrets: bed.secrets(config),
    templates: config.templates,
    env: bed.env,
    logger: bed.logger,
    identity: userCodeIdentity(config.userCodeUser),
    taskPods: config.taskPods,
    dagsFolder: bed.folder,
  });
}
