/**
 * Every Redis key of the orchestration state is built here, or for the Lua scripts in its
 * mirror lua/includes/keys.lua; no other file of the engine concatenates key strings (the
 * dashboard's own keys, under `{prefix}:dashboard:`, are built in apps/dashboard).
 * Layout under the prefix (default `aloft`):
 *   dags                        set of DAG ids
 *   dag:{dag}                   hash: json (serialized DAG), version, paused, fileloc, updatedAt
 *   graph:{dag}:{version}       hash: task id → compact JSON read by the Lua scripts
 *   import-errors               hash: file → JSON { file, line, message, at }
 *   runs:{dag}                  zset: run id by logical date (ms)
 *   active-runs:{dag}           set: run ids in state running
 *   queued-runs:{dag}           zset: run ids in state queued, by logical date
 *   run:{dag}:{run}             hash: run fields
 *   tis:{dag}:{run}             hash: `task:mapIndex` → state (read by trigger rules)
 *   ti:{dag}:{run}:{task}:{map} hash: task instance fields
 *   log:{dag}:{run}:{task}:{map}:{try}   list of log lines (capped)
 *   out:{dag}:{run}             hash: `task:mapIndex` → output JSON
 *   map:{dag}:{run}             hash: `task:n` instances of an expanded mapped task, `task:{state}` counts
 *   running:{dag}               zset: running `run|task:map` by start time (maxActiveTasks)
 *   sla:{dag}:{run}             hash: task id (or `~run`) → when its SLA miss was recorded
 *   events                      stream of every transition (capped)
 *   queues                      set of queue names in use
 *   pools                       hash: pool name → JSON { slots, description }
 *   pool-used:{pool}            hash: `dag|run|task:map` → slots held by a running instance
 *   pool-queued:{pool}          hash: `dag|run|task:map` → slots wanted by a queued instance
 *   lease:{name}                string: holder id, with TTL
 *   datasets                    set of dataset URIs ever produced, consumed or updated
 *   dataset:{uri}               hash: lastUpdateAt, lastEvent (JSON), updates (count)
 *   dataset-producers:{uri}     set of DAG ids with a task whose outlets name the dataset
 *   dataset-consumers:{uri}     set of DAG ids scheduled on the dataset
 *   dataset-pending:{dag}       hash: uri → latest update event (JSON) since the DAG's last
 *                               dataset-triggered run
 *   dataset-events              list of update events (JSON), newest first (capped)
 *   connections                 hash: connection id → JSON (secret parts sealed; secrets/secret-store.ts)
 *   variables                   hash: variable key → JSON (value sealed when a key is set)
 *   audit                       stream: who created, changed or deleted a connection or variable (capped)
 *   bull                        BullMQ's own prefix; its keys are `bull:{queue}:…`
 *
 * The Lua scripts (store/lua) take the fixed keys of a call, those the caller knows before
 * it, as KEYS built here: a run's keys (`runScriptKeys`), a DAG's (`dagScriptKeys`), one
 * task instance try's (`tiTryKeys`), a queue's BullMQ keys, the pools hash. Each entry
 * script's header lists them. What a script finds only as it runs (a downstream instance's
 * `ti:` hash and its log, the graph of the run's version, another run of the DAG, the
 * queue a task is enqueued to, a pool's occupants, a dataset's consumers) it builds in
 * lua/includes/keys.lua, the mirror of this class (lua-keys.int.test.ts checks both build
 * the same strings), from the prefix it gets as ARGV[1]. So every key a script touches is
 * derived from that prefix: with a hash tag in it (`aloft:{etl}`), a DAG's keys share one
 * Redis Cluster slot. The keys that span DAGs (events, pools, queues and BullMQ's queues,
 * datasets, starting-runs) would then need a prefix of their own per shard.
 */
/** How many runs' script keys a Keys keeps; a worker has far fewer runs in flight. */
const RUN_KEYS_CACHED = 1024;

export class Keys {
  /** runScriptKeys by run, built once per run (bounded: emptied past RUN_KEYS_CACHED). */
  readonly #runScript = new Map<string, readonly string[]>();

  constructor(readonly prefix: string = 'aloft') {}

