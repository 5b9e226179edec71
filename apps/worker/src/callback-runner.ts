import { Counter, type Registry } from 'prom-client';
import {
  parseCallbackRef,
  type Logger,
  type SerializedDag,
  type SerializedTask,
  type SlaMiss,
  type Store,
  type TaskCallbackSlot,
  type TemplateInfo,
} from '@aloft/core';
import type { FnPool } from './executors/fn-pool.js';
import { runContextData, runParams } from './executors/task-env.js';
import type { CallbackContextData } from './task-context.js';
import type { TaskLog } from './task-log.js';

export interface CallbackRunnerOptions {
  store: Pick<Store, 'getRun' | 'listTis'>;
  /** The stored DAG version a run callback resolves in (the worker's cache). */
  dagVersion: (dagId: string, version: string) => Promise<SerializedDag | undefined>;
  fnPool: Pick<FnPool, 'run'>;
  logger: Logger;
  /** A callback still running after this long is stopped (its runner thread ended). */
  timeoutMs: number;
  killGraceMs: number;
  registry: Registry;
}

export interface CallbackRun {
  /** The DAG file and id the reference resolves in. */
  file: string;
  dagId: string;
  /** `task:<id>:<slot>` or `dag:<slot>`. */
  ref: string;
  ctx: CallbackContextData;
  /** The task try's log, for task callbacks: their output and failure go there too. */
  log?: TaskLog | undefined;
}

/** A callback job (a run's callback or an SLA miss's), as the store's scripts queue it. */
export interface CallbackJob {
  dagId: string;
  runId: string;
  callback?: string | undefined;
  state?: string | undefined;
  reason?: string | undefined;
  sla?: SlaMiss | undefined;
  /** The task an SLA miss is about when the DAG's onSlaMiss hears it. */
  slaTask?: string | undefined;
}

/**
 * Runs callbacks from DAG files in the worker's function runners, like `fn` tasks, with a
 * time limit. A callback that throws or runs out of time is logged (worker log, and the
 * task's log for task callbacks); it never changes a task's or a run's state.
 */
export class CallbackRunner {
  readonly #total: Counter<'callback' | 'outcome'>;

  constructor(private readonly o: CallbackRunnerOptions) {
    this.#total = new Counter({
      name: 'aloft_worker_callbacks_total',
      help: 'Callbacks run by this worker, by slot and outcome',
      labelNames: ['callback', 'outcome'],
      registers: [o.registry],
    });
  }

  /** A task's callback for `slot`, after its state is recorded; its output goes to the try's log. */
  forTask(
    slot: TaskCallbackSlot,
    base: { dag: SerializedDag; task: SerializedTask; info: TemplateInfo },
    state: string,
    reason: string | undefined,
    log: TaskLog,
  ): Promise<boolean> {
    const { dag, task, info } = base;
    return this.run({
      file: dag.fileloc,
      dagId: dag.id,
      ref: task.callbacks![slot]!,
      log,
      ctx: {
        ...runContextData(dag, info),
        scope: 'task',
        callback: slot,
        taskId: task.id,
        mapIndex: info.mapIndex,
        tryNumber: info.tryNumber,
        state,
        reason,
        sla: undefined,
      },
    });
  }

  /** A run callback or an SLA miss's callback, queued by the store's scripts. */
  async forJob(d: CallbackJob): Promise<void> {
    const ref = parseCallbackRef(d.callback ?? '');
    const run = await this.o.store.getRun(d.dagId, d.runId);
    const dag = run && (await this.o.dagVersion(d.dagId, run.version));
    if (!ref || !run || !dag) {
      this.o.logger.warn({ dag: d.dagId, run: d.runId, callback: d.callback }, 'callback job dropped: its run or DAG version is gone');
      return;
    }
    const taskId = ref.scope === 'task' ? ref.taskId : (d.slaTask ?? null);
    let reason = d.reason || undefined;
    if (!reason && d.state === 'failed') {
      const failed = (await this.o.store.listTis(d.dagId, d.runId)).filter((t) => t.state === 'failed');
      reason = failed.map((t) => `task "${t.taskId}" failed${t.reason ? `: ${t.reason}` : ''}`).join('; ') || undefined;
    }
    const info = {
      logicalDate: new Date(run.logicalDate),
      dataIntervalStart: new Date(run.dataIntervalStart),
      dataIntervalEnd: new Date(run.dataIntervalEnd),
      params: runParams(dag, run.conf),
      conf: run.conf,
      runId: run.runId,
    };
    await this.run({
      file: dag.fileloc,
      dagId: dag.id,
      ref: d.callback!,
      ctx: {
        ...runContextData(dag, info),
        scope: ref.scope,
        callback: ref.slot,
        taskId,
        mapIndex: -1,
        tryNumber: null,
        state: d.state ?? run.state,
        reason,
        sla: d.sla,
      },
    });
  }

  /** Resolves true when the callback returned, false when it failed or timed out. Never rejects. */
  async run(c: CallbackRun): Promise<boolean> {
    const { ctx } = c;
    const ids = { dag: ctx.dagId, run: ctx.runId, task: ctx.taskId ?? undefined, try: ctx.tryNumber ?? undefined, callback: ctx.callback, scope: ctx.scope };
    const logger = this.o.logger.child(ids);
    const tag = `[${ctx.callback}]`;
    const sink = {
      write: (stream: 'stdout' | 'stderr' | 'system', line: string) => {
        if (c.log) c.log.write(stream, `${tag} ${line}`);
        else logger.info({ stream }, line);
      },
    };
    let outcome: 'success' | 'failed' | 'timeout' = 'failed';
    let reason: string | undefined;
    try {
      const running = this.o.fnPool.run({ type: 'callback', file: c.file, dagId: c.dagId, ref: c.ref, ctx }, { log: sink, killGraceMs: this.o.killGraceMs });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        void running.cancel(`did not finish within ${this.o.timeoutMs} ms (ALOFT_CALLBACK_TIMEOUT_MS)`);
      }, this.o.timeoutMs);
      const r = await running.result.finally(() => clearTimeout(timer));
      outcome = r.outcome === 'failed' ? (timedOut ? 'timeout' : 'failed') : 'success';
      reason = r.reason;
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err);
    }
    this.#total.inc({ callback: ctx.callback, outcome });
    if (outcome === 'success') {
      logger.debug('callback ran');
      return true;
    }
    const line = `callback ${ctx.callback} failed: ${reason ?? 'unknown error'}; the ${ctx.scope === 'task' ? "task's" : "run's"} state is unchanged`;
    c.log?.system(line);
    logger.warn({ reason }, 'callback failed; state unchanged');
    return false;
  }
}
