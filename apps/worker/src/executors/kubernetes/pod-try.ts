import type { CoreV1Api, CoreV1Event, KubeConfig, V1Pod } from '@kubernetes/client-node';
import type { Logger, Store, TaskInstanceKey } from '@aloft/core';
import { OUTPUT_MARKER, type ExecEnv, type ExecResult } from '../types.js';
import { errorText, retrying, type RetryStats } from './api-retry.js';
import { LogFollower, type LogCursor } from './log-follower.js';
import { PodCleanup } from './pod-cleanup.js';
import { GENERATION } from './pod-claim.js';
import type { PodLauncher } from './pod-launcher.js';
import { podResult } from './pod-output.js';
import { refusedReference, type PodReferenceAllowList } from './pod-references.js';
import { materialize, materializedSecretName, PodSecretMaterializer, type MaterializedSecret } from './pod-secret-materializer.js';
import { podSecretParams } from './pod-secret-refs.js';
import type { TaskTemplates } from '../../template-renderer.js';
import { buildPod, MAIN_CONTAINER, renderPodTemplates, type PodIdentity, type PodParams } from './pod-spec.js';
import type { PodWatcher } from './pod-watcher.js';
import { notePullErrors, verdict, type PodVerdict } from './reasons.js';
import { StartupTimer } from './startup-timer.js';

export interface PodRun {
  params: PodParams;
  id: PodIdentity;
  key: TaskInstanceKey;
  /** Renders the task's templated parameters (cmds, arguments, env values). */
  templates: TaskTemplates;
  dagFile: string;
  taskEnv: Record<string, string>;
}

/** What a try's pod needs from its executor: one cluster's client, watch and launcher. */
export interface PodTryContext {
  store: Store;
  logger: Logger;
  kc: KubeConfig;
  api: CoreV1Api;
  watcher: PodWatcher;
  launcher: PodLauncher;
  retries: RetryStats;
  defaultStartupTimeoutMs: number;
  /** The Secrets and ConfigMaps the pod may refer to (ALOFT_POD_SECRET_ALLOWLIST, …). */
  references: PodReferenceAllowList;
}

type End = PodVerdict | { kind: 'cancelled' } | { kind: 'detached' };

const failedEnd = (reason: string, infra?: true): End => ({ kind: 'failed', reason, exitCode: undefined, oomKilled: false, message: undefined, infra });

/**
 * One try's pod, from launch (create or adopt) to result and clean-up: follows the pod
 * through the namespace's shared watch, streams its containers' logs into the try's log,
 * times its startup, and turns its end into the task's result. The parts that stand alone,
 * each with its own test: launch (PodLauncher), startup timing (StartupTimer), clean-up
 * (PodCleanup).
 *
 * Three ways out besides the pod's own end: `cancel` deletes the pod (timeout, a cancelled
 * run); `detach` only stops following it (a worker shutting down hands the try back, and
 * the next holder adopts the pod and resumes its log from the cursor recorded with the
 * lines); the startup timeout fails a pod still Pending.
 */
export class PodTry {
  readonly result: Promise<ExecResult>;
  readonly #ended: Promise<End>;
  #settle!: (e: End) => void;
  #cancelled: string | undefined;
  #detached: string | undefined;
  #launched: { name: string; uid: string | undefined; generation: number } | undefined;
  /** Deletes the launched pod, on cancel and as onFinish says (pod-cleanup.ts). */
  #cleanup: PodCleanup | undefined;
  #current: V1Pod | undefined;
  #followers: LogFollower[] = [];
  #marked: string | undefined;
  #lastDetail = '';
  readonly #pullErrors = new Map<string, string>();

