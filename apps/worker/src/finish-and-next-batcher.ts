/**
 * The worker's turn between tasks in one Redis call: a finished try is recorded when BullMQ
 * completes its job, by Store.finishAndNext (finishAndNext.lua), which records the finish,
 * completes the job as BullMQ's own moveToFinished does, fetches the queue's next job and
 * claims its try for this worker. Completions asked for in one turn of the event loop (tasks
 * that finished together) go in one call. BullMQ gets back exactly what its own call returns;
 * the claim waits here until the worker processes that job (`takeClaim`).
 *
 * BullMQ internals this depends on (BullMQ is pinned, 6.7.0 in apps/worker/package.json and
 * packages/core/package.json; an upgrade must re-read each of these):
 * - Worker's fourth constructor argument, a backend factory, and `createRedisBackend`: how
 *   `wrap` gets between the Worker and its Redis backend.
 * - `RedisQueueBackend.moveToCompleted(job, returnValue, removeOnComplete, token, fetchNext)`
 *   is the one call by which a Worker completes a job and fetches the next, made after its
 *   processor resolved (so a finish deferred by the processor is here when it comes), and
 *   its result `{ result: raw2NextJobData(raw) | [], finishedOn }`.
 * - `moveToCompletedArgs` and `moveToFinishedKeys` (through core's `completionArgs`): the
 *   keys and arguments of the `moveToFinished-14` script that finishAndNext.lua includes
 *   from the pinned BullMQ (`bullmq-command:moveToFinished-14`).
 * - The raw reply of moveToFinished: a negative number is an error code for
 *   `finishedErrors`, an array is the next job with its id at index 1, for `raw2NextJobData`.
 * Checked by apps/worker/test/finish-and-next-batcher.int.test.ts (a real BullMQ Worker).
 */
import { raw2NextJobData, type RedisQueueBackend } from 'bullmq';
import {
  completionArgs,
  type FinishAndNext,
  type FinishAndNextResult,
  type FinishInput,
  type Logger,
  type StartResult,
  type Store,
  type TaskInstanceKey,
  type TaskState,
} from '@aloft/core';

/** A finish that waits for BullMQ to complete its job. */
export interface DeferredFinish {
  key: TaskInstanceKey;
  tryNumber: number;
  input: FinishInput;
  /** The state recorded; undefined when the finish could not be recorded. */
  done: (state: TaskState | 'stale' | undefined) => void;
}

/** What the batcher needs from its worker (BullMQ's LockManager takes its context the same way). */
export interface FinishAndNextBatcherContext {
  store: Pick<Store, 'finishAndNext' | 'finishTi'>;
  logger: Pick<Logger, 'error'>;
  workerId: string;
  host: string;
  /** Takeovers after which a claimed try is failed as a poison pill (claim.lua); 0 for no cap. */
  maxDeaths: number;
}

/** Claims kept for fetched jobs not processed yet; past this many, all are dropped (each job then claims for itself). */
const MAX_CLAIMS = 1000;

export class FinishAndNextBatcher {
  /** Finishes handed to BullMQ's completion of their job, by job id. */
  readonly #deferred = new Map<string, DeferredFinish>();
  /** Claims already made for fetched jobs, by job id. */
  readonly #claimed = new Map<string, StartResult>();
  /** Read by tests instead of private fields. */
  readonly stats = { calls: 0, finishes: 0, claims: 0 };

  constructor(private readonly c: FinishAndNextBatcherContext) {}

  /** The finish of job `jobId` is recorded when BullMQ completes that job, with the next claim. */
  defer(jobId: string, finish: DeferredFinish): void {
    this.#deferred.set(jobId, finish);
  }

  /** The claim made for `jobId` when it was fetched, if any; taken once. */
  takeClaim(jobId: string | undefined): StartResult | undefined {
    if (jobId === undefined) return undefined;
    const claim = this.#claimed.get(jobId);
    if (claim) this.#claimed.delete(jobId);
    return claim;
  }

  /**
   * Records the finishes BullMQ never completed (the worker closed first), one by one,
   * without completing their jobs. Call after every BullMQ worker has closed.
   */
  async drain(): Promise<void> {
    for (const [id, p] of this.#deferred) {
      this.#deferred.delete(id);
      p.done(await this.c.store.finishTi(p.key, p.tryNumber, p.input).catch(() => undefined));
    }
  }

  /** BullMQ's Redis backend for one queue, with its job completion widened (see the header). */
  wrap(backend: RedisQueueBackend): RedisQueueBackend {
    const complete = backend.moveToCompleted.bind(backend);
    let batch: { finish: FinishAndNext; resolve: (r: FinishAndNextResult | Error) => void }[] = [];
    const flush = () => {
      const now = batch;
      batch = [];
      this.stats.calls++;
      this.stats.finishes += now.length;
      this.c.store
        .finishAndNext(
          now.map((b) => b.finish),
          { workerId: this.c.workerId, host: this.c.host, maxDeaths: this.c.maxDeaths },
        )
        .then(
          (rs) => now.forEach((b, i) => b.resolve(rs[i] ?? new Error('finishAndNext: no reply'))),
          (err: unknown) => now.forEach((b) => b.resolve(err instanceof Error ? err : new Error(String(err)))),
        );
    };
    backend.moveToCompleted = async (job, returnValue, removeOnComplete, token, fetchNext) => {
      const p = job.id === undefined ? undefined : this.#deferred.get(job.id);
      if (!p) return complete(job, returnValue, removeOnComplete, token, fetchNext);
      this.#deferred.delete(job.id!);
      const { keys, args, finishedOn } = completionArgs(backend, job, removeOnComplete, token, fetchNext);
      const finish: FinishAndNext = { key: p.key, tryNumber: p.tryNumber, finish: p.input, bull: { keys, args } };
      if (batch.length === 0) setImmediate(flush);
      const r = await new Promise<FinishAndNextResult | Error>((resolve) => batch.push({ finish, resolve }));
      const at = { dag: p.key.dagId, run: p.key.runId, task: p.key.taskId };
      if (r instanceof Error) {
        this.c.logger.error({ err: r, ...at }, 'could not record a finished task; its job fails');
        throw r;
      }
      p.done(r.state);
      if (r.claimError)
        this.c.logger.error({ err: new Error(r.claimError), ...at }, 'could not claim the next job with this finish; it is claimed when it runs');
      if (typeof r.bull === 'number' && r.bull < 0) {
        throw backend.finishedErrors({ code: r.bull, jobId: job.id, command: 'moveToFinished', state: 'active' });
      }
      const next = Array.isArray(r.bull) ? (r.bull as unknown[]) : undefined;
      if (next?.[1] && r.claim) {
        if (this.#claimed.size >= MAX_CLAIMS) this.#claimed.clear();
        this.#claimed.set(String(next[1]), r.claim);
        this.stats.claims++;
      }
      return { result: next ? raw2NextJobData(next) : [], finishedOn };
    };
    return backend;
  }
}
