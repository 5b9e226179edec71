import { instanceArgs, UNMAPPED, type SerializedTask, type Store, type TaskInstanceKey } from '@aloft/core';

/** What the inputs of a task need of its DAG: its tasks by id. */
export interface DagTasks {
  byId: Map<string, SerializedTask>;
}

/**
 * Upstream outputs and arguments of one task instance. A mapped instance gets its own element
 * of each list it was expanded over in `args`; those lists are not repeated in `outputs`, so
 * 10,000 instances over one upstream list read it once (cached here), not 10,000 times.
 */
export class TaskInputs {
  /** Upstream lists that mapped instances take their elements from, by (dag, run, task, try). */
  readonly #sourceLists = new Map<string, unknown[]>();

  constructor(private readonly store: Store) {}

  /** `claimed`: the upstream outputs the claim brought along, when it did (claim-try.lua). */
  async of(
    dag: DagTasks,
    task: SerializedTask,
    d: Pick<TaskInstanceKey, 'dagId' | 'runId' | 'mapIndex'>,
    claimed?: Record<string, unknown>,
  ): Promise<{ outputs: Record<string, unknown>; args: Record<string, unknown> }> {
    const { store } = this;
    if (!task.map && task.upstream.length === 0) return { outputs: {}, args: { ...task.args } };
    // The claim brought the upstream outputs along (an unmapped task over unmapped upstreams).
    if (claimed && !task.map && d.mapIndex < 0) return { outputs: claimed, args: { ...task.args } };
    const sources = new Set(task.map?.over.flatMap((o) => ('upstream' in o ? [o.upstream] : [])) ?? []);
    // In a mapped task group, copy i of a task sees copy i of its upstreams in the group.
    const group = d.mapIndex >= 0 ? task.map?.group : undefined;
    const copies = group ? task.upstream.filter((u) => dag.byId.get(u)?.map?.group === group) : [];
    const upstream = d.mapIndex < 0 ? task.upstream : task.upstream.filter((u) => !sources.has(u) && !copies.includes(u));
    const mapped = new Set(upstream.filter((u) => dag.byId.get(u)?.map));
    const at = (taskId: string, mapIndex: number) => ({ dagId: d.dagId, runId: d.runId, taskId, mapIndex });
    const outputs = await store.getOutputs(d.dagId, d.runId, upstream, mapped);
    for (const u of copies) outputs[u] = await store.getOutput(at(u, d.mapIndex));
    const list = async (taskId: string): Promise<unknown[]> => {
      const tryNumber = await store.getTiField(at(taskId, UNMAPPED), 'try');
      const k = `${d.dagId}|${d.runId}|${taskId}|${tryNumber}`;
      let v = this.#sourceLists.get(k);
      if (!v) {
        const out = await store.getOutput(at(taskId, UNMAPPED));
        if (!Array.isArray(out)) throw new Error(`the output of "${taskId}" is not a list`);
        v = out;
        if (this.#sourceLists.size >= 16) this.#sourceLists.delete(this.#sourceLists.keys().next().value!);
        this.#sourceLists.set(k, v);
      }
      return v;
    };
    const isMapped = (o: { upstream: string }) => Boolean(dag.byId.get(o.upstream)?.map);
    const args = await instanceArgs(task, d.mapIndex, {
      length: async (o) => {
        if ('values' in o) return o.values.length;
        if (isMapped(o)) return (await store.getMapCounts(d.dagId, d.runId))[o.upstream]?.n ?? 0;
        return (await list(o.upstream)).length;
      },
      element: async (o, i) => {
        if ('values' in o) return o.values[i];
        if (isMapped(o)) return store.getOutput(at(o.upstream, i));
        return (await list(o.upstream))[i];
      },
    });
    return { outputs, args };
  }
}
