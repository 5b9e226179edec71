import type { CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from '@aloft/core';
import type { TaskLog } from '../../task-log.js';
import type { ExecResult } from '../types.js';
import { errorText, isCode, retrying, type RetryStats } from './api-retry.js';
import type { PodParams } from './pod-spec.js';

export interface PodCleanupOptions {
  api: Pick<CoreV1Api, 'deleteNamespacedPod'>;
  retries: RetryStats;
  logger: Pick<Logger, 'warn'>;
  log: Pick<TaskLog, 'system'>;
  /** The very pod the try launched or adopted: deletes carry its uid as a precondition. */
  pod: { namespace: string; name: string; uid: string | undefined };
  params: Pick<PodParams, 'onFinish' | 'terminationGracePeriodMs'>;
}

/**
 * The end of one try's pod: deleted at once when the try is cancelled (with the task's
 * termination grace), and after it finished as onFinish says (delete, deleteOnSuccess, keep).
 * A delete that fails for good is logged; a pod left behind keeps its labels and is found
 * again by the orphan sweep (KubernetesExecutor.sweepOrphans).
 */
export class PodCleanup {
  constructor(private readonly o: PodCleanupOptions) {}

  /** Deletes the pod now (a cancel or a timeout), within 30 s of retries. */
  async cancel(reason: string): Promise<void> {
    const { name, namespace, uid } = this.o.pod;
    const ms = this.o.params.terminationGracePeriodMs;
    this.o.log.system(`deleting pod ${namespace}/${name}: ${reason}`);
    await retrying(
      this.o.retries,
      () =>
        this.o.api.deleteNamespacedPod({
          name,
          namespace,
          gracePeriodSeconds: ms !== undefined ? Math.ceil(ms / 1000) : undefined,
          body: uid ? { preconditions: { uid } } : undefined,
        }),
      Date.now() + 30_000,
    ).catch((err: unknown) => {
      if (!isCode(err, 404)) this.o.log.system(`could not delete pod ${name}: ${errorText(err)}`);
    });
  }

  /** Deletes the finished pod as its onFinish says; the returned promise is the delete, which the result need not wait for. */
  afterFinish(res: ExecResult): Promise<void> {
    const { onFinish } = this.o.params;
    const { name, namespace, uid } = this.o.pod;
    if (!(onFinish === 'delete' || (onFinish === 'deleteOnSuccess' && res.outcome !== 'failed'))) {
      this.o.log.system(`pod ${namespace}/${name} kept (onFinish: ${onFinish})`);
      return Promise.resolve();
    }
    this.o.log.system(`deleting pod ${namespace}/${name} (onFinish: ${onFinish})`);
    return retrying(
      this.o.retries,
      () => this.o.api.deleteNamespacedPod({ name, namespace, body: uid ? { preconditions: { uid } } : undefined }),
      Date.now() + 60_000,
    ).then(
      () => undefined,
      (err: unknown) => {
        if (!isCode(err, 404)) this.o.logger.warn({ pod: `${namespace}/${name}`, err: errorText(err) }, 'could not delete a finished pod');
      },
    );
  }
}