  /**
   * KEYS of a script about one run, in the order run-context.lua's newCtx reads them: run,
   * tis, out, map, running, sla, events, then the DAG's (dagScriptKeys). Kept per run: the
   * worker's claims and finishes of one run's tasks pass the same array.
   */
  runScriptKeys(dagId: string, runId: string): readonly string[] {
    const id = `${dagId}\n${runId}`;
    let keys = this.#runScript.get(id);
    if (!keys) {
      keys = [
        this.run(dagId, runId),
        this.tiStates(dagId, runId),
        this.outputs(dagId, runId),
        this.mapCounts(dagId, runId),
        this.running(dagId),
        this.slaMisses(dagId, runId),
        this.events,
        ...this.dagScriptKeys(dagId),
      ];
      if (this.#runScript.size >= RUN_KEYS_CACHED) this.#runScript.clear();
      this.#runScript.set(id, keys);
    }
    return keys;
  }
  /** KEYS of a script about one DAG's runs, in the order run-context.lua's dagCtx reads them: dag, runs, active-runs, queued-runs. */
  dagScriptKeys(dagId: string): string[] {
    return [this.dag(dagId), this.runs(dagId), this.activeRuns(dagId), this.queuedRuns(dagId)];
  }
  /** The keys of one try of a task instance that follow runScriptKeys in a script's KEYS: its `ti:` hash and its log. */
  tiTryKeys(dagId: string, runId: string, taskId: string, mapIndex: number, tryNumber: number): [string, string] {
    return [this.ti(dagId, runId, taskId, mapIndex), this.log(dagId, runId, taskId, mapIndex, tryNumber)];
  }

  get dags(): string {
    return `${this.prefix}:dags`;
  }
  dag(dagId: string): string {
    return `${this.prefix}:dag:${dagId}`;
  }
  graph(dagId: string, version: string): string {
    return `${this.prefix}:graph:${dagId}:${version}`;
  }
  get importErrors(): string {
    return `${this.prefix}:import-errors`;
  }
  runs(dagId: string): string {
    return `${this.prefix}:runs:${dagId}`;
  }
  activeRuns(dagId: string): string {
    return `${this.prefix}:active-runs:${dagId}`;
  }
  queuedRuns(dagId: string): string {
    return `${this.prefix}:queued-runs:${dagId}`;
  }
  /** Runs whose start is still evaluating their tasks, `dag|run` by start time (continueRuns-1.lua). */
  startingRuns(): string {
    return `${this.prefix}:starting-runs`;
  }
  run(dagId: string, runId: string): string {
    return `${this.prefix}:run:${dagId}:${runId}`;
  }
  tiStates(dagId: string, runId: string): string {
    return `${this.prefix}:tis:${dagId}:${runId}`;
  }
  ti(dagId: string, runId: string, taskId: string, mapIndex: number): string {
    return `${this.prefix}:ti:${dagId}:${runId}:${taskId}:${mapIndex}`;
  }
  /** The `ti:` hash of the instance a field of the run's tis hash (`task:mapIndex`) names. */
  tiOfField(dagId: string, runId: string, field: string): string {
    return `${this.prefix}:ti:${dagId}:${runId}:${field}`;
  }
  log(dagId: string, runId: string, taskId: string, mapIndex: number, tryNumber: number): string {
    return `${this.prefix}:log:${dagId}:${runId}:${taskId}:${mapIndex}:${tryNumber}`;
  }
  outputs(dagId: string, runId: string): string {
    return `${this.prefix}:out:${dagId}:${runId}`;
  }
  mapCounts(dagId: string, runId: string): string {
    return `${this.prefix}:map:${dagId}:${runId}`;
  }
  running(dagId: string): string {
    return `${this.prefix}:running:${dagId}`;
  }
  slaMisses(dagId: string, runId: string): string {
    return `${this.prefix}:sla:${dagId}:${runId}`;
  }
  get events(): string {
    return `${this.prefix}:events`;
  }
  get connections(): string {
    return `${this.prefix}:connections`;
  }
  get variables(): string {
    return `${this.prefix}:variables`;
  }
  get audit(): string {
    return `${this.prefix}:audit`;
  }
  get queues(): string {
    return `${this.prefix}:queues`;
  }
  get pools(): string {
    return `${this.prefix}:pools`;
  }
  poolUsed(pool: string): string {
    return `${this.prefix}:pool-used:${pool}`;
  }
  poolQueued(pool: string): string {
    return `${this.prefix}:pool-queued:${pool}`;
  }
  get datasets(): string {
    return `${this.prefix}:datasets`;
  }
  dataset(uri: string): string {
    return `${this.prefix}:dataset:${uri}`;
  }
  datasetProducers(uri: string): string {
    return `${this.prefix}:dataset-producers:${uri}`;
  }
  datasetConsumers(uri: string): string {
    return `${this.prefix}:dataset-consumers:${uri}`;
  }
  datasetPending(dagId: string): string {
    return `${this.prefix}:dataset-pending:${dagId}`;
  }
  get datasetEvents(): string {
    return `${this.prefix}:dataset-events`;
  }
  lease(name: string): string {
    return `${this.prefix}:lease:${name}`;
  }
  /** BullMQ's `prefix` option: its keys are `{bullPrefix}:{queue}:{…}`. */
  get bullPrefix(): string {
    return `${this.prefix}:bull`;
  }
  /** Prefix of one BullMQ queue's keys, as its Lua scripts build them (`…:{queue}:`). */
  bullQueuePrefix(queue: string): string {
    return `${this.bullPrefix}:${queue}:`;
  }
}
