import { triggeredRunId, UNMAPPED, type AloftClient, type DagRun, type SerializedTask, type TemplateInfo } from '@aloft/core';
import { renderParts, type TaskTemplates } from '../template-renderer.js';
import type { Executor, TaskRequest } from './executor.js';
import type { ExecEnv, ExecResult, RunningTask } from './types.js';

export interface TriggerDagRunInput {
  /** Creates the run the way a manual trigger does (conf checked against the target's params). */
  client: AloftClient;
  task: SerializedTask;
  info: TemplateInfo;
  /** Renders the templated strings of conf and runId. */
  templates: TaskTemplates;
}

/**
 * A `triggerDagRun` task: starts a run of another DAG with a templated conf, and with
 * waitForCompletion follows it until it ends. The output is the started run's id. The run
 * id is fixed per try and the run records which try started it, so a try taken over after
 * its worker died adopts its run instead of starting a second one.
 */
export function runTriggerDagRun(input: TriggerDagRunInput, env: ExecEnv): RunningTask {
  const { client, task, info, templates } = input;
  const spec = task.trigger!;
  const where = `${info.dagId}.${task.id}`;
  let cancelled: string | undefined;
  let wake: (() => void) | undefined;
  const failed = (reason: string): ExecResult => ({ outcome: 'failed', reason });

  const follow = async (runId: string, first: DagRun): Promise<ExecResult> => {
    const output = JSON.stringify(runId);
    if (!spec.waitForCompletion) return { outcome: 'success', outputJson: output };
    env.log.system(`waiting for run ${runId} of DAG ${spec.dagId} to end in ${spec.allowedStates.join(' or ') || '(no state)'}`);
    let run: DagRun | undefined = first;
    for (;;) {
      if (cancelled) return failed(cancelled);
      if (!run) return failed(`the triggered run "${runId}" of DAG "${spec.dagId}" was deleted while waiting for it`);
      const state = run.state;
      if (state === 'success' || state === 'failed') {
        if (spec.allowedStates.includes(state)) {
          env.log.system(`run ${runId} of DAG ${spec.dagId} ended ${state}`);
          return { outcome: 'success', outputJson: output };
        }
        const why = run.reason ? `: ${run.reason}` : '';
        if (spec.failedStates.includes(state))
          return { ...failed(`the triggered run "${runId}" of DAG "${spec.dagId}" ended ${state}${why}`), outputJson: output };
        return failed(`the triggered run "${runId}" of DAG "${spec.dagId}" ended ${state}, which is in neither allowedStates nor failedStates`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, spec.pokeIntervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      run = await client.store.getRun(spec.dagId, runId);
    }
  };

  const start = async (): Promise<ExecResult> => {
    const rendered = await renderParts(templates, where, { conf: spec.conf, ...(spec.runId ? { runId: spec.runId } : {}) });
    const conf = rendered.conf as Record<string, unknown>;
    const runId = rendered.runId ?? triggeredRunId({ ...info, mapIndex: UNMAPPED }, info.tryNumber);
    const by = `${info.dagId}/${info.runId}/${info.taskId}/${info.tryNumber}`;
    const existing = await client.store.getRun(spec.dagId, runId);
    if (existing) {
      if (existing.triggeredBy !== by) return failed(`run "${runId}" of DAG "${spec.dagId}" already exists and was not started by this try`);
      env.log.system(`run ${runId} of DAG ${spec.dagId} was started by this try before; following it`);
      return follow(runId, existing);
    }
    const target = await client.store.getDag(spec.dagId);
    if (!target)
      return failed(`cannot trigger DAG "${spec.dagId}": no such DAG is stored (check the id, and \`aloft dags errors\` for a file that failed to import)`);
    if (target.missing) return failed(`cannot trigger DAG "${spec.dagId}": its file is no longer in the DAG folder`);
    let run: DagRun;
    try {
      run = await client.trigger(spec.dagId, { conf, runId, triggeredBy: by });
    } catch (err) {
      return failed(`cannot trigger DAG "${spec.dagId}": ${(err as Error).message}`);
    }
    env.log.system(`triggered run ${runId} of DAG ${spec.dagId}${target.paused ? ' (the DAG is paused: the run waits queued until it is unpaused)' : ''}`);
    return follow(runId, run);
  };

  return {
    result: start().catch((err: unknown) => failed(err instanceof Error ? err.message : String(err))),
    cancel: async (reason) => {
      cancelled = reason;
      wake?.();
    },
  };
}

/** triggerDagRun tasks (runTriggerDagRun). */
export class TriggerDagRunExecutor implements Executor {
  constructor(private readonly o: { client: AloftClient }) {}

  start({ task, info, templates }: TaskRequest, env: ExecEnv): Promise<RunningTask> {
    return Promise.resolve(runTriggerDagRun({ client: this.o.client, task, info, templates }, env));
  }
}
