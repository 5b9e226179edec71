import { CoreV1Api, Watch, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from '@aloft/core';
import { MANAGED_BY } from './pod-spec.js';

export type PodListener = (pod: V1Pod, type: 'ADDED' | 'MODIFIED' | 'DELETED') => void;

/**
 * One watch on the Aloft pods of one namespace, shared by every pod task of this worker
 * process: a list, then a watch from the list's resourceVersion, resumed from the last
 * version seen after a dropped connection and re-listed when the server answers 410 Gone.
 * Keeps the latest object of every pod, so a task that starts listening late (or a worker
 * that adopts a running pod) gets the current state without asking the API server.
 */
export class PodWatcher {
  readonly #pods = new Map<string, V1Pod>();
  readonly #listeners = new Map<string, Set<PodListener>>();
  readonly #api: CoreV1Api;
  #rv: string | undefined;
  #abort: AbortController | undefined;
  #stopped = false;
  #started: Promise<void> | undefined;
  #retryMs = 100;
  #goneInARow = 0;
  /** Lists and watch connections made, for metrics and tests. */
  readonly stats = { lists: 0, watches: 0, gone: 0, drops: 0 };

  constructor(
    private readonly kc: KubeConfig,
    readonly namespace: string,
    private readonly logger: Logger,
  ) {
    this.#api = kc.makeApiClient(CoreV1Api);
  }

  /**
   * Starts (once) and resolves when the first list has been applied; rejects when that
   * list fails (wrong cluster, no permission), and the next call tries again.
   */
  start(): Promise<void> {
    this.#started ??= this.#firstList().then(
      () => {
        void this.#watch();
      },
      (err: unknown) => {
        this.#started = undefined;
        throw err;
      },
    );
    return this.#started;
  }

  async #firstList(): Promise<void> {
    this.stats.lists++;
    // A busy or failing API server (429/5xx) gets a few more chances; anything else fails now.
    let list;
    for (let attempt = 0; ; attempt++) {
      try {
        list = await this.#api.listNamespacedPod({ namespace: this.namespace, labelSelector: `${MANAGED_BY}=aloft` });
        break;
      } catch (err) {
        const code = (err as { code?: number }).code;
        if (attempt >= 6 || !(code === 429 || (code !== undefined && code >= 500))) throw err;
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
    for (const pod of list.items) this.#apply(pod, 'MODIFIED');
    this.#rv = list.metadata?.resourceVersion;
  }

  get(name: string): V1Pod | undefined {
    return this.#pods.get(name);
  }

  /** Pods known from the watch that no task of this worker is following now. */
  unfollowed(): V1Pod[] {
    return [...this.#pods].filter(([name]) => !this.#listeners.has(name)).map(([, pod]) => pod);
  }

  /** Calls `fn` on every change of the named pod, and at once with its current state if known. */
  subscribe(name: string, fn: PodListener): () => void {
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, (set = new Set()));
    set.add(fn);
    const now = this.#pods.get(name);
    if (now) queueMicrotask(() => set.has(fn) && fn(now, 'MODIFIED'));
    return () => {
      set.delete(fn);
      if (set.size === 0) this.#listeners.delete(name);
    };
  }

  /** Applies an object the caller got from the API (e.g. the create response). */
  observe(pod: V1Pod): void {
    this.#apply(pod, 'ADDED');
  }

  stop(): void {
    this.#stopped = true;
    this.#abort?.abort();
  }

  #apply(pod: V1Pod, type: 'ADDED' | 'MODIFIED' | 'DELETED'): void {
    const name = pod.metadata?.name;
    if (!name) return;
    const known = this.#pods.get(name);
    // Never go back to an older version of the object (the create response can arrive
    // after the watch already delivered a newer one).
    if (known && type !== 'DELETED' && Number(known.metadata?.resourceVersion) > Number(pod.metadata?.resourceVersion)) return;
    if (type === 'DELETED') this.#pods.delete(name);
    else this.#pods.set(name, pod);
    for (const fn of this.#listeners.get(name) ?? []) fn(pod, type);
  }

  async #list(): Promise<void> {
    for (;;) {
      try {
        this.stats.lists++;
        const list = await this.#api.listNamespacedPod({ namespace: this.namespace, labelSelector: `${MANAGED_BY}=aloft` });
        const seen = new Set<string>();
        for (const pod of list.items) {
          seen.add(pod.metadata!.name!);
          this.#apply(pod, 'MODIFIED');
        }
        // Pods deleted while nobody was watching.
        for (const [name, pod] of this.#pods) if (!seen.has(name)) this.#apply(pod, 'DELETED');
        this.#rv = list.metadata?.resourceVersion;
        this.#retryMs = 100;
        return;
      } catch (err) {
        if (this.#stopped) return;
        this.logger.warn({ err: String(err), namespace: this.namespace }, 'listing pods failed; retrying');
        await this.#pause();
      }
    }
  }

  async #pause(): Promise<void> {
    await new Promise((r) => setTimeout(r, this.#retryMs));
    this.#retryMs = Math.min(this.#retryMs * 2, 5_000);
  }

  async #watch(): Promise<void> {
    if (this.#stopped) return;
    let gone = false;
    let finished = false;
    const done = async (err: unknown) => {
      if (finished || this.#stopped) return;
      finished = true;
      if (gone) {
        this.stats.gone++;
        this.logger.info({ namespace: this.namespace }, 'pod watch expired (410 Gone); listing again');
        // Back off if the fresh list's version expires at once again.
        if (this.#goneInARow++ > 0) await this.#pause();
        await this.#list();
      } else {
        this.stats.drops++;
        if (err) this.logger.warn({ err: String(err), namespace: this.namespace, resourceVersion: this.#rv }, 'pod watch dropped; resuming');
        await this.#pause();
      }
      void this.#watch();
    };
    try {
      this.stats.watches++;
      this.#abort = await new Watch(this.kc).watch(
        `/api/v1/namespaces/${this.namespace}/pods`,
        { labelSelector: `${MANAGED_BY}=aloft`, resourceVersion: this.#rv, allowWatchBookmarks: true },
        (type: string, obj: V1Pod & { code?: number; metadata?: { resourceVersion?: string } }) => {
          if (type === 'ERROR') {
            if ((obj as { code?: number }).code === 410) gone = true;
            return;
          }
          if (obj.metadata?.resourceVersion) this.#rv = obj.metadata.resourceVersion;
          if (type === 'BOOKMARK') return;
          this.#retryMs = 100;
          this.#goneInARow = 0;
          this.#apply(obj, type as 'ADDED' | 'MODIFIED' | 'DELETED');
        },
        (err: unknown) => void done(err),
      );
    } catch (err) {
      // The request itself failed (410 on connect answers as an HTTP error too).
      if ((err as { statusCode?: number; code?: number }).statusCode === 410 || /410|Gone|Expired/.test(String(err))) gone = true;
      await done(err);
    }
  }
}
