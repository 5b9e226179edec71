import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Logger, Store } from '@aloft/core';
import type { ExecEnv, RunningTask } from '../types.js';
import { errorText, isCode, Limiter, type RetryStats } from './api-retry.js';
import { ALLOW_ALL_REFERENCES, type PodReferenceAllowList } from './pod-references.js';
import { PodLauncher } from './pod-launcher.js';
import type { PodParams } from './pod-spec.js';
import { PodTry, type PodRun } from './pod-try.js';
import { PodWatcher } from './pod-watcher.js';

export type { PodRun } from './pod-try.js';

export interface KubernetesExecutorOptions {
  store: Store;
  logger: Logger;
  /** Kubeconfig file for tasks that name no cluster; unset: KUBECONFIG, then in-cluster. */
  kubeconfig?: string | undefined;
  /**
   * The worker's environment names a cluster: KUBECONFIG, or KUBERNETES_SERVICE_HOST inside
   * one. Without it or `kubeconfig`, a task that names no cluster fails saying so. Default false.
   */
  defaultCluster?: boolean;
  context?: string | undefined;
  /** How long a pod may stay Pending when its task sets no startupTimeout. */
  defaultStartupTimeoutMs: number;
  /** Pod creates in flight at once from this worker (a burst queues behind them). */
  createConcurrency?: number;
  /** How often to look for finished pods nobody will delete. */
  orphanSweepMs?: number;
  /** The Secrets and ConfigMaps task pods may refer to; default every name. */
  references?: PodReferenceAllowList | undefined;
}

/** The API calls the executor makes; deploy/ grants the workers exactly these. */
export const POD_EXECUTOR_API_CALLS = [
  { resource: 'pods', verbs: ['create', 'get', 'list', 'watch', 'delete'] },
  { resource: 'pods/log', verbs: ['get'] },
  { resource: 'events', verbs: ['list'] },
] as const;

/**
 * Runs kubernetesPod tasks, one PodTry each: keeps one client per cluster, one watch per
 * namespace shared by all pods, and sweeps finished pods that nobody will delete.
 */
export class KubernetesExecutor {
  readonly #configs = new Map<string, KubeConfig>();
  readonly #watchers = new Map<string, PodWatcher>();
  readonly #creates: Limiter;
  /** Calls retried after 429/5xx, for metrics and tests. */
  readonly retries: RetryStats = { transient: 0, quota: 0 };

  readonly #sweeper: NodeJS.Timeout;
  /** Finished pods deleted by the orphan sweep, for metrics and tests. */
  orphansDeleted = 0;

  constructor(private readonly o: KubernetesExecutorOptions) {
    this.#creates = new Limiter(o.createConcurrency ?? 16);
    this.#sweeper = setInterval(() => void this.sweepOrphans().catch(() => undefined), o.orphanSweepMs ?? 60_000);
    this.#sweeper.unref();
  }

