import { Counter, type Registry } from 'prom-client';
import type { Logger } from '@aloft/core';
import type { FnPool } from './executors/fn-pool.js';
import type { CallbackContextData } from './task-context.js';
import type { TaskLog } from './task-log.js';

export interface CallbackRunnerOptions {
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
