import { ApiException, CoreV1Api, KubeConfig, type CoreV1Event, type V1Pod } from '@kubernetes/client-node';
import type { Logger, Store, TaskInstanceKey } from '@aloft/core';
import { OUTPUT_MARKER, type ExecEnv, type ExecResult, type RunningTask } from '../types.js';
import { LogFollower, type LogCursor } from './log-follower.js';
import { buildPod, MAIN_CONTAINER, podName, type PodIdentity, type PodParams } from './pod-spec.js';
import { PodWatcher } from './pod-watcher.js';
import { verdict, type PodVerdict } from './reasons.js';

export interface KubernetesExecutorOptions {
  store: Store;
  logger: Logger;
  /** Kubeconfig file for tasks that name no cluster; unset: KUBECONFIG, then in-cluster. */
  kubeconfig?: string | undefined;
  context?: string | undefined;
  /** How long a pod may stay Pending when its task sets no startupTimeout. */
  defaultStartupTimeoutMs: number;
  /** Pod creates in flight at once from this worker (a burst queues behind them). */
  createConcurrency?: number;
  /** How often to look for finished pods nobody will delete. */
  orphanSweepMs?: number;
}

/** At most `max` calls at once; the rest wait their turn in order. */
class Limiter {
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active >= this.max) await new Promise<void>((r) => this.#waiting.push(r));
    this.#active++;
    try {
      return await fn();
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }
}

const codeOf = (err: unknown): number | undefined =>
  err instanceof ApiException ? err.code : ((err as { code?: unknown; statusCode?: unknown })?.statusCode as number | undefined);

/** Seconds of a Retry-After header, in ms. */
function retryAfterMs(err: unknown): number | undefined {
  const h = err instanceof ApiException ? (err.headers['retry-after'] ?? err.headers['Retry-After']) : undefined;
  const s = h === undefined ? NaN : Number(h);
  return Number.isFinite(s) ? Math.min(60_000, Math.max(0, s * 1000)) : undefined;
}

