import type { Logger, SerializedDag, Store } from '@aloft/core';

export interface RunTimeoutsOptions {
  store: Store;
  logger: Logger;
  /** A DAG version by id, as the scheduler keeps them. */
  dagVersion(dagId: string, version: string): Promise<SerializedDag | undefined>;
}

/** A duration in the largest whole unit: `90 s`, `2 min`, `1 h`, else milliseconds. */
function inWords(ms: number): string {
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['min', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size} ${unit}`;
  }
  return `${ms} ms`;
}

/**
 * Airflow's `dagrun_timeout`: a run still running `dagrunTimeout` after it started (by its
 * own DAG version) is failed with a reason that says so. The store's cancel does the rest in
 * one step: running instances fail and their workers stop them, the others are skipped,
 * and the DAG's onFailure fires. Queued runs have not started and are not timed.
 */
export class RunTimeouts {
  constructor(private readonly o: RunTimeoutsOptions) {}

  /** Fails the runs of one DAG past their timeout; how many. */
  async check(dagId: string, now = Date.now()): Promise<number> {
    let failed = 0;
    for (const runId of await this.o.store.listUnfinishedRunIds(dagId)) {
      const run = await this.o.store.getRun(dagId, runId);
      if (!run || run.state !== 'running' || !run.startDate) continue;
      const limit = (await this.o.dagVersion(dagId, run.version))?.dagrunTimeoutMs;
      if (limit === undefined || now - run.startDate <= limit) continue;
      const reason = `run timed out: still running ${inWords(limit)} after it started (dagrunTimeout)`;
      if (await this.o.store.cancelRun(dagId, runId, reason)) {
        failed++;
        this.o.logger.info({ dag: dagId, run: runId, timeoutMs: limit }, 'run failed: past its dagrunTimeout');
      }
    }
    return failed;
  }
}

/** True when the DAG's runs are timed (only those DAGs cost a look at their runs). */
export const hasRunTimeout = (d: SerializedDag): boolean => d.dagrunTimeoutMs !== undefined;
