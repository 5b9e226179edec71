import type { V1Pod } from '@kubernetes/client-node';
import { UNMAPPED, type Logger, type SecretsBackend, type SerializedDag, type TaskKind, type TemplateInfo, type UserCodeIdentity } from '@aloft/core';
import { CommandExecutor } from './executors/command.js';
import type { TaskRequest } from './executors/executor.js';
import { FunctionExecutor } from './executors/function.js';
import type { PodRun } from './executors/kubernetes/executor.js';
import { buildPod, renderPodTemplates } from './executors/kubernetes/pod-spec.js';
import { TaskPods, type TaskPodDefaults } from './executors/kubernetes/task-pods.js';
import { aloftEnv, runParams } from './executors/task-env.js';
import type { ExecEnv, RunningTask } from './executors/types.js';
import type { RunMessage } from './fn-runner.js';
import type { TaskLog } from './task-log.js';
import { renderParts, TemplateRenderer } from './template-renderer.js';
import { TrySecrets } from './try-secrets.js';

/** One try of a task as the worker would start it, with nothing started. */
export interface RenderedTask {
  kind: TaskKind;
  /** Command tasks on the worker: the command with its templates rendered (a shell string or argv). */
  command?: string | string[] | undefined;
  cwd?: string | undefined;
  /** Function tasks on the worker: the file and task whose function runs. */
  fn?: { file: string; dagId: string; taskId: string } | undefined;
  /** The try's arguments (a mapped instance's element included). */
  args: Record<string, unknown>;
  /** The names of the variables the task gets on top of the allow-listed environment; values are not shown. */
  env: string[];
  /** Pod tasks (kubernetesPod, and runInPod commands and functions): the pod the worker would create. */
  pod?: V1Pod | undefined;
}

/** Takes what the executors hand on instead of running it. */
const NOTHING: RunningTask = { result: Promise.resolve({ outcome: 'success' }), cancel: () => Promise.resolve() };

/**
 * A dry run of one try (`aloft tasks render`): the task's own executor prepares it as on a
 * worker, but what it would start is kept, not run. A pod is built with the worker's pod
 * spec code (renderPodTemplates, buildPod) and never created; a command is rendered and
 * never spawned; a function is named, not called. Templates render through `r.templates`.
 */
export async function renderTask(
  r: TaskRequest,
  o: { taskPods?: TaskPodDefaults | undefined; dagsFolder?: string | undefined; secrets?: TrySecrets },
): Promise<RenderedTask> {
  const { dag, task, info } = r;
  let podRun: PodRun | undefined;
  let fnRun: RunMessage | undefined;
  const pods = new TaskPods({ k8s: { run: (p) => ((podRun = p), NOTHING) }, defaults: o.taskPods });
  // Nothing runs, so nothing logs: the executors' notes about starting are dropped.
  const log = { write: () => undefined, system: () => undefined } as Pick<TaskLog, 'write' | 'system'> as TaskLog;
  const env: ExecEnv = { log, killGraceMs: 0, secrets: o.secrets };
  const out: RenderedTask = { kind: task.kind, args: info.args, env: [] };
  switch (task.kind) {
    case 'kubernetesPod':
      await pods.start(r, env);
      break;
    case 'command': {
      if (task.runInPod) {
        // Its user-code policy is for commands on the worker, which this one is not.
        const unused = { forCwd: () => ({ who: undefined }), env: () => ({}) };
        await new CommandExecutor({ userCode: unused, pods }).start(r, env);
        break;
      }
      const spec = task.command!;
      const rendered = await renderParts(r.templates, `${dag.id}.${task.id}`, { command: spec.command, env: spec.env });
      out.command = rendered.command;
      out.cwd = spec.cwd;
      out.env = Object.keys({ ...aloftEnv(dag, task, info), ...rendered.env });
      break;
    }
    case 'fn':
    case 'branch':
    case 'shortCircuit':
      await new FunctionExecutor({ fnHost: { run: (m) => ((fnRun = m.type === 'run' ? m : undefined), NOTHING) }, pods, dagsFolder: o.dagsFolder }).start(
        r,
        env,
      );
      if (fnRun) out.fn = { file: fnRun.file, dagId: fnRun.dagId, taskId: fnRun.taskId };
      break;
    case 'empty':
    case 'sensor':
    case 'triggerDagRun':
      break;
  }
  if (podRun) {
    const p = await renderPodTemplates(podRun.params, podRun.templates, `${dag.id}.${task.id}`);
    out.pod = buildPod({ params: p, id: podRun.id, dagFile: podRun.dagFile, taskEnv: podRun.taskEnv, oomKills: 0 });
    const container = out.pod.spec?.containers[0];
    out.env = (container?.env ?? []).map((e) => e.name);
  }
  return out;
}

export interface DryRunOptions {
  dag: SerializedDag;
  taskId: string;
  run: { runId: string; logicalDate: Date; dataIntervalStart: Date; dataIntervalEnd: Date; conf: Record<string, unknown> };
  /** Upstream outputs the templates and the function see, by task id. */
  outputs: Record<string, unknown>;
  /** Where `conn.*` and `var.*` in templates come from, as on a worker. */
  secrets: readonly SecretsBackend[];
  /** The worker's template limits (ALOFT_TEMPLATE_*). */
  templates: { timeoutMs: number; maxBytes: number; heapMb: number };
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** Who templates that compute render as (the user-code identity). */
  identity?: UserCodeIdentity | undefined;
  taskPods?: TaskPodDefaults | undefined;
  dagsFolder?: string | undefined;
}

/**
 * `renderTask` for the first try of an unmapped task (a mapped task: its arguments as
 * declared) in a run with these dates and conf, with the worker's template renderer.
 * Every secret a template read is masked in what comes back.
 */
export async function dryRunTask(o: DryRunOptions): Promise<RenderedTask> {
  const { dag, run } = o;
  const task = dag.tasks.find((t) => t.id === o.taskId);
  if (!task) throw new Error(`DAG "${dag.id}" has no task "${o.taskId}"`);
  const info: TemplateInfo = {
    dagId: dag.id,
    runId: run.runId,
    taskId: task.id,
    mapIndex: UNMAPPED,
    tryNumber: 1,
    args: { ...task.args },
    logicalDate: run.logicalDate,
    dataIntervalStart: run.dataIntervalStart,
    dataIntervalEnd: run.dataIntervalEnd,
    timezone: dag.timezone,
    params: runParams(dag, run.conf),
    conf: run.conf,
    outputs: o.outputs,
  };
  const secrets = new TrySecrets(o.secrets);
  const renderer = new TemplateRenderer({ ...o.templates, logger: o.logger, env: o.env, identity: o.identity });
  try {
    const key = { dagId: dag.id, runId: run.runId, taskId: task.id, mapIndex: UNMAPPED };
    const out = await renderTask(
      { dag, task, info, key, templates: renderer.forTask(info, secrets) },
      { taskPods: o.taskPods, dagsFolder: o.dagsFolder, secrets },
    );
    return secrets.masker.size === 0 ? out : (secrets.masker.maskDeep(out) as RenderedTask);
  } finally {
    await renderer.stop();
  }
}