  constructor(
    private readonly c: PodTryContext,
    private readonly r: PodRun,
    private readonly env: ExecEnv,
  ) {
    this.#ended = new Promise<End>((res) => (this.#settle = res));
    this.result = this.#run().catch((err: unknown) => {
      this.#stopFollowing();
      return { outcome: 'failed' as const, reason: `could not run pod ${r.params.namespace}/${this.#launched?.name ?? ''}: ${errorText(err)}` };
    });
  }

  /** Deletes the pod (once it exists) and ends the try as failed with `reason`. */
  async cancel(reason: string): Promise<void> {
    this.#cancelled ??= reason;
    this.#settle({ kind: 'cancelled' });
    if (this.#cleanup) await this.#cleanup.cancel(reason);
  }

  /** Stops following the pod, which runs on for the next holder of the try. */
  detach(reason: string): Promise<void> {
    this.#detached ??= reason;
    this.#settle({ kind: 'detached' });
    return Promise.resolve();
  }

  async #run(): Promise<ExecResult> {
    const { id, key } = this.r;
    const { store } = this.c;
    const task = `dag "${id.dagId}", task "${id.taskId}"${id.mapIndex >= 0 ? ` [${id.mapIndex}]` : ''}`;
    // Secret references become secretKeyRefs before anything renders: no template may read a secret into the spec.
    const mapped = podSecretParams(this.r.params, task);
    if ('refused' in mapped) {
      this.env.log.system(mapped.refused);
      return { outcome: 'failed', reason: mapped.refused, noRetry: true };
    }
    let params = mapped.params;
    let own: MaterializedSecret | undefined;
    if (params.materializeSecrets && Object.keys(mapped.refs).length > 0) {
      try {
        ({ params, secret: own } = await materialize(params, mapped.refs, materializedSecretName(id, params.namePrefix), this.env.secrets?.lookup));
      } catch (err) {
        return { outcome: 'failed', reason: `${task}: ${errorText(err)}` };
      }
    }
    const p = await renderPodTemplates(params, this.r.templates, `${id.dagId}.${id.taskId}`);
    const ns = p.namespace;
    const startupMs = p.startupTimeoutMs ?? this.c.defaultStartupTimeoutMs;
    const oomKills = Number((await store.getTiField(key, 'oomKills')) ?? 0);
    const pod = buildPod({ params: p, id, dagFile: this.r.dagFile, taskEnv: this.r.taskEnv, oomKills });
    // Checked on the pod as built, before anything is created: no retry can make it allowed.
    // The try's own Secret holds only what the worker put there: the allow-list is for the namespace's.
    const references = own ? { ...this.c.references, secrets: [...this.c.references.secrets, own.name] } : this.c.references;
    const refused = refusedReference(pod, references, task);
    if (refused) {
      this.env.log.system(refused);
      return { outcome: 'failed', reason: refused, noRetry: true };
    }
    const memory = pod.spec?.containers.find((x) => x.name === MAIN_CONTAINER)?.resources?.limits?.['memory'];
    if (memory) await store.setTiFields(key, { [`podMemory:${id.tryNumber}`]: memory });

    if (this.#cancelled || this.#detached) return { outcome: 'failed', reason: this.#cancelled ?? `handed back: ${this.#detached ?? ''}` };
    const secrets = own && new PodSecretMaterializer({ api: this.c.api, retries: this.c.retries });
    if (own) await secrets!.create(ns, own, id);
    const launched = await this.c.launcher
      .launch({ key, id, namespace: ns, namePrefix: p.namePrefix, pod, startupMs, env: this.env })
      .catch(async (err: unknown) => {
        if (own) await secrets!.delete(ns, own.name);
        throw err;
      });
    if ('failed' in launched) {
      if (own) await secrets!.delete(ns, own.name);
      return { outcome: 'failed', reason: launched.failed };
    }
    if (own) {
      await secrets!.own(ns, own, launched.pod, id);
      if (!launched.adopted)
        this.env.log.system(`materialised ${Object.keys(own.data).length} secret value(s) in Secret ${ns}/${own.name}, deleted with the pod`);
    }
    const { name } = launched;
    this.#launched = { name, uid: launched.pod.metadata?.uid, generation: Number(launched.pod.metadata?.annotations?.[GENERATION] ?? 1) };
    this.#cleanup = new PodCleanup({
      api: this.c.api,
      retries: this.c.retries,
      logger: this.c.logger,
      log: this.env.log,
      pod: { namespace: ns, ...this.#launched },
      params: this.r.params,
    });
    if (!launched.adopted) this.env.log.system(`created pod ${ns}/${name}${memory ? ` (memory limit ${memory})` : ''}`);
    await store.setTiFields(key, { pod: `${ns}/${name}` });
    if (this.#cancelled) await this.#cleanup.cancel(this.#cancelled);

    const cursors = new Map<string, LogCursor>();
    for (const x of pod.spec?.containers ?? []) {
      const v = await store.getTiField(key, cursorField(name, x.name));
      if (v) cursors.set(x.name, JSON.parse(v) as LogCursor);
    }
    const unsubscribe = this.c.watcher.subscribe(name, (obj, type) => this.#onPod(obj, type, cursors));
    this.#onPod(launched.pod, 'MODIFIED', cursors);
    const startup = new StartupTimer({
      startupMs,
      verdict: () => this.#current && verdict(this.#current, this.#pullErrors),
      onTimeout: (reason) => this.#settle(failedEnd(reason)),
    });
    startup.start();
    const end = await this.#ended.finally(() => {
      startup.stop();
      unsubscribe();
    });

    if (end.kind === 'cancelled' || end.kind === 'detached') {
      this.#stopFollowing();
      if (end.kind === 'detached') this.env.log.system(`${this.#detached ?? ''}: pod ${ns}/${name} runs on; the next holder of this try follows it`);
      return { outcome: 'failed', reason: this.#cancelled ?? `handed back: ${this.#detached ?? ''}` };
    }
    // Let the log streams deliver the containers' last lines (briefly when the pod is
    // stuck rather than ended: a crash-looping container's stream never ends).
    const podEnded = this.#current?.status?.phase === 'Succeeded' || this.#current?.status?.phase === 'Failed';
    await Promise.race([Promise.all(this.#followers.map((f) => f.done)), new Promise((res) => setTimeout(res, podEnded ? 10_000 : 500))]);
    this.#stopFollowing();
    const res = podResult(end, p.skipExitCodes, this.#marked);
    if (res.outcome === 'failed') await this.#appendEvents(ns, name);
    if (end.kind === 'failed' && end.oomKilled) {
      await store.setTiFields(key, { oomKills: String(oomKills + 1) });
      if (p.oomRetry)
        this.env.log.system(`OOMKilled with memory limit ${memory ?? 'unset'}; the next try gets ×${p.oomRetry.factor} (up to ${p.oomRetry.max})`);
    }
    if (res.infra && this.#launched) {
      // If the worker runs this try again (the cluster ended the pod), it gets a pod of the
      // next generation, under a name of its own: never this one, which is going away.
      await store.setTiFields(key, { [`podClaim:${id.tryNumber}`]: JSON.stringify({ generation: this.#launched.generation + 1 }) });
    }
    // The result does not wait for the delete.
    void this.#cleanup.afterFinish(res);
    return res;
  }

  #onPod(obj: V1Pod, type: 'ADDED' | 'MODIFIED' | 'DELETED', cursors: Map<string, LogCursor>): void {
    // Only the very pod this try launched or adopted, never another that had its name.
    if (this.#launched?.uid && obj.metadata?.uid !== this.#launched.uid) return;
    this.#current = obj;
    notePullErrors(obj, this.#pullErrors);
    const v = verdict(obj, this.#pullErrors);
    if (type === 'DELETED' && !this.#cancelled) {
      this.#settle(v.kind === 'succeeded' || v.kind === 'failed' ? v : failedEnd('the pod was deleted before it finished', true));
      return;
    }
    this.#startLogs(obj, cursors);
    if (v.kind === 'pending') {
      if (v.detail !== this.#lastDetail) {
        this.#lastDetail = v.detail;
        this.env.log.system(`pod pending: ${v.detail}`);
        void this.c.store.setTiFields(this.r.key, { detail: `Pending: ${v.detail}` });
      }
    } else if (v.kind === 'running') {
      if (this.#lastDetail !== 'running') {
        this.#lastDetail = 'running';
        void this.c.store.setTiFields(this.r.key, { detail: 'pod running' });
      }
    } else this.#settle(v);
  }

  #startLogs(obj: V1Pod, cursors: Map<string, LogCursor>): void {
    if (!this.r.params.getLogs || this.#followers.length || this.#cancelled || this.#detached) return;
    const started = (obj.status?.containerStatuses ?? []).filter((x) => x.state?.running || x.state?.terminated);
    if (!started.some((x) => x.name === MAIN_CONTAINER)) return;
    const names = obj.spec?.containers.map((x) => x.name) ?? [MAIN_CONTAINER];
    this.#followers = names.map((container) => this.#follow(obj.metadata!.name!, container, names.length > 1, cursors.get(container)));
  }

  #follow(pod: string, container: string, named: boolean, after: LogCursor | undefined): LogFollower {
    const field = cursorField(pod, container);
    const { log } = this.env;
    return new LogFollower(this.c.kc, {
      namespace: this.r.params.namespace,
      pod,
      container,
      after,
      onLine: (line, cursor) => {
        log.write('stdout', named ? `[${container}] ${line}` : line);
        if (line.startsWith(OUTPUT_MARKER) && container === MAIN_CONTAINER) this.#marked = line.slice(OUTPUT_MARKER.length).trim();
        // Where this container's log was read to, written with the lines themselves, so a
        // worker taking over resumes exactly after the last line that reached the log.
        log.mark(field, JSON.stringify(cursor));
      },
      finished: () => {
        const phase = this.#current?.status?.phase;
        return (
          Boolean(this.#current?.status?.containerStatuses?.find((s) => s.name === container)?.state?.terminated) || phase === 'Succeeded' || phase === 'Failed'
        );
      },
      onRetry: (err) => log.system(`log stream of ${container} dropped (${String(err).slice(0, 200)}); resuming`),
    });
  }

  #stopFollowing(): void {
    for (const f of this.#followers) f.stop();
  }

  async #appendEvents(ns: string, name: string): Promise<void> {
    const { log } = this.env;
    try {
      const list = await retrying(
        this.c.retries,
        () => this.c.api.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${name}` }),
        Date.now() + 10_000,
      );
      const items = [...list.items].sort((a, b) => time(a) - time(b)).slice(-20);
      if (items.length) log.system(`recent events of pod ${name}:`);
      for (const e of items) log.system(`  ${e.type ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}`);
    } catch (err) {
      log.system(`could not list the pod's events: ${String(err).slice(0, 200)}`);
    }
  }
}

/** Task-instance field holding how far a pod's container log was read. */
const cursorField = (pod: string, container: string) => `podLog:${pod}:${container}`;

function time(e: CoreV1Event): number {
  const t = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp;
  return t ? new Date(t as unknown as string).getTime() : 0;
}
