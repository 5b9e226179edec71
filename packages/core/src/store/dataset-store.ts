import type { ChainableCommander, Redis } from 'ioredis';
import type { SerializedDag } from '../model/dag.js';
import type { Keys } from './keys.js';

/** One recorded update of a dataset: which task instance's success made it. */
export interface DatasetEvent {
  uri: string;
  /** ms since the epoch. */
  at: number;
  dagId: string;
  runId: string;
  taskId: string;
}

export interface DatasetInfo {
  uri: string;
  /** When it was last updated (ms), or null when it never was. */
  lastUpdateAt: number | null;
  lastUpdate: DatasetEvent | null;
  /** Updates recorded since the dataset was first seen. */
  updates: number;
  /** DAGs with a task whose outlets name it. */
  producers: string[];
  /** DAGs scheduled on it. */
  consumers: string[];
}

/** The datasets a DAG's tasks update, and those its schedule waits for. */
export function datasetsOf(dag: SerializedDag | undefined): { produces: string[]; consumes: string[] } {
  if (!dag) return { produces: [], consumes: [] };
  return {
    produces: [...new Set(dag.tasks.flatMap((t) => t.outlets ?? []))],
    consumes: dag.schedule?.kind === 'datasets' ? dag.schedule.uris : [],
  };
}

/**
 * The dataset side of the store: the producer and consumer indexes kept as DAGs are saved and
 * removed, and what `listDatasets` shows. Updates themselves are recorded by finishTi's Lua
 * (lua/includes/datasets.lua) in the same step as the producing task's success.
 */
export class DatasetStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    /** Runs lua/checkDatasetRun-2.lua for one DAG; resolves to the created run id or ''. */
    private readonly checkRun: (dagId: string, now: number) => Promise<string>,
  ) {}

  /**
   * Adds to `multi` what keeps the indexes in step when `next` replaces `prev` (or removes
   * it, when `next` is undefined). Additions are always written, so a DAG that comes back
   * after its file was missing is indexed again.
   */
  index(multi: ChainableCommander, dagId: string, prev: SerializedDag | undefined, next: SerializedDag | undefined): void {
    const before = datasetsOf(prev);
    const after = datasetsOf(next);
    const dropped = before.consumes.filter((u) => !after.consumes.includes(u));
    for (const uri of before.produces.filter((u) => !after.produces.includes(u))) multi.srem(this.keys.datasetProducers(uri), dagId);
    for (const uri of dropped) multi.srem(this.keys.datasetConsumers(uri), dagId);
    // Updates of datasets the DAG no longer waits for stop counting; the others keep counting.
    if (dropped.length && next) multi.hdel(this.keys.datasetPending(dagId), ...dropped);
    for (const uri of after.produces) multi.sadd(this.keys.datasetProducers(uri), dagId);
    for (const uri of after.consumes) multi.sadd(this.keys.datasetConsumers(uri), dagId);
    const all = [...after.produces, ...after.consumes];
    if (all.length) multi.sadd(this.keys.datasets, ...all);
    if (after.consumes.length) multi.hset(this.keys.dag(dagId), 'datasets', JSON.stringify(after.consumes));
    else multi.hdel(this.keys.dag(dagId), 'datasets');
  }

  /** Creates the DAG's dataset-triggered run if all its datasets have updates pending. */
  async runIfDue(dagId: string): Promise<string | undefined> {
    return (await this.checkRun(dagId, Date.now())) || undefined;
  }

  /** Every dataset a DAG produces or consumes, or that was ever updated, sorted by URI. */
  async list(): Promise<DatasetInfo[]> {
    const uris = (await this.redis.smembers(this.keys.datasets)).sort();
    const pipe = this.redis.pipeline();
    for (const uri of uris) {
      pipe.hgetall(this.keys.dataset(uri));
      pipe.smembers(this.keys.datasetProducers(uri));
      pipe.smembers(this.keys.datasetConsumers(uri));
    }
    const res = (await pipe.exec()) ?? [];
    const out: DatasetInfo[] = [];
    uris.forEach((uri, i) => {
      const h = (res[i * 3]?.[1] ?? {}) as Record<string, string>;
      const producers = ((res[i * 3 + 1]?.[1] ?? []) as string[]).sort();
      const consumers = ((res[i * 3 + 2]?.[1] ?? []) as string[]).sort();
      const updates = Number(h['updates'] ?? 0);
      // A name no DAG uses any more and that never saw an update is left out.
      if (!producers.length && !consumers.length && !updates) return;
      out.push({
        uri,
        lastUpdateAt: h['lastUpdateAt'] ? Number(h['lastUpdateAt']) : null,
        lastUpdate: h['lastEvent'] ? (JSON.parse(h['lastEvent']) as DatasetEvent) : null,
        updates,
        producers,
        consumers,
      });
    });
    return out;
  }

  /** Update events, newest first; only those of `uri` when given. */
  async events(opts: { uri?: string; limit?: number } = {}): Promise<DatasetEvent[]> {
    const limit = opts.limit ?? 100;
    const raw = await this.redis.lrange(this.keys.datasetEvents, 0, opts.uri ? -1 : limit - 1);
    const all = raw.map((r) => JSON.parse(r) as DatasetEvent);
    return (opts.uri ? all.filter((e) => e.uri === opts.uri) : all).slice(0, limit);
  }

  /** Datasets of the DAG's schedule that have updates pending (since its last such run). */
  async pending(dagId: string): Promise<string[]> {
    return (await this.redis.hkeys(this.keys.datasetPending(dagId))).sort();
  }
}
