import type { PodParams as StoredPodParams } from '@aloft/core';
import type { PodTaskSpec } from '../../pod-task-spec.js';
import { encodeSpec } from '../../pod-task-spec.js';
import { NO_TEMPLATES } from '../../template-renderer.js';
import type { Executor, TaskRequest } from '../executor.js';
import { aloftEnv } from '../task-env.js';
import type { ExecEnv, RunningTask } from '../types.js';
import type { KubernetesExecutor, PodRun } from './executor.js';
import { runInPodSecretEnv } from './pod-secret-refs.js';

export interface TaskPodDefaults {
  image: string;
  /** The entrypoint that runs one task (apps/worker/src/run-task.ts in the Aloft image). */
  command: string[];
  namespace: string;
  /** Where the DAG files are inside the task image. */
  dagsFolder?: string | undefined;
}

export const DEFAULT_TASK_PODS: TaskPodDefaults = {
  image: 'aloft/aloft:latest',
  command: ['aloft-entrypoint', 'run-task'],
  namespace: 'default',
  dagsFolder: '/app/dags',
};

export interface TaskPodsOptions {
  k8s: Pick<KubernetesExecutor, 'run'>;
  /** Default: DEFAULT_TASK_PODS. */
  defaults?: TaskPodDefaults | undefined;
  /** Pods go to the quick start's local stand-in: each pod task's log says so. */
  onStandIn?: boolean | undefined;
}

/**
 * The executor of kubernetesPod tasks, and of command and function tasks that run in a pod
 * of their own (runInPod, `inPod`), with the worker's task image and namespace as defaults.
 * The executor refuses Secrets and ConfigMaps the operator does not allow
 * (tests/deploy-cluster.test.ts, "refuses").
 */
export class TaskPods implements Executor {
  readonly #defaults: TaskPodDefaults;

  constructor(private readonly o: TaskPodsOptions) {
    this.#defaults = o.defaults ?? DEFAULT_TASK_PODS;
  }

  start(r: TaskRequest, env: ExecEnv): Promise<RunningTask> {
    const params = r.task.pod;
    if (!params) return Promise.reject(new Error(`task "${r.task.id}" has no pod parameters`));
    return Promise.resolve(this.#run({ ...podRun(r), params, templates: r.templates }, env));
  }

  /**
   * A command or function task in a pod of its own, already templated; this worker only
   * watches it. `secretEnv`: the command's env values that are secret references
   * (`{{ conn.warehouse.password }}`), which the pod reads from their Secrets itself, as it
   * does the connections and variables runInPod names.
   */
  inPod(r: TaskRequest, env: ExecEnv, spec: PodTaskSpec, secretEnv: Record<string, string> = {}): RunningTask {
    const { connections, variables, ...o } = r.task.runInPod!;
    const tp = this.#defaults;
    const params: StoredPodParams = {
      ...o,
      image: o.image ?? tp.image,
      cmds: [...tp.command, '--termination-log', '/dev/termination-log'],
      env: {
        ALOFT_TASK_SPEC: encodeSpec(spec),
        ...(tp.dagsFolder ? { ALOFT_DAGS_FOLDER: tp.dagsFolder } : {}),
        // Secret references, mapped to secretKeyRefs with the pod's own (PodTry): never rendered here.
        ...runInPodSecretEnv({ connections, variables }),
        ...secretEnv,
      },
      onFinish: 'delete',
      getLogs: true,
      skipExitCodes: [spec.skipExitCode],
    };
    // Already templated: the pod's own parameters have nothing left to render.
    const running = this.#run({ ...podRun(r), params, templates: NO_TEMPLATES }, env);
    // The pod's exit code is the task's: the skip code means skipped, as on a worker.
    return {
      ...running,
      result: running.result.then((res) =>
        res.outcome === 'skipped' ? { ...res, reason: res.reason?.replace(/^exit code (\d+) means skipped$/, 'skipped in its pod (exit code $1)') } : res,
      ),
    };
  }

  /** In the worker's task pod namespace unless the task names one. */
  #run(r: Omit<PodRun, 'params'> & { params: StoredPodParams }, env: ExecEnv): RunningTask {
    if (this.o.onStandIn) env.log.system('pods run on a local stand-in, not a cluster: the quick start found no KUBECONFIG');
    return this.o.k8s.run({ ...r, params: { ...r.params, namespace: r.params.namespace ?? this.#defaults.namespace } }, env);
  }
}

/** What every pod of a try shares: its ids, the DAG file and the try's variables. */
function podRun({ dag, task, info }: TaskRequest): Omit<PodRun, 'params' | 'templates'> {
  return {
    id: { dagId: info.dagId, runId: info.runId, taskId: info.taskId, mapIndex: info.mapIndex, tryNumber: info.tryNumber },
    key: { dagId: info.dagId, runId: info.runId, taskId: info.taskId, mapIndex: info.mapIndex },
    dagFile: dag.fileloc,
    taskEnv: aloftEnv(dag, task, info),
  };
}
