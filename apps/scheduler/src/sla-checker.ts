import type { Logger, SerializedDag, Store } from '@aloft/core';

export interface SlaCheckerOptions {
  store: Store;
  logger: Logger;
  /** Serialized DAG by version (the scheduler's cache). */
  dagVersion: (dagId: string, version: string) => Promise<SerializedDag | undefined>;
}

/** Whether a DAG version has anything for the checker to check. */
export function hasSla(dag: SerializedDag): boolean {
  return dag.deadlineMs !== undefined || dag.tasks.some((t) => t.slaMs !== undefined);
}

/** Task states that meet an SLA: the task is done and did not fail. */
const MET = new Set(['success', 'skipped']);

/**
 * Finds SLA misses in unfinished runs: a task instance not successful `sla` after its run's
 * data interval end (Airflow's meaning), or a manual run's trigger time (its logical date: its
 * data interval, the last complete one of the schedule, ended before it), and a run not
 * finished `deadline` after that. Backfill and ad-hoc runs are not checked: their data
 * intervals lie in the past by design. Each miss is recorded once in Redis, with its event
 * and onSlaMiss job in the same step, so two schedulers never both report one.
 */
export class SlaChecker {
  constructor(private readonly o: SlaCheckerOptions) {}

  /** Checks the unfinished runs of one DAG; returns how many misses it recorded. */
  async check(dagId: string, now = Date.now()): Promise<number> {
    const { store } = this.o;
    let recorded = 0;
    for (const runId of await store.listUnfinishedRunIds(dagId)) {
      const run = await store.getRun(dagId, runId);
      if (!run || run.runType === 'backfill' || run.runType === 'adhoc') continue;
      const dag = await this.o.dagVersion(dagId, run.version);
      if (!dag) continue;
      const from = run.runType === 'manual' ? run.logicalDate : run.dataIntervalEnd;
      const withSla = dag.tasks.filter((t) => t.slaMs !== undefined && now > from + t.slaMs);
      const runLate = dag.deadlineMs !== undefined && now > from + dag.deadlineMs;
      if (withSla.length === 0 && !runLate) continue;
      const known = await store.getSlaMisses(dagId, runId);
      const record = async (taskId: string | null, dueAt: number, state: string, queue: string, callback: string | undefined) => {
        if (await store.recordSlaMiss({ dagId, runId, taskId, dueAt, state, queue, callback })) {
          recorded++;
          this.o.logger.warn(
            { dag: dagId, run: runId, task: taskId ?? undefined, dueAt: new Date(dueAt).toISOString(), state, callback },
            taskId ? 'task missed its SLA' : 'run missed its deadline',
          );
        }
      };
      if (runLate && known['~run'] === undefined) {
        await record(null, from + dag.deadlineMs!, run.state, dag.callbackQueue ?? 'default', dag.callbacks?.onSlaMiss);
      }
      const pending = withSla.filter((t) => known[t.id] === undefined);
      if (pending.length === 0) continue;
      const states = await store.getTiStates(dagId, runId);
      for (const t of pending) {
        const state = states[`${t.id}:-1`] ?? 'none';
        if (MET.has(state)) continue;
        await record(t.id, from + t.slaMs!, state, t.queue, t.callbacks?.onSlaMiss);
      }
    }
    return recorded;
  }
}
