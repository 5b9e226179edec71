import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Gauge, Histogram, type Registry } from 'prom-client';
import { dueIntervals, listQueueNames, QueueWorkers, scheduledRunId, type Logger, type RedisOutageLog, type SerializedDag, type Store } from '@aloft/core';
import type { DagProcessor } from './dag-processor.js';
import { hasRunTimeout, RunTimeouts } from './run-timeouts.js';
import { hasSla, SlaChecker } from './sla-checker.js';

export interface SchedulerOptions {
  store: Store;
  redis: Redis;
  processor: DagProcessor;
  logger: Logger;
  registry: Registry;
  loopMs: number;
  sweepMs: number;
  scanMs: number;
  maxCatchupRuns: number;
  retentionMaxRuns: number;
  retentionMaxAgeMs: number;
  /** A task instance queued this long on a queue no worker listens on fails (0: never). */
  taskQueuedTimeoutMs?: number;
  id?: string;
  /** A loop that fails because Redis is down is part of the outage this logs once. */
  outage?: RedisOutageLog;
}

/**
 * The scheduler's loops: DAG folder scans, schedule ticks, the safety-net sweep and
 * retention. Ticks, sweeps and retention run on the replica holding the lease; the others
 * stand by. Correctness never rests on the lease: run ids are deterministic per logical
 * date and every enqueue is idempotent, so two schedulers at once do no harm.
 */
export class Scheduler {
  readonly id: string;
  #timers: NodeJS.Timeout[] = [];
  #stopped = false;
  #busy = new Set<string>();
  #lastLoopAt = Date.now();
  readonly #versions = new Map<string, SerializedDag>();
  readonly #metrics;
  readonly #sla: SlaChecker;
  readonly #timeouts: RunTimeouts;
  readonly #queueWorkers: QueueWorkers;

