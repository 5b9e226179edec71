import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CoreV1Api, Watch, type KubeConfig, type V1Pod } from '@kubernetes/client-node';

/**
 * The real-server tier: a real kube-apiserver (real-kube) that `node scripts/test.mjs`
 * starts and names in ALOFT_TEST_KUBECONFIG; when it could not, why (the tier is skipped).
 */
export const REAL_KUBE = {
  kubeconfig: process.env['ALOFT_TEST_KUBECONFIG'],
  skipReason:
    process.env['ALOFT_TEST_REAL_KUBE_SKIP'] ??
    (process.env['ALOFT_TEST_KUBECONFIG']
      ? undefined
      : 'ALOFT_TEST_KUBECONFIG is not set: run the tests through node scripts/test.mjs, which starts real-kube'),
  /** restart.sh COMPONENT on this stack (SIGNAL=KILL crashes it instead of a graceful stop). */
  restart(component: string, signal?: 'KILL'): void {
    const dir = process.env['ALOFT_TEST_REAL_KUBE_DIR']!;
    const r = spawnSync(join(dir, 'restart.sh'), [component, process.env['ALOFT_TEST_REAL_KUBE_STATE']!], {
      encoding: 'utf8',
      env: { ...process.env, ...(signal ? { SIGNAL: signal } : {}) },
    });
    if (r.status !== 0) throw new Error(`restart.sh ${component} failed: ${r.stderr || r.stdout}`);
  },
};

export interface PodSeen {
  type: string;
  name: string;
  uid: string;
  phase: string | undefined;
  deleting: boolean;
  labels: Record<string, string>;
}

/**
 * Every change to Aloft's pods in a namespace, as the API server reports it through a watch
 * of the test's own: which pods (by UID) existed, what phase each reached, when deletion began.
 */
export class PodHistory {
  readonly seen: PodSeen[] = [];
  #abort: AbortController | undefined;
  readonly api: CoreV1Api;

  constructor(
    readonly kc: KubeConfig,
    readonly namespace: string,
  ) {
    this.api = kc.makeApiClient(CoreV1Api);
  }

  async start(): Promise<void> {
    const list = await this.api.listNamespacedPod({ namespace: this.namespace });
    const watch = async (rv: string | undefined): Promise<void> => {
      let last = rv;
      this.#abort = await new Watch(this.kc).watch(
        `/api/v1/namespaces/${this.namespace}/pods`,
        { resourceVersion: last, allowWatchBookmarks: true },
        (type: string, pod: V1Pod) => {
          if (pod.metadata?.resourceVersion) last = pod.metadata.resourceVersion;
          if (type === 'ERROR' || type === 'BOOKMARK') return;
          this.seen.push({
            type,
            name: pod.metadata?.name ?? '',
            uid: pod.metadata?.uid ?? '',
            phase: pod.status?.phase,
            deleting: Boolean(pod.metadata?.deletionTimestamp),
            labels: pod.metadata?.labels ?? {},
          });
        },
        // A dropped watch (the API server restarted) resumes; after 410 Gone it lists again.
        (err: unknown) => {
          if (this.#abort === undefined) return;
          setTimeout(() => void watch(String(err).includes('410') ? undefined : last).catch(() => undefined), 500);
        },
      );
    };
    await watch(list.metadata?.resourceVersion);
  }

  stop(): void {
    const a = this.#abort;
    this.#abort = undefined;
    a?.abort();
  }

  /** Distinct pods (UIDs) whose labels match, in order of first sight. */
  uids(labels: Record<string, string>): string[] {
    const out: string[] = [];
    for (const s of this.seen) if (Object.entries(labels).every(([k, v]) => s.labels[k] === v) && !out.includes(s.uid)) out.push(s.uid);
    return out;
  }

  of(uid: string): PodSeen[] {
    return this.seen.filter((s) => s.uid === uid);
  }

  async exists(name: string): Promise<boolean> {
    return this.api.readNamespacedPod({ name, namespace: this.namespace }).then(
      () => true,
      (err: { code?: number }) => {
        if (err.code === 404) return false;
        throw err;
      },
    );
  }
}