/** The API server is busy or failing for now: try again after a pause. */
const isTransient = (err: unknown): boolean => {
  const c = codeOf(err);
  return c === 429 || (c !== undefined && c >= 500) || (!(err instanceof ApiException) && /ECONNREFUSED|ECONNRESET|socket hang up|fetch failed|ETIMEDOUT/.test(String(err)));
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface PodRun {
  params: PodParams;
  id: PodIdentity;
  key: TaskInstanceKey;
  ctx: Record<string, unknown>;
  dagFile: string;
  taskEnv: Record<string, string>;
}

/** The API calls the executor makes; deploy/ grants the workers exactly these. */
export const POD_EXECUTOR_API_CALLS = [
  { resource: 'pods', verbs: ['create', 'get', 'list', 'watch', 'delete'] },
  { resource: 'pods/log', verbs: ['get'] },
  { resource: 'events', verbs: ['list'] },
] as const;

const isCode = (err: unknown, code: number) =>
  err instanceof ApiException ? err.code === code : (err as { code?: number; statusCode?: number })?.code === code;

/**
 * Runs kubernetesPod tasks: creates the try's pod (or adopts it when a previous worker
 * created it), follows it through one shared watch per namespace, streams its logs into
 * the task's log, turns its end into the task's result and cleans it up.
 */
export class KubernetesExecutor {
  readonly #configs = new Map<string, KubeConfig>();
  readonly #watchers = new Map<string, PodWatcher>();
  readonly #creates: Limiter;
  /** Calls retried after 429/5xx, for metrics and tests. */
  readonly retries = { transient: 0, quota: 0 };

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
   * moved on, or is no longer running that try) and no task here follows them — e.g. a
   * worker died between recording the result and deleting the pod. Pods with onFinish
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
        const key = { dagId: a['aloft.dev/dag-id'] ?? '', runId: a['aloft.dev/run-id'] ?? '', taskId: a['aloft.dev/task-id'] ?? '', mapIndex: Number(a['aloft.dev/map-index'] ?? -1) };
        if (!key.dagId || !key.runId || !key.taskId) continue;
        const ti = await this.o.store.getTiStateAndTry(key);
        const podTry = Number(pod.metadata?.labels?.['aloft.dev/try']);
        if (ti.state === 'running' && ti.try === podTry) continue; // its holder may still finish it
        await api.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: w.namespace }).then(
          () => {
            deleted++;
            this.o.logger.info({ pod: `${w.namespace}/${pod.metadata!.name}` }, 'deleted a finished pod left behind');
          },
          (err: unknown) => {
            if (!isCode(err, 404)) this.o.logger.warn({ pod: pod.metadata!.name, err: String(err) }, 'could not delete a finished pod left behind');
          },
        );
      }
    }
    this.orphansDeleted += deleted;
    return deleted;
  }

  /** `fn`, again after 429/5xx (honouring Retry-After) until `deadline`. */
  async #retrying<T>(fn: () => Promise<T>, deadline: number, onQuota?: (message: string) => void): Promise<T> {
    let delay = 200;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        const quota = codeOf(err) === 403 && /exceeded quota/.test(err instanceof ApiException ? apiMessage(err) : String(err));
        if (!(isTransient(err) || (quota && onQuota)) || Date.now() >= deadline) throw err;
        if (quota) {
          this.retries.quota++;
          onQuota?.(apiMessage(err as ApiException<unknown>));
        } else this.retries.transient++;
        const wait = retryAfterMs(err) ?? delay;
        delay = Math.min(delay * 2, quota ? 5_000 : 10_000);
        await sleep(Math.min(wait, Math.max(0, deadline - Date.now())));
      }
    }
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
      else if (process.env['KUBECONFIG'] || process.env['KUBERNETES_SERVICE_HOST']) kc.loadFromDefault();
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
    let cancel: (reason: string) => Promise<void> = async () => undefined;
    let cancelled: string | undefined;
    const result = (async (): Promise<ExecResult> => {
      const { params: p } = r;
      const where = `pod for ${r.id.dagId}.${r.id.taskId}`;
      let setup: { kc: KubeConfig; id: string };
      try {
        setup = this.#config(p.cluster);
      } catch (err) {
        return { outcome: 'failed', reason: `${where}: ${err instanceof Error ? err.message : String(err)}` };
      }
      const { kc, id: clusterId } = setup;
      const api = kc.makeApiClient(CoreV1Api);
      const ns = p.namespace;
      const name = podName(r.id, p.namePrefix);
      const oomKills = Number((await this.o.store.getTiField(r.key, 'oomKills')) ?? 0);
      const pod = buildPod({ params: p, id: r.id, ctx: r.ctx, dagFile: r.dagFile, taskEnv: r.taskEnv, oomKills });
      const memory = pod.spec?.containers.find((c) => c.name === MAIN_CONTAINER)?.resources?.limits?.['memory'];
      let watcher: PodWatcher;
      try {
        watcher = await this.#watcher(kc, clusterId, ns);
      } catch (err) {
        const msg = err instanceof ApiException ? apiMessage(err) : err instanceof Error ? err.message : String(err);
        return { outcome: 'failed', reason: `${where}: cannot list pods in namespace ${ns}: ${msg}` };
      }
      // Where earlier holders of this try read each container's log to.
      const cursors = new Map<string, LogCursor>();
      for (const c of pod.spec?.containers ?? []) {
        const v = await this.o.store.getTiField(r.key, `podLog:${r.id.tryNumber}:${c.name}`);
        if (v) cursors.set(c.name, JSON.parse(v) as LogCursor);
      }

      let settle!: (v: PodVerdict | { kind: 'cancelled' }) => void;
      const ended = new Promise<PodVerdict | { kind: 'cancelled' }>((res) => (settle = res));
      let lastDetail = '';
      let pendingSince = Date.now();
      const startupMs = p.startupTimeoutMs ?? this.o.defaultStartupTimeoutMs;
      let followers: LogFollower[] = [];
      let current: V1Pod | undefined;
      const startLogs = (obj: V1Pod) => {
        if (!p.getLogs || followers.length) return;
        const started = [...(obj.status?.containerStatuses ?? [])].filter((c) => c.state?.running || c.state?.terminated);
        if (!started.some((c) => c.name === MAIN_CONTAINER)) return;
        const names = obj.spec?.containers.map((c) => c.name) ?? [MAIN_CONTAINER];
        followers = names.map((container) => this.#follow(kc, r, ns, name, container, names.length > 1, cursors.get(container), env, () => current));
      };
      const onPod = (obj: V1Pod, type: string) => {
        current = obj;
        if (type === 'DELETED' && !cancelled) {
          const v = verdict(obj);
          settle(v.kind === 'succeeded' || v.kind === 'failed' ? v : { kind: 'failed', reason: 'the pod was deleted before it finished', exitCode: undefined, oomKilled: false, message: undefined });
          return;
        }
        const v = verdict(obj);
        startLogs(obj);
        if (v.kind === 'pending') {
          if (v.detail !== lastDetail) {
            lastDetail = v.detail;
            env.log.system(`pod pending: ${v.detail}`);
            void this.o.store.setTiFields(r.key, { detail: `Pending: ${v.detail}` });
          }
        } else if (v.kind === 'running') {
          if (lastDetail !== 'running') {
            lastDetail = 'running';
            void this.o.store.setTiFields(r.key, { detail: 'pod running' });
          }
        } else settle(v);
      };

      cancel = async (reason: string) => {
        cancelled = reason;
        const grace = p.terminationGracePeriodMs !== undefined ? Math.ceil(p.terminationGracePeriodMs / 1000) : undefined;
        env.log.system(`deleting pod ${ns}/${name}: ${reason}`);
        await this.#retrying(() => api.deleteNamespacedPod({ name, namespace: ns, gracePeriodSeconds: grace }), Date.now() + 30_000).catch((err: unknown) => {
          if (!isCode(err, 404)) env.log.system(`could not delete pod ${name}: ${String(err)}`);
        });
        settle({ kind: 'cancelled' });
      };

      const unsubscribe = watcher.subscribe(name, onPod);
      await this.o.store.setTiFields(r.key, { pod: `${ns}/${name}`, ...(memory ? { [`podMemory:${r.id.tryNumber}`]: memory } : {}) });
      try {
        try {
          // A busy API server (429/5xx) or a full quota is waited out up to the startup
          // timeout; a create that succeeded but whose answer was lost comes back as 409.
          let quotaShown = '';
          const created = await this.#retrying(
            () => this.#creates.run(() => api.createNamespacedPod({ namespace: ns, body: pod })),
            Date.now() + startupMs,
            (message) => {
              if (message === quotaShown) return;
              quotaShown = message;
              env.log.system(`waiting for quota: ${message}`);
              void this.o.store.setTiFields(r.key, { detail: `waiting for quota: ${message}` });
            },
          );
          env.log.system(`created pod ${ns}/${name}${memory ? ` (memory limit ${memory})` : ''}`);
          watcher.observe(created);
        } catch (err) {
          if (!isCode(err, 409)) {
            if (codeOf(err) === 403 && /exceeded quota/.test(String(apiMessage(err as ApiException<unknown>)))) {
              return { outcome: 'failed', reason: `quota still exceeded after ${Math.round(startupMs / 1000)} s (startup timeout): ${apiMessage(err as ApiException<unknown>)}` };
            }
            throw err;
          }
          env.log.system(`pod ${ns}/${name} exists already (created by a previous holder of this try); following it`);
          const known = watcher.get(name) ?? (await this.#retrying(() => api.readNamespacedPod({ name, namespace: ns }), Date.now() + 30_000));
          onPod(known, 'MODIFIED');
        }
        if (cancelled) await cancel(cancelled);
        const timer = setInterval(() => {
          if (current && verdict(current).kind === 'pending' && Date.now() - pendingSince > startupMs) {
            const v = verdict(current);
            const detail = v.kind === 'pending' ? v.detail : '';
            settle({
              kind: 'failed',
              reason: `${v.kind === 'pending' && v.unschedulable ? 'Unschedulable' : 'still Pending'} after ${Math.round(startupMs / 1000)} s (startup timeout): ${detail}`,
              exitCode: undefined,
              oomKilled: false,
              message: undefined,
            });
          }
        }, Math.min(1000, Math.max(50, startupMs / 4)));
        pendingSince = Date.now();
        const end = await ended.finally(() => clearInterval(timer));
        unsubscribe();
        if (end.kind === 'cancelled') {
          for (const f of followers) f.stop();
          return { outcome: 'failed', reason: cancelled ?? 'cancelled' };
        }
        // Let the log streams deliver the containers' last lines (briefly when the pod is
        // stuck rather than ended: a crash-looping container's stream never ends).
        const podEnded = current?.status?.phase === 'Succeeded' || current?.status?.phase === 'Failed';
        await Promise.race([Promise.all(followers.map((f) => f.done)), new Promise((res) => setTimeout(res, podEnded ? 10_000 : 500))]);
        for (const f of followers) f.stop();
        const res = this.#result(end, p, followers);
        if (res.outcome === 'failed') await this.#appendEvents(api, ns, name, env);
        if (end.kind === 'failed' && end.oomKilled) {
          await this.o.store.setTiFields(r.key, { oomKills: String(oomKills + 1) });
          if (p.oomRetry) env.log.system(`OOMKilled with memory limit ${memory ?? 'unset'}; the next try gets ×${p.oomRetry.factor} (up to ${p.oomRetry.max})`);
        }
        const remove = p.onFinish === 'delete' || (p.onFinish === 'deleteOnSuccess' && res.outcome !== 'failed');
        if (remove) {
          // The result does not wait for the cleanup; a pod left behind by a worker that
          // dies meanwhile keeps its labels and is found again.
          env.log.system(`deleting pod ${ns}/${name} (onFinish: ${p.onFinish})`);
          void this.#retrying(() => api.deleteNamespacedPod({ name, namespace: ns }), Date.now() + 60_000).catch((err: unknown) => {
            if (!isCode(err, 404)) this.o.logger.warn({ pod: `${ns}/${name}`, err: String(err) }, 'could not delete a finished pod');
          });
        } else env.log.system(`pod ${ns}/${name} kept (onFinish: ${p.onFinish})`);
        return res;
      } catch (err) {
        unsubscribe();
        for (const f of followers) f.stop();
        const msg = err instanceof ApiException ? apiMessage(err) : err instanceof Error ? err.message : String(err);
        return { outcome: 'failed', reason: `could not run pod ${ns}/${name}: ${msg}` };
      }
    })();
    return { result, cancel: (reason) => cancel(reason) };
  }

  #follow(
    kc: KubeConfig,
    r: PodRun,
    ns: string,
    pod: string,
    container: string,
    named: boolean,
    after: LogCursor | undefined,
    env: ExecEnv,
    current: () => V1Pod | undefined,
  ): LogFollower {
    const field = `podLog:${r.id.tryNumber}:${container}`;
    const follower = new LogFollower(kc, {
      namespace: ns,
      pod,
      container,
      after,
      onLine: (line, cursor) => {
        env.log.write('stdout', named ? `[${container}] ${line}` : line);
        if (line.startsWith(OUTPUT_MARKER) && container === MAIN_CONTAINER) markedOutputs.set(follower, line.slice(OUTPUT_MARKER.length).trim());
        // Where this container's log was read to, written with the lines themselves, so a
        // worker taking over resumes exactly after the last line that reached the log.
        env.log.mark(field, JSON.stringify(cursor));
      },
      finished: () => {
        const c = current()?.status?.containerStatuses?.find((s) => s.name === container);
        return Boolean(c?.state?.terminated) || current()?.status?.phase === 'Succeeded' || current()?.status?.phase === 'Failed';
      },
      onRetry: (err) => env.log.system(`log stream of ${container} dropped (${String(err).slice(0, 200)}); resuming`),
    });
    return follower;
  }

  #result(end: PodVerdict, p: PodParams, followers: LogFollower[]): ExecResult {
    if (end.kind === 'failed') {
      if (end.exitCode !== undefined && p.skipExitCodes?.includes(end.exitCode)) {
        return { outcome: 'skipped', reason: `exit code ${end.exitCode} means skipped`, exitCode: end.exitCode };
      }
      return { outcome: 'failed', reason: end.reason, exitCode: end.exitCode };
    }
    if (end.kind !== 'succeeded') return { outcome: 'failed', reason: `unexpected pod state ${end.kind}` };
    const msg = end.message?.trim();
    if (msg) {
      try {
        return { outcome: 'success', exitCode: 0, outputJson: JSON.stringify(JSON.parse(msg)) };
      } catch {
        return { outcome: 'failed', exitCode: 0, reason: `the termination message is not JSON: ${msg.slice(0, 200)}` };
      }
    }
    const marked = followers.map((f) => markedOutputs.get(f)).find((m) => m !== undefined);
    if (marked !== undefined) {
      try {
        return { outcome: 'success', exitCode: 0, outputJson: JSON.stringify(JSON.parse(marked)) };
      } catch {
        return { outcome: 'failed', exitCode: 0, reason: `the output line is not JSON: ${marked.slice(0, 200)}` };
      }
    }
    return { outcome: 'success', exitCode: 0 };
  }

  async #appendEvents(api: CoreV1Api, ns: string, name: string, env: ExecEnv): Promise<void> {
    try {
      const list = await this.#retrying(() => api.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${name}` }), Date.now() + 10_000);
      const items = [...list.items].sort((a, b) => time(a) - time(b)).slice(-20);
      if (items.length) env.log.system(`recent events of pod ${name}:`);
      for (const e of items) env.log.system(`  ${e.type ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}`);
    } catch (err) {
      env.log.system(`could not list the pod's events: ${String(err).slice(0, 200)}`);
    }
  }
}

const markedOutputs = new WeakMap<LogFollower, string>();

function time(e: CoreV1Event): number {
  const t = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp;
  return t ? new Date(t as unknown as string).getTime() : 0;
}

function apiMessage(err: ApiException<unknown>): string {
  const body = err.body as { message?: string } | string | undefined;
  if (typeof body === 'string') {
    try {
      return `${err.code}: ${(JSON.parse(body) as { message?: string }).message ?? body}`;
    } catch {
      return `${err.code}: ${body.slice(0, 300)}`;
    }
  }
  return `${err.code}: ${body?.message ?? err.message}`;
}
