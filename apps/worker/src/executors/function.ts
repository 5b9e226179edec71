import { relative } from 'node:path';
import type { SerializedTask } from '@aloft/core';
import type { Executor, TaskRequest } from './executor.js';
import type { FnHost } from './fn-host.js';
import type { TaskPods } from './kubernetes/task-pods.js';
import { fnContext } from './task-env.js';
import type { ExecEnv, ExecResult, RunningTask } from './types.js';

export interface FunctionExecutorOptions {
  fnHost: Pick<FnHost, 'run'>;
  pods: Pick<TaskPods, 'inPod'>;
  /** The DAG folder, so a function task in a pod finds its file relative to the pod's own. */
  dagsFolder?: string | undefined;
}

/**
 * fn, branch and shortCircuit tasks: the task's function from the DAG file, in the fn host
 * process or in a pod of its own (runInPod). A branch's or short-circuit's return value
 * decides which downstream tasks go on.
 */
export class FunctionExecutor implements Executor {
  constructor(private readonly o: FunctionExecutorOptions) {}

  start(r: TaskRequest, env: ExecEnv): Promise<RunningTask> {
    const { dag, task, info } = r;
    let running: RunningTask;
    if (task.runInPod) {
      const rel = relative(this.o.dagsFolder ?? '', dag.fileloc);
      const kind = task.kind as 'fn' | 'branch' | 'shortCircuit';
      running = this.o.pods.inPod(r, env, {
        kind,
        file: this.o.dagsFolder && !rel.startsWith('..') ? rel : dag.fileloc,
        dagId: dag.id,
        taskId: task.id,
        ctx: fnContext(dag, info),
        skipExitCode: 99,
      });
    } else {
      running = this.o.fnHost.run({ type: 'run', file: dag.fileloc, dagId: dag.id, taskId: task.id, ctx: fnContext(dag, info) }, env);
    }
    if (task.kind === 'fn') return Promise.resolve(running);
    return Promise.resolve({ ...running, result: running.result.then((res) => decide(task, res)) });
  }
}

/** Branch and short-circuit results: which downstream tasks go on. */
function decide(task: SerializedTask, r: ExecResult): ExecResult {
  if (r.outcome !== 'success') return r;
  const value: unknown = r.outputJson === undefined ? undefined : JSON.parse(r.outputJson);
  if (task.kind === 'shortCircuit') {
    return { ...r, outputJson: JSON.stringify(Boolean(value)), skipDescendants: !value };
  }
  const items = (Array.isArray(value) ? value : value === undefined || value === null ? [] : [value]) as unknown[];
  const ids = items.map((v) => (typeof v === 'string' ? v : ((v as { id?: string } | null)?.id ?? JSON.stringify(v))));
  const unknown = ids.filter((id) => !task.downstream.includes(id));
  if (unknown.length > 0) {
    return {
      outcome: 'failed',
      reason: `branch returned ${unknown.map((u) => `"${u}"`).join(', ')}, not a direct downstream task of "${task.id}" (those are: ${task.downstream.join(', ') || 'none'})`,
    };
  }
  return { ...r, outputJson: JSON.stringify(ids), follow: ids };
}
