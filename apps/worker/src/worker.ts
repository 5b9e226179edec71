import { hostname } from 'node:os';
import { createRedisBackend, DelayedError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import {
  AloftClient,
  type Logger,
  type SerializedDag,
  type SerializedTask,
  type Store,
  type SlaMiss,
  type TaskCallbackSlot,
  type TaskInstanceKey,
  isNonRetryable,
  retryAllowed,
  type TaskState,
  type FinishInput,
  type RedisOutageLog,
  type UserCodeIdentity,
  type TemplateInfo,
  type ClaimedRun,
  type SecretsBackend,
} from '@aloft/core';
import { CallbackRunner } from './callback-runner.js';
import { FinishAndNextBatcher } from './finish-and-next-batcher.js';
import { CommandExecutor } from './executors/command.js';
import type { ExecutorsByKind } from './executors/executor.js';
import { FnHost } from './executors/fn-host.js';
import type { FnPoolOptions } from './executors/fn-pool.js';
import { FunctionExecutor } from './executors/function.js';
import { SensorExecutor } from './executors/sensor.js';
import { runParams } from './executors/task-env.js';
import { TriggerDagRunExecutor } from './executors/trigger-dag-run.js';
import { KubernetesExecutor } from './executors/kubernetes/executor.js';
import type { PodReferenceAllowList } from './executors/kubernetes/pod-references.js';
import { TaskPods, type TaskPodDefaults } from './executors/kubernetes/task-pods.js';
import type { ExecEnv, ExecResult, RunningTask } from './executors/types.js';
import { killGroup } from './process-group.js';
import { Reaper } from './reaper.js';
import { TaskInputs } from './task-inputs.js';
import { TaskLog } from './task-log.js';
import { UserCodePolicy } from './user-code-policy.js';
import { TemplateRenderer } from './template-renderer.js';
import { TrySecrets } from './try-secrets.js';

export type { TaskPodDefaults } from './executors/kubernetes/task-pods.js';

type WorkerDag = SerializedDag & { byId: Map<string, SerializedTask> };

export interface JobData {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  try: number;
  /** Set on callback jobs (run callbacks, SLA misses), queued by the store's scripts. */
  callback?: string | undefined;
  state?: string | undefined;
  reason?: string | undefined;
  sla?: SlaMiss | undefined;
  /** The task an SLA miss is about when the DAG's onSlaMiss hears it. */
  slaTask?: string | undefined;
}

export interface AloftWorkerOptions {
  store: Store;
  /** The worker's environment, of which user code, the reaper and the template process get the allow-listed part. */
  env: NodeJS.ProcessEnv;
  /** Creates a Redis connection for BullMQ (one per queue worker). */
  connection: () => Redis;
  logger: Logger;
  /** Connection errors BullMQ reports (its own connections too) are part of the outage this logs once. */
  outage?: RedisOutageLog;
  queues: string[];
  concurrency: number;
  workerId: string;
  /**
   * Where this worker's processes live: a takeover on the same host ends the previous
   * holder's process group itself. Default: the OS host name.
   */
  host?: string | undefined;
  lockMs: number;
  heartbeatMs: number;
  killGraceMs: number;
  maxOutputBytes: number;
  /** The DAG folder, so a function task in a pod finds its file relative to the pod's own. */
  dagsFolder?: string;
  /** Tasks that run in their own pod (runInPod): the task image, its entrypoint, namespace, DAG folder. */
  taskPods?: TaskPodDefaults;
  /** The Secrets and ConfigMaps task pods may refer to; default every name. */
  podReferences?: PodReferenceAllowList;
  /** Pods go to the quick start's local stand-in (ALOFT_K8S_STAND_IN): each pod task's log says so. */
  podsOnStandIn?: boolean;
  /** Function runner processes: how many to keep warm, and when extra idle ones stop. */
  fnRunners?: FnPoolOptions;
  /** Kubernetes pod tasks: the cluster (unset: KUBECONFIG or in-cluster) and the default startup timeout. */
  kubernetes?: {
    kubeconfig?: string | undefined;
    context?: string | undefined;
    defaultCluster?: boolean;
    startupTimeoutMs: number;
    createConcurrency?: number;
    orphanSweepMs?: number;
  };
  registry: Registry;
  /** A callback still running after this long is stopped and logged. Default 60 s. */
  callbackTimeoutMs?: number;
  /** Who runs user code (userCodeIdentity: ALOFT_USER_CODE_USER); unset: the worker's own user. */
  userCode?: UserCodeIdentity | undefined;
  /** Limits of task templates (ALOFT_TEMPLATE_*); defaults 2 s, 1 MiB, 128 MB. */
  templates?: { timeoutMs: number; maxBytes: number; heapMb: number };
  /**
   * A try whose worker died this often is failed instead of taken over again (a poison
   * pill; ALOFT_MAX_TAKEOVERS, 0 for no cap). Default 3.
   */
  maxTakeovers?: number;
  /**
   * How often a try whose pod the cluster ended (evicted, preempted, node lost, deleted) runs
   * again in a new pod without using a retry, per instance (ALOFT_POD_INFRA_REQUEUES). Default 3.
   */
  podInfraRequeues?: number;
  /** Where tasks' connections and variables come from, in order (ALOFT_SECRETS_BACKENDS); default none. */
  secrets?: readonly SecretsBackend[];
}

interface RunningEntry {
  task: RunningTask;
  /** When the job's lock was last taken or renewed, as this worker heard of it. */
  lockedAt: number;
  /** Stops the try without recording it: another worker owns it now, or soon will. */
  lose: (why: string) => void;
  handBack: () => void;
  /** Checks the try is still this worker's in Redis, and stops it when not. */
  verify: () => Promise<void>;
  /** Stops this copy without recording it: the same try was delivered here again. */
  supersede: (why: string) => void;
}

/**
 * Claims task-instance jobs from BullMQ queues and runs them: commands in their own process
 * group, functions in the warm threads of the fn host process; both as the user-code user,
 * without the worker's credentials (UserCodePolicy). Records the result and, in the same
 * atomic step, enqueues whatever became ready downstream.
 */
export class AloftWorker {
  readonly #workers: Worker[] = [];
  readonly #running = new Map<string, RunningEntry>();
  /** Stops tries whose job lock may have expired (see #fenceLocks). */
  #fence: NodeJS.Timeout | undefined;
  /** Repeated lock warnings are quiet until then, by queue (#queueError). */
  readonly #quietUntil = new Map<string, number>();
  readonly #dags = new Map<string, Promise<WorkerDag | undefined>>();
  readonly #inputs: TaskInputs;
  /** Runs the functions of DAG files, in a process of its own (fn-host.ts). */
  readonly #fnPool: FnHost;
  readonly #userCode: UserCodePolicy;
  readonly #callbacks: CallbackRunner;
  readonly #templates: TemplateRenderer;
  readonly #k8s: KubernetesExecutor;
  readonly #host: string;
  readonly #reaper: Reaper;
  /** The executor of each task kind. */
  readonly #executors: ExecutorsByKind;
  readonly #metrics;
  /** Records finishes as BullMQ completes their jobs, with the claim of the next job (finish-and-next-batcher.ts). */
  readonly #batcher: FinishAndNextBatcher;
  #closing = false;
  /** Ends the pause in claiming after a reconnect to Redis (see #fenceAfterReconnect). */
  #reconnectFence: NodeJS.Timeout | undefined;

  constructor(private readonly o: AloftWorkerOptions) {
    this.#userCode = new UserCodePolicy({
      identity: o.userCode,
      reads: [
        ...(o.dagsFolder ? [{ path: o.dagsFolder, kind: 'dir' as const }] : []),
        // Where commands without a cwd start.
        { path: process.cwd(), kind: 'dir' },
        ...FnHost.codePaths().map((path) => ({ path, kind: 'file' as const })),
      ],
      baseEnv: o.env,
      logger: o.logger,
    });
    this.#fnPool = new FnHost({
      pool: o.fnRunners ?? { warm: 0, idleMs: 600_000 },
      env: this.#userCode.env(this.#userCode.identity),
      identity: this.#userCode.identity,
      logger: o.logger,
      killGraceMs: o.killGraceMs,
      onStart: (pgid, tag) => this.#reaper.watch(pgid, tag),
      onEnd: (pgid) => this.#reaper.forget(pgid),
    });
    this.#k8s = new KubernetesExecutor({
      store: o.store,
      logger: o.logger,
      kubeconfig: o.kubernetes?.kubeconfig,
      context: o.kubernetes?.context,
      defaultCluster: o.kubernetes?.defaultCluster,
      defaultStartupTimeoutMs: o.kubernetes?.startupTimeoutMs ?? 120_000,
      createConcurrency: o.kubernetes?.createConcurrency,
      orphanSweepMs: o.kubernetes?.orphanSweepMs,
      references: o.podReferences,
    });
    this.#host = o.host ?? hostname();
    this.#batcher = new FinishAndNextBatcher({ store: o.store, logger: o.logger, workerId: o.workerId, host: this.#host, maxDeaths: o.maxTakeovers ?? 3 });
    // Ordering after kill -9 (tests/reaper.test.ts): no other worker can claim a try before
    // BullMQ sees its job stalled, which needs the dead worker's lock to expire. The lock
    // (lockMs) is renewed at least every lockMs/2 (lockRenewTime below, first renewal
    // included), so it outlives the worker by at least lockMs/2. The reaper sees the worker
    // die at once (EOF) and SIGKILLs by lockMs/8, so the groups are gone before the
    // takeover, on this host or any other.
    this.#reaper = new Reaper({ graceMs: Math.min(o.killGraceMs, Math.floor(o.lockMs / 8)), logger: o.logger, env: o.env });
    this.#templates = new TemplateRenderer({
      timeoutMs: 2000,
      maxBytes: 1 << 20,
      heapMb: 128,
      ...o.templates,
      logger: o.logger,
      env: o.env,
      registry: o.registry,
      processes: { started: (pgid) => this.#reaper.watch(pgid), ended: (pgid) => this.#reaper.forget(pgid) },
      identity: this.#userCode.identity,
    });
    this.#inputs = new TaskInputs(o.store);
    this.#callbacks = new CallbackRunner({
      store: o.store,
      dagVersion: (dagId, version) => this.#dagVersion(dagId, version),
      fnPool: this.#fnPool,
      logger: o.logger,
      timeoutMs: o.callbackTimeoutMs ?? 60_000,
      killGraceMs: o.killGraceMs,
      registry: o.registry,
    });
    const pods = new TaskPods({ k8s: this.#k8s, defaults: o.taskPods, onStandIn: o.podsOnStandIn });
    const fn = new FunctionExecutor({ fnHost: this.#fnPool, pods, dagsFolder: o.dagsFolder });
    this.#executors = {
      command: new CommandExecutor({ userCode: this.#userCode, pods }),
      fn,
      branch: fn,
      shortCircuit: fn,
      empty: { start: () => Promise.resolve({ result: Promise.resolve({ outcome: 'success' }), cancel: async () => undefined }) },
      // Creates runs as a manual trigger does.
      triggerDagRun: new TriggerDagRunExecutor({ client: new AloftClient({ store: o.store }) }),
      sensor: new SensorExecutor({ store: o.store, fnHost: this.#fnPool, onPoke: (mode) => this.#metrics.pokes.inc({ mode }) }),
      kubernetesPod: pods,
    };
    this.#metrics = {
      finished: new Counter({
        name: 'aloft_worker_tasks_total',
        help: 'Task tries finished by this worker, by outcome',
        labelNames: ['outcome', 'queue'],
        registers: [o.registry],
      }),
      duration: new Histogram({
        name: 'aloft_worker_task_duration_seconds',
        help: 'Task try duration',
        labelNames: ['queue'],
        buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600],
        registers: [o.registry],
      }),
      running: new Gauge({ name: 'aloft_worker_running_tasks', help: 'Tasks running on this worker', registers: [o.registry] }),
      pokes: new Counter({
        name: 'aloft_worker_sensor_pokes_total',
        help: 'Sensor pokes by this worker, by mode',
        labelNames: ['mode'],
        registers: [o.registry],
      }),
      rescheduled: new Counter({
        name: 'aloft_worker_sensor_reschedules_total',
        help: 'Reschedule-mode sensor pokes that handed their slot back until the next poke',
        registers: [o.registry],
      }),
    };
  }

  get runningCount(): number {
    return this.#running.size;
  }

  get isRunning(): boolean {
    return this.#workers.length > 0 && this.#workers.every((w) => w.isRunning());
  }

  start(): void {
    for (const queue of this.o.queues) {
      const worker = new Worker<JobData>(
        queue,
        (job, token) => this.#process(queue, job, token),
        {
          connection: this.o.connection(),
          prefix: this.o.store.keys.bullPrefix,
          concurrency: this.o.concurrency,
          lockDuration: this.o.lockMs,
          // Renewed every lockMs/4 to lockMs·3/8 (BullMQ's default, lockMs/2, lets a lock go
          // 3/4 of its life unrenewed): the margins #fenceLocks and the reaper count on.
          lockRenewTime: Math.floor(this.o.lockMs / 4),
          stalledInterval: this.o.lockMs,
          // A stalled job is a worker that died; the next worker takes the instance over.
          maxStalledCount: 100,
          removeOnComplete: { count: 0 },
          removeOnFail: { count: 0 },
        },
        (name, opts, flags) => this.#batcher.wrap(createRedisBackend(name, opts, flags)),
      );
      worker.on('error', (err) => {
        if (!this.o.outage?.report(err, `queue ${queue}`)) this.#queueError(err, queue);
      });
      worker.on('locksRenewed', ({ jobIds }) => {
        const now = Date.now();
        for (const id of jobIds) {
          const r = this.#running.get(id);
          if (r) r.lockedAt = now;
        }
      });
      worker.on('lockRenewalFailed', (jobIds) => {
        for (const id of jobIds)
          this.#running
            .get(id)
            ?.lose(
              "this worker lost the job's lock (Redis was unreachable or restarted for longer than the lock); stopping this try, which another worker takes over",
            );
      });
      this.#workers.push(worker);
    }
    this.#fence ??= setInterval(() => this.#fenceLocks(), Math.max(50, Math.floor(this.o.lockMs / 8)));
    this.#fence.unref();
    void this.#fnPool.prewarm();
    this.#templates.start();
    let connected = this.o.store.redis.status === 'ready';
    this.o.store.redis.on('ready', () => {
      if (connected) this.#fenceAfterReconnect();
      connected = true;
    });
    this.o.logger.info({ queues: this.o.queues, concurrency: this.o.concurrency, worker: this.o.workerId }, 'worker started');
  }

  /**
   * Redis came back: it may be another server (a Sentinel failover) or the same one restarted
   * from its AOF, and either can have rolled back claims made just before. A rolled-back claim
   * is not this worker's any more, and another worker may claim the same try again. So every
   * running try checks its claim at once (state, try and holder; a mismatch stops it), and this
   * worker takes no new job for long enough (two heartbeats plus the kill grace) that every other
   * worker has done the same before anyone claims what was rolled back. Checked by
   * tests/failover.test.ts ("a claim rolled back by a lagging failover …").
   */
  #fenceAfterReconnect(): void {
    if (this.#closing) return;
    const fenceMs = 2 * this.o.heartbeatMs + this.o.killGraceMs;
    this.o.logger.warn({ running: this.#running.size, fenceMs }, 'reconnected to Redis: checking every running claim; taking no new job meanwhile');
    for (const r of this.#running.values()) void r.verify();
    for (const w of this.#workers) if (!w.isPaused()) void w.pause(true);
    clearTimeout(this.#reconnectFence);
    this.#reconnectFence = setTimeout(() => {
      if (this.#closing) return;
      for (const w of this.#workers) void w.resume();
    }, fenceMs);
    this.#reconnectFence.unref();
  }

  /**
   * Stops taking jobs, lets running tasks finish for up to `graceMs`, then stops the rest
   * and hands their instances back to the queue for another worker. Tasks that run on
   * without the worker (pods) are handed back at once and left running: the next holder
   * adopts each pod and follows its log from where this worker stopped (tests/kubernetes.test.ts,
   * "a worker stopped with SIGTERM hands its pod back").
   */
  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#reconnectFence);
    const closing = Promise.all(this.#workers.map((w) => w.close()));
    for (const [id, r] of this.#running) {
      if (!r.task.detach) continue;
      this.o.logger.info({ ti: id }, 'handing a pod task back; its pod runs on');
      r.handBack();
    }
    const timer = setTimeout(() => {
      for (const [id, r] of this.#running) {
        this.o.logger.warn({ ti: id }, 'grace period over; handing the task back');
        r.handBack();
      }
    }, graceMs);
    await closing;
    clearTimeout(timer);
    // Fenced until every try is done or handed back.
    clearInterval(this.#fence);
    // BullMQ completes every job it ran before close resolves; anything left was not sent.
    await this.#batcher.drain();
    await this.#fnPool.close();
    await this.#templates.stop();
    this.#k8s.close();
    this.#reaper.close();
  }

  /**
   * BullMQ's worker errors. A job lock that lapsed (Redis away for longer than the lock) fails
   * every renewal and the finish of a try that ended meanwhile: warnings, one per queue every
   * 10 s, since #fenceLocks stops such tries and BullMQ hands their jobs on. Anything else is
   * an error.
   */
  #queueError(err: Error, queue: string): void {
    if (!/^(could not renew lock|Missing lock|Lock mismatch) for job/.test(err.message)) return void this.o.logger.error({ err, queue }, 'queue worker error');
    const now = Date.now();
    if ((this.#quietUntil.get(queue) ?? 0) > now) return;
    this.#quietUntil.set(queue, now + 10_000);
    this.o.logger.warn({ err: err.message, queue }, 'a job lock lapsed (Redis away for longer than ALOFT_LOCK_MS?); its try goes to the next worker');
  }

  /**
   * Self-fencing: a try whose job lock went unrenewed for 3/4 of its life is stopped (and
   * not recorded) before the lock can expire, so no other worker can claim it while it still
   * runs here, however long Redis stays away. Normal renewals come every lockMs/4 to
   * lockMs·3/8 (lockRenewTime); `lockedAt` is when this worker heard of the renewal, which
   * is after Redis made it, so the margin holds while a renewal's reply takes under lockMs/4.
   * tests/chaos.test.ts (Redis restarted during runs) checks that no try runs twice at once.
   */
  #fenceLocks(): void {
    const now = Date.now();
    for (const r of this.#running.values()) {
      if (now - r.lockedAt > (this.o.lockMs * 3) / 4)
        r.lose(
          `no renewal of the job's lock for ${now - r.lockedAt} ms (Redis unreachable?); stopping this try before the lock expires; another worker takes it over`,
        );
    }
  }

  /**
   * A stored DAG version, read and parsed once per worker: versions are immutable. The
   * promise is what is kept, so the tasks that start together on a version not seen yet
   * (16 of a 10,000-task DAG, say) share one read and one parse.
   */
  #dagVersion(dagId: string, version: string): Promise<WorkerDag | undefined> {
    const k = `${dagId}@${version}`;
    let d = this.#dags.get(k);
    if (!d) {
      d = this.o.store.getDagVersion(dagId, version).then((s) => (s ? { ...s, byId: new Map(s.tasks.map((t) => [t.id, t])) } : undefined));
      // Keep the most recent few hundred; a failed or missing read is not kept.
      if (this.#dags.size >= 256) this.#dags.delete(this.#dags.keys().next().value!);
      this.#dags.set(k, d);
      d.then(
        (v) => v === undefined && this.#dags.delete(k),
        () => this.#dags.delete(k),
      );
    }
    return d;
  }

  /** One task job: claim its try, prepare its inputs, execute it, record the result. */
  async #process(queue: string, job: Job<JobData>, token: string | undefined): Promise<void> {
    const d = job.data;
    if (d.callback) return this.#callbacks.forJob(d);
    const claim = await this.#claim(queue, job, token);
    if (!claim) return;
    this.#metrics.running.inc();
    const started = Date.now();
    let ran: Ran;
    let prepared: Prepared | undefined;
    try {
      const p = await this.#prepare(d, claim.run, claim.outputs);
      if ('outcome' in p) ran = { result: p };
      else {
        prepared = p;
        ran = await this.#execute(job, p, claim.log, started, claim.secrets);
      }
    } catch (err) {
      ran = {
        result: {
          outcome: 'failed',
          reason: `could not run the task: ${err instanceof Error ? err.message : String(err)}`,
          noRetry: isNonRetryable(err) || undefined,
        },
      };
    } finally {
      this.#metrics.running.dec();
    }
    await this.#record(queue, job, token, { ...ran, result: claim.secrets.mask(ran.result), log: claim.log, started, callbackBase: prepared });
  }

  /**
   * Claims the job's try for this worker (or takes the claim made when the job was fetched),
   * and stops an earlier copy of the same try still running here. Undefined: nothing to run
   * (a stale job, or a poison pill the claim itself failed); a busy instance is delayed.
   */
  async #claim(
    queue: string,
    job: Job<JobData>,
    token: string | undefined,
  ): Promise<{ run: ClaimedRun; outputs?: Record<string, unknown> | undefined; log: TaskLog; secrets: TrySecrets } | undefined> {
    const { store, logger } = this.o;
    const d = job.data;
    const key = keyOf(d);
    const claim =
      this.#batcher.takeClaim(job.id) ??
      (await store.startTi(key, d.try, this.o.workerId, this.#host, {
        log: true,
        outputs: true,
        deaths: job.stalledCounter,
        maxDeaths: this.o.maxTakeovers ?? 3,
      }));
    if (claim.status === 'stale') {
      logger.debug({ job: job.id }, 'stale job dropped');
      return undefined;
    }
    if (claim.status === 'poison') {
      // Recorded by the claim itself (includes/claim-try.lua); the job just completes, after
      // the task's failure or retry callback, as Airflow runs them for a zombie's try.
      logger.warn({ dag: d.dagId, run: d.runId, task: d.taskId, try: d.try, state: claim.state }, claim.reason);
      if (claim.state === 'stale') return undefined;
      this.#metrics.finished.inc({ outcome: claim.state, queue });
      const slot = AFTER_FINISH[claim.state];
      // Without the upstream outputs: what killed the workers may be reading them.
      const p = slot ? await this.#prepare(d, claim.run, undefined, false) : undefined;
      if (slot && p && 'task' in p && p.task.callbacks?.[slot]) {
        const log = new TaskLog(store, key, d.try, new TrySecrets(this.o.secrets ?? []).masker);
        await this.#callbacks.forTask(slot, p, claim.state, claim.reason, log);
        await log.close();
      }
      return undefined;
    }
    if (claim.status === 'busy' || claim.status === 'pool') {
      await job.moveToDelayed(Date.now() + 500 + Math.floor(Math.random() * 500), token);
      throw new DelayedError();
    }
    const earlier = this.#running.get(runningId(job));
    if (earlier) {
      // The same try delivered again to this worker while it still runs it: Redis lost the
      // claim (a failover or a restart) and the job came back. One run of a try at a time: the
      // earlier one stops without recording anything, this delivery runs it.
      earlier.supersede('this try was delivered again after Redis lost its claim; stopping this copy');
      await earlier.task.result.catch(() => undefined);
    }
    const secrets = new TrySecrets(this.o.secrets ?? []);
    const log = new TaskLog(store, key, d.try, secrets.masker);
    if (claim.status === 'takeover') {
      log.system(`worker ${claim.previousWorker} stopped answering; ${this.o.workerId} takes this try over`);
      if (claim.previousHost === this.#host && claim.previousPgid) await killGroup(claim.previousPgid, this.o.killGraceMs);
    }
    return { run: claim.run, outputs: claim.outputs, log, secrets };
  }

  /**
   * The stored DAG version's task and what it runs with; a failed result when the task is gone.
   * `withInputs` false: no upstream outputs are read (`outputs` is empty, `args` the task's own).
   */
  async #prepare(d: JobData, run: ClaimedRun, claimedOutputs: Record<string, unknown> | undefined, withInputs = true): Promise<Prepared | ExecResult> {
    const dag = await this.#dagVersion(d.dagId, run.version);
    const task = dag?.byId.get(d.taskId);
    if (!dag || !task) return { outcome: 'failed', reason: `task "${d.taskId}" is not in the stored DAG "${d.dagId}"` };
    const { outputs, args } = withInputs ? await this.#inputs.of(dag, task, d, claimedOutputs) : { outputs: {}, args: { ...task.args } };
    const info: TaskInfo = {
      dagId: d.dagId,
      runId: d.runId,
      taskId: d.taskId,
      mapIndex: d.mapIndex,
      tryNumber: d.try,
      args,
      logicalDate: new Date(run.logicalDate),
      dataIntervalStart: new Date(run.dataIntervalStart),
      dataIntervalEnd: new Date(run.dataIntervalEnd),
      timezone: dag.timezone,
      params: runParams(dag, run.conf),
      conf: run.conf,
      outputs,
    };
    return { dag, task, info };
  }

  /**
   * Runs the try with its kind's executor until it ends, is stopped (execution timeout, the
   * instance changed, the lock lost) or handed back, keeping it in #running meanwhile.
   */
  async #execute(job: Job<JobData>, p: Prepared, log: TaskLog, started: number, secrets: TrySecrets): Promise<Ran> {
    const { store } = this.o;
    const { dag, task, info } = p;
    const d = job.data;
    const key = keyOf(d);
    const id = runningId(job);
    let handedBack = false;
    let externallyChanged: string | undefined;
    /** Why this worker no longer owns the try (its job lock is gone, or about to be). */
    let lost: string | undefined;
    if (task.callbacks?.onExecute) await this.#callbacks.forTask('onExecute', p, 'running', undefined, log);
    const running = await this.#start(task, dag, info, { log, killGraceMs: this.o.killGraceMs, secrets, processes: this.#reaper }, key);
    if (running.pgid) await store.setTiPgid(key, running.pgid);
    let timedOut: string | undefined;
    const timeout =
      task.executionTimeoutMs !== null
        ? setTimeout(() => {
            timedOut = `execution timeout: still running after ${task.executionTimeoutMs} ms`;
            log.system(timedOut);
            void running.cancel(timedOut);
          }, task.executionTimeoutMs)
        : undefined;
    const stop = (why: string, owned: boolean) => {
      if (externallyChanged || lost) return;
      if (owned) externallyChanged = why;
      else lost = why;
      log.system(why);
      // A pod goes on for the next holder to adopt; anything else must stop here.
      void (!owned && running.detach ? running.detach(why) : running.cancel(why));
    };
    // Still this worker's try? The holder is compared too: a claim rolled back by a Redis
    // failover and made again by another worker shows the same state and try.
    const verify = () =>
      store.getTiStateAndTry(key).then(
        ({ state, try: t, worker }) => {
          if (state !== 'running' || t !== d.try) stop(`the task instance is now ${state ?? 'gone'} (try ${t}); stopping this try`, true);
          else if (worker !== undefined && worker !== this.o.workerId) stop(`worker ${worker} took this try over; stopping it here`, false);
        },
        () => undefined,
      );
    const heartbeat = setInterval(() => void verify(), this.o.heartbeatMs);
    const handBack = () => {
      handedBack = true;
      void (running.detach ? running.detach('worker shutting down') : running.cancel('worker shutting down'));
    };
    this.#running.set(id, {
      task: running,
      // The job's lock was taken when BullMQ moved it to active.
      lockedAt: job.processedOn ?? started,
      lose: (why) => stop(why, false),
      handBack,
      verify,
      supersede: (why) => stop(why, true),
    });
    // A pod task that started while the worker was already closing goes back at once too.
    if (this.#closing && running.detach) handBack();
    let result: ExecResult;
    try {
      result = await running.result;
    } finally {
      clearTimeout(timeout);
      clearInterval(heartbeat);
      this.#running.delete(id);
      if (running.pgid) this.#reaper.forget(running.pgid);
    }
    if (timedOut) result = { outcome: 'failed', reason: timedOut, exitCode: result.exitCode };
    if (result.outcome === 'success') result = this.#checkOutput(task, result);
    return { result, handedBack, externallyChanged, lost };
  }

  /**
   * What becomes of the try and its job: nothing recorded when the try is no longer this
   * worker's or was handed back; a reschedule; or the finish, fused with BullMQ's completion
   * of the job (FinishAndNextBatcher) unless a finish callback must follow it here.
   */
  async #record(
    queue: string,
    job: Job<JobData>,
    token: string | undefined,
    r: Ran & { log: TaskLog; started: number; callbackBase: Prepared | undefined },
  ): Promise<void> {
    const { store, logger } = this.o;
    const { log, started, callbackBase, handedBack, externallyChanged, lost } = r;
    const { result } = r;
    const d = job.data;
    const key = keyOf(d);
    if (result.reason && result.outcome !== 'success') log.system(`${result.outcome}: ${result.reason}`);
    if (externallyChanged || handedBack || lost) await log.close();
    if (lost) {
      // Not recorded, and the job not completed: the try belongs to whoever holds the job's
      // lock. With the lock still ours (a fence on a late renewal), the job goes back to be
      // taken over at once; with it gone, moving fails and BullMQ's stalled check hands the
      // job on. Completing it here would leave the instance running with no job.
      await job.moveToDelayed(Date.now(), token).catch(() => undefined);
      throw new DelayedError();
    }
    if (externallyChanged) return;
    if (handedBack) {
      await store.releaseTi(key, d.try);
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    }
    if (result.outcome === 'failed' && result.infra) {
      // The cluster ended the pod, not the task: the same try runs again in a new pod, up to
      // podInfraRequeues times per instance, and no retry is used.
      const cap = this.o.podInfraRequeues ?? 3;
      const again = cap > 0 ? await store.requeueTi(key, d.try, `${result.reason ?? 'the pod was ended'}; running the try again in a new pod`, cap) : 'capped';
      if (again === 'stale') return;
      if (again === 'requeued') {
        log.system(`${result.reason ?? 'the pod was ended'}: the cluster ended the pod, so this try runs again in a new pod (no retry used)`);
        await log.close();
        this.#metrics.rescheduled.inc();
        await job.moveToDelayed(Date.now() + 1000, token);
        throw new DelayedError();
      }
      if (cap > 0) log.system(`the cluster ended this try's pod ${cap + 1} times; it fails (ALOFT_POD_INFRA_REQUEUES)`);
    }
    if (result.outcome === 'reschedule') {
      // Two steps: the instance gives its slots back, then the same job waits as delayed. A
      // worker that dies between them leaves a stalled job that is redelivered and pokes
      // early (startTi takes up_for_reschedule with the same try); a lost job is re-added by
      // the sweep once nextPokeAt has passed.
      const nextPokeAt = result.nextPokeAt ?? Date.now();
      const rs = await store.rescheduleTi(key, d.try, { nextPokeAt, pokes: result.pokes ?? 0, logLines: await log.takeRest() });
      this.#metrics.rescheduled.inc();
      if (rs === 'stale') return;
      await job.moveToDelayed(nextPokeAt, token);
      throw new DelayedError();
    }
    // The task's retryPolicy decides whether a failed try may be retried (the store decides if any are left).
    let noRetry = result.noRetry;
    const policy = callbackBase?.task.retryPolicy;
    if (result.outcome === 'failed' && policy && !noRetry) {
      const failed = { exitCode: result.exitCode, reason: result.reason ?? '', error: result.errorName, durationMs: Date.now() - started, try: d.try };
      const decision = retryAllowed(policy, failed);
      if (!decision.retry) {
        noRetry = true;
        log.system(decision.why);
      }
    }
    const input: FinishInput = {
      outcome: result.outcome,
      output: result.outputJson,
      reason: result.reason,
      exitCode: result.exitCode,
      follow: result.follow,
      skipDescendants: result.skipDescendants,
      noRetry,
      logLines: await log.takeRest(),
    };
    const finished = (state: TaskState | 'stale' | undefined) => {
      if (state === undefined) return;
      this.#metrics.finished.inc({ outcome: state, queue });
      this.#metrics.duration.observe({ queue }, (Date.now() - started) / 1000);
      logger.info({ dag: d.dagId, run: d.runId, task: d.taskId, try: d.try, state, ms: Date.now() - started }, 'task finished');
    };
    const callbacks = callbackBase?.task.callbacks;
    if (job.id !== undefined && !callbacks?.onSuccess && !callbacks?.onFailure && !callbacks?.onRetry) {
      // Recorded when BullMQ completes the job, in the same call (FinishAndNextBatcher).
      this.#batcher.defer(job.id, { key, tryNumber: d.try, input, done: finished });
      return;
    }
    const state = await store.finishTi(key, d.try, input);
    finished(state);
    // As in Airflow, after the state is recorded: a callback cannot change it.
    const slot = AFTER_FINISH[state];
    if (slot && callbackBase?.task.callbacks?.[slot]) {
      await this.#callbacks.forTask(slot, callbackBase, state, result.reason, log);
      await log.close();
    }
  }

  /** Starts a task with the executor of its kind (a template that fails throws, failing the task). */
  #start(task: SerializedTask, dag: SerializedDag, info: TaskInfo, env: ExecEnv, key: TaskInstanceKey): Promise<RunningTask> {
    return this.#executors[task.kind].start({ dag, task, info, key, templates: this.#templates.forTask(info, env.secrets) }, env);
  }

  #checkOutput(task: SerializedTask, r: ExecResult): ExecResult {
    if (r.outputJson === undefined) return r;
    const bytes = Buffer.byteLength(r.outputJson);
    if (bytes > this.o.maxOutputBytes) {
      return {
        outcome: 'failed',
        exitCode: r.exitCode,
        reason: `output of "${task.id}" is ${bytes} bytes, over the limit of ${this.o.maxOutputBytes} bytes (ALOFT_MAX_OUTPUT_BYTES); store large data elsewhere and pass a reference`,
      };
    }
    return r;
  }
}

type TaskInfo = TemplateInfo;

/** A claimed try, ready to start: its DAG version, task, and what it runs with. */
interface Prepared {
  dag: WorkerDag;
  task: SerializedTask;
  info: TaskInfo;
}

/** How a try ended here: its result, and whether this worker still owns it. */
interface Ran {
  result: ExecResult;
  /** Handed back (the worker is closing): the next holder runs or adopts it. */
  handedBack?: boolean;
  /** Why the instance moved on without this worker (cancelled, superseded): nothing is recorded. */
  externallyChanged?: string | undefined;
  /** Why this worker no longer owns the try (its job lock is gone, or about to be). */
  lost?: string | undefined;
}

/** The task instance a job is about. */
function keyOf(d: JobData): TaskInstanceKey {
  return { dagId: d.dagId, runId: d.runId, taskId: d.taskId, mapIndex: d.mapIndex };
}

/** The try's entry in #running. */
function runningId(job: Job<JobData>): string {
  return job.id ?? `${job.data.dagId}|${job.data.runId}|${job.data.taskId}`;
}

/** Which task callback follows the state a finish recorded. */
const AFTER_FINISH: Partial<Record<TaskState | 'stale', TaskCallbackSlot>> = { success: 'onSuccess', failed: 'onFailure', up_for_retry: 'onRetry' };