  constructor(private readonly o: SchedulerOptions) {
    this.id = o.id ?? randomUUID();
    const dagVersion = (dagId: string, version: string) => this.#dagVersion(dagId, version);
    this.#sla = new SlaChecker({ store: o.store, logger: o.logger, dagVersion });
    this.#timeouts = new RunTimeouts({ store: o.store, logger: o.logger, dagVersion });
    this.#queueWorkers = new QueueWorkers(o.redis, o.store.keys);
    this.#metrics = {
      loop: new Histogram({
        name: 'aloft_scheduler_loop_seconds',
        help: 'Duration of one scheduling loop',
        buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
        registers: [o.registry],
      }),
      runsCreated: new Gauge({ name: 'aloft_scheduler_runs_created', help: 'Scheduled runs created by this scheduler since start', registers: [o.registry] }),
      leader: new Gauge({ name: 'aloft_scheduler_is_leader', help: '1 when this replica holds the scheduling lease', registers: [o.registry] }),
      importErrors: new Gauge({ name: 'aloft_dag_import_errors', help: 'DAG files with import errors', registers: [o.registry] }),
    };
    const lag: Gauge = new Gauge({
      name: 'aloft_scheduler_loop_lag_seconds',
      help: 'How late the scheduling loop is: time since it last completed beyond its interval',
      registers: [o.registry],
      collect: () => lag.set(Math.max(0, this.loopLagMs - o.loopMs) / 1000),
    });
  }

  /** Seconds since the scheduling loop last completed: liveness. */
  get loopLagMs(): number {
    return Date.now() - this.#lastLoopAt;
  }

  async start(): Promise<void> {
    await this.#guard('scan', () => this.o.processor.scan());
    this.#every(this.o.scanMs, 'scan', () => this.o.processor.scan());
    this.#every(this.o.loopMs, 'tick', () => this.tick());
    this.#every(this.o.sweepMs, 'sweep', () => this.sweep());
    this.#every(60_000, 'retention', () => this.retention());
    await this.#guard('tick', () => this.tick());
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
  }

  /** Closes what stop() leaves open (the BullMQ queues it asks for workers). */
  async close(): Promise<void> {
    await this.#queueWorkers.close();
  }

  async releaseLease(): Promise<void> {
    await this.o.redis.eval(
      `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
      1,
      this.o.store.keys.lease('scheduler'),
      this.id,
    );
  }

  #every(ms: number, name: string, fn: () => Promise<unknown>): void {
    this.#timers.push(setInterval(() => void this.#guard(name, fn), ms));
  }

  async #guard(name: string, fn: () => Promise<unknown>): Promise<void> {
    if (this.#stopped || this.#busy.has(name)) return;
    this.#busy.add(name);
    try {
      await fn();
    } catch (err) {
      if (this.o.outage?.report(err, `loop ${name}`)) return;
      this.o.logger.error({ err, loop: name }, 'scheduler loop failed; will retry');
    } finally {
      this.#busy.delete(name);
    }
  }

  /** Takes or renews the lease (TTL 3 loop periods, at least 5 s). */
  async holdsLease(): Promise<boolean> {
    const ttl = Math.max(5000, this.o.loopMs * 3);
    const r = await this.o.redis.eval(
      `local cur = redis.call('GET', KEYS[1])
       if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
       if not cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
       return 0`,
      1,
      this.o.store.keys.lease('scheduler'),
      this.id,
      String(ttl),
    );
    const leader = r === 1;
    this.#metrics.leader.set(leader ? 1 : 0);
    return leader;
  }

  /** Serialized DAGs by version; versions never change, so parse each once. */
  async #dagVersion(dagId: string, version: string): Promise<SerializedDag | undefined> {
    const k = `${dagId}@${version}`;
    let d = this.#versions.get(k);
    if (!d) {
      d = await this.o.store.getDagVersion(dagId, version);
      if (!d) return undefined;
      if (this.#versions.size >= 1024) this.#versions.delete(this.#versions.keys().next().value!);
      this.#versions.set(k, d);
    }
    return d;
  }

  /** Creates the runs whose data intervals have ended, then records SLA and deadline misses and fails runs past their timeout. */
  async tick(now = new Date()): Promise<number> {
    const end = this.#metrics.loop.startTimer();
    let created = 0;
    try {
      // Big runs started inside other scripts (a worker's finish starting a queued run, a
      // dataset trigger) evaluate their first 500 tasks there; the rest are queued here.
      // Safe from every replica: each step is atomic and evaluating a task twice is a no-op.
      await this.o.store.continueRuns();
      if (!(await this.holdsLease())) return 0;
      const heads = await this.o.store.listDagHeads();
      for (const rec of heads) {
        if (rec.paused || rec.missing) continue;
        const d = await this.#dagVersion(rec.dagId, rec.version);
        if (!d?.schedule || !d.startDate) continue;
        const due = dueIntervals({
          schedule: d.schedule,
          timezone: d.timezone,
          startDate: new Date(d.startDate),
          endDate: d.endDate ? new Date(d.endDate) : null,
          catchup: d.catchup,
          lastIntervalEnd: rec.lastIntervalEnd === null ? null : new Date(rec.lastIntervalEnd),
          now,
          limit: this.o.maxCatchupRuns,
        });
        for (const interval of due) {
          const r = await this.o.store.createRun({
            dagId: d.id,
            runId: scheduledRunId(interval.start),
            runType: 'scheduled',
            logicalDate: interval.start,
            dataIntervalStart: interval.start,
            dataIntervalEnd: interval.end,
          });
          await this.o.store.advanceLastIntervalEnd(d.id, interval.end.getTime());
          if (r === 'created') {
            created++;
            this.o.logger.info({ dag: d.id, logicalDate: interval.start.toISOString() }, 'scheduled run created');
          }
        }
      }
      for (const rec of heads) {
        // Only DAGs whose current version has an SLA, a deadline or a run timeout cost a look at their runs.
        const d = rec.missing ? undefined : await this.#dagVersion(rec.dagId, rec.version);
        if (d && hasSla(d)) await this.#sla.check(rec.dagId, now.getTime());
        if (d && hasRunTimeout(d)) await this.#timeouts.check(rec.dagId, now.getTime());
      }
      this.#metrics.runsCreated.inc(created);
      this.#metrics.importErrors.set((await this.o.store.listImportErrors()).length);
      return created;
    } finally {
      this.#lastLoopAt = Date.now();
      end();
    }
  }

  /** The safety net: starts queued runs and re-evaluates active ones, for every DAG. */
  async sweep(): Promise<void> {
    if (!(await this.holdsLease())) return;
    for (const id of await this.o.store.listDagIds()) {
      const r = await this.o.store.sweep(id);
      if (r.requeued > 0) this.o.logger.warn({ dag: id, requeued: r.requeued }, 'sweep re-enqueued lost jobs');
    }
    await this.#failStuckQueued();
    const dropped = await this.o.store.reconcilePools();
    if (dropped > 0) this.o.logger.warn({ dropped }, 'sweep gave back pool slots held by instances no longer running');
  }

  /**
   * Airflow's task_queued_timeout: an instance queued longer than taskQueuedTimeoutMs on a
   * queue no worker listens on fails, saying which queue and how to serve it. An instance
   * waiting on a queue whose workers are busy, or for a pool's slots, keeps waiting.
   */
  async #failStuckQueued(): Promise<void> {
    const timeoutMs = this.o.taskQueuedTimeoutMs ?? 0;
    if (timeoutMs <= 0) return;
    const idle = await this.#queueWorkers.unserved(await listQueueNames(this.o.redis, this.o.store.keys));
    if (idle.length === 0) return;
    const wait = timeoutMs % 60_000 === 0 ? `${timeoutMs / 60_000} min` : `${timeoutMs / 1000} s`;
    const reasons = new Map(
      idle.map((q) => [
        q,
        `queued for more than ${wait} on queue "${q}", where no worker is listening: start a worker with ALOFT_WORKER_QUEUES naming ${q} (ALOFT_TASK_QUEUED_TIMEOUT_MS sets this limit)`,
      ]),
    );
    for (const id of await this.o.store.listDagIds()) {
      const n = await this.o.store.failStuckQueued(id, timeoutMs, reasons);
      if (n > 0) this.o.logger.warn({ dag: id, failed: n, queues: idle }, 'failed task instances queued with no worker on their queue');
    }
  }

  /** Deletes finished runs past the retention limits (count per DAG and age). */
  async retention(now = Date.now()): Promise<number> {
    if (!(await this.holdsLease())) return 0;
    let deleted = 0;
    for (const id of await this.o.store.listDagIds()) {
      const total = await this.o.store.countRuns(id);
      const runs = await this.o.store.listRuns(id, { offset: 0, limit: total });
      runs.forEach((run, i) => {
        const tooMany = i >= this.o.retentionMaxRuns;
        const tooOld = this.o.retentionMaxAgeMs > 0 && (run.endDate ?? now) < now - this.o.retentionMaxAgeMs;
        if ((tooMany || tooOld) && (run.state === 'success' || run.state === 'failed')) {
          deleted++;
          void this.o.store.deleteRun(id, run.runId);
        }
      });
    }
    if (deleted) this.o.logger.info({ deleted }, 'retention removed finished runs');
    return deleted;
  }
}