  /**
   * Deletes finished pods that nobody will clean up: their try is over (the task instance
   * moved on, or is no longer running or queued for that try) and no task here follows
   * them — e.g. a worker died between recording the result and deleting the pod. A try
   * handed back (queued, same try) keeps its pod for the next holder. Pods with onFinish
   * keep, or deleteOnSuccess that failed, stay. Safe on every worker at once.
   */
  async sweepOrphans(): Promise<number> {
    let deleted = 0;
    for (const [k, w] of this.#watchers) {
      const kc = this.#configs.get(k.slice(0, k.lastIndexOf('|')));
      if (!kc) continue;
      const api = kc.makeApiClient(CoreV1Api);
      for (const pod of w.unfollowed()) {
        const phase = pod.status?.phase;
        const a = pod.metadata?.annotations ?? {};
        const onFinish = a['aloft.dev/on-finish'] ?? 'delete';
        if ((phase !== 'Succeeded' && phase !== 'Failed') || pod.metadata?.deletionTimestamp) continue;
        if (onFinish === 'keep' || (onFinish === 'deleteOnSuccess' && phase === 'Failed')) continue;
        const key = {
          dagId: a['aloft.dev/dag-id'] ?? '',
          runId: a['aloft.dev/run-id'] ?? '',
          taskId: a['aloft.dev/task-id'] ?? '',
          mapIndex: Number(a['aloft.dev/map-index'] ?? -1),
        };
        if (!key.dagId || !key.runId || !key.taskId) continue;
        const ti = await this.o.store.getTiStateAndTry(key);
        const podTry = Number(pod.metadata?.labels?.['aloft.dev/try']);
        if ((ti.state === 'running' || ti.state === 'queued') && ti.try === podTry) continue; // its holder, or the next one, may still finish it
        const uid = pod.metadata?.uid;
        await api.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: w.namespace, body: uid ? { preconditions: { uid } } : undefined }).then(
          () => {
            deleted++;
            this.o.logger.info({ pod: `${w.namespace}/${pod.metadata!.name}` }, 'deleted a finished pod left behind');
          },
          (err: unknown) => {
            if (!isCode(err, 404) && !isCode(err, 409))
              this.o.logger.warn({ pod: pod.metadata!.name, err: errorText(err) }, 'could not delete a finished pod left behind');
          },
        );
      }
    }
    this.orphansDeleted += deleted;
    return deleted;
  }

  #config(cluster: PodParams['cluster']): { kc: KubeConfig; id: string } {
    const file = cluster?.kubeconfig ?? this.o.kubeconfig;
    const context = cluster?.context ?? this.o.context;
    const id = cluster?.inCluster ? 'in-cluster' : `${file ?? 'default'}#${context ?? ''}`;
    let kc = this.#configs.get(id);
    if (!kc) {
      kc = new KubeConfig();
      if (cluster?.inCluster) kc.loadFromCluster();
      else if (file) kc.loadFromFile(file);
      else if (this.o.defaultCluster) kc.loadFromDefault();
      else {
        throw new Error(
          'no Kubernetes cluster configured for this worker: set KUBECONFIG (or ALOFT_K8S_KUBECONFIG), run the worker inside a cluster, or give the task a cluster option',
        );
      }
      if (context) kc.setCurrentContext(context);
      this.#configs.set(id, kc);
    }
    return { kc, id };
  }

  async #watcher(kc: KubeConfig, clusterId: string, namespace: string): Promise<PodWatcher> {
    const k = `${clusterId}|${namespace}`;
    let w = this.#watchers.get(k);
    if (!w) {
      w = new PodWatcher(kc, namespace, this.o.logger);
      this.#watchers.set(k, w);
    }
    await w.start();
    return w;
  }

  /** Watch and list calls so far, over all namespaces (metrics, tests). */
  get watchStats(): { lists: number; watches: number; gone: number; drops: number } {
    const s = { lists: 0, watches: 0, gone: 0, drops: 0 };
    for (const w of this.#watchers.values()) for (const k of Object.keys(s) as (keyof typeof s)[]) s[k] += w.stats[k];
    return s;
  }

  close(): void {
    clearInterval(this.#sweeper);
    for (const w of this.#watchers.values()) w.stop();
  }

  run(r: PodRun, env: ExecEnv): RunningTask {
    let t: PodTry | undefined;
    let early: { cancel?: string; detach?: string } = {};
    const result = (async () => {
      const where = `pod for ${r.id.dagId}.${r.id.taskId}`;
      let kc: KubeConfig;
      let clusterId: string;
      try {
        ({ kc, id: clusterId } = this.#config(r.params.cluster));
      } catch (err) {
        return { outcome: 'failed' as const, reason: `${where}: ${errorText(err)}` };
      }
      let watcher: PodWatcher;
      try {
        watcher = await this.#watcher(kc, clusterId, r.params.namespace);
      } catch (err) {
        return { outcome: 'failed' as const, reason: `${where}: cannot list pods in namespace ${r.params.namespace}: ${errorText(err)}` };
      }
      const api = kc.makeApiClient(CoreV1Api);
      const launcher = new PodLauncher({ api, watcher, store: this.o.store, creates: this.#creates, retries: this.retries });
      t = new PodTry(
        {
          store: this.o.store,
          logger: this.o.logger,
          kc,
          api,
          watcher,
          launcher,
          retries: this.retries,
          defaultStartupTimeoutMs: this.o.defaultStartupTimeoutMs,
          references: this.o.references ?? ALLOW_ALL_REFERENCES,
        },
        r,
        env,
      );
      if (early.cancel) void t.cancel(early.cancel);
      if (early.detach) void t.detach(early.detach);
      return t.result;
    })();
    return {
      result,
      cancel: async (reason) => {
        if (t) await t.cancel(reason);
        else early = { ...early, cancel: reason };
      },
      detach: async (reason) => {
        if (t) await t.detach(reason);
        else early = { ...early, detach: reason };
      },
    };
  }
}
