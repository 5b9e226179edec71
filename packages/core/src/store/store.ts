import type { Redis } from 'ioredis';
import type { SerializedDag, SerializedTask } from '../model/dag.js';
import { DEFAULT_POOL, tiField, UNMAPPED, type TaskInstanceKey } from '../model/ids.js';
import { summarizeMapped, tally, type MappedSummary } from '../model/mapping.js';
import type { RunState, TaskState } from '../model/states.js';
import { DatasetStore, type DatasetEvent } from './dataset-store.js';
import { buildGraphHash } from './graph.js';
import { Keys } from './keys.js';
import { checkResult } from './result-codes.js';
import { loadScript } from './script-loader.js';

const SCRIPTS = [
  'createRun',
  'appendLog',
  'setTiFields',
  'readLog',
  'reconcilePools',
  'startQueuedRuns',
  'startTi',
  'finishTi',
  'clearTis',
  'markTi',
  'cancelRun',
  'sweep',
  'failStuckQueued',
  'deleteRun',
  'releaseTi',
  'rescheduleTi',
  'checkDatasetRun',
  'recordSlaMiss',
  'finishAndNext',
  'continueRuns',
] as const;
type ScriptName = (typeof SCRIPTS)[number];

type ScriptRunner = (...keysAndArgs: (string | number)[]) => Promise<unknown>;

/** finishAndNext-14.lua's KEYS: the key count of BullMQ's moveToFinished-14. */
const BULL_FINISH_KEYS = 14;

export interface DagRecord {
  dag: SerializedDag;
  paused: boolean;
  updatedAt: number;
  /** End of the last scheduled data interval (ms), or null before the first run. */
  lastIntervalEnd: number | null;
  missing: boolean;
}

export interface ImportErrorRecord {
  file: string;
  line?: number | undefined;
  field?: string | undefined;
  message: string;
  at: number;
}

export const RUN_TYPES = ['scheduled', 'manual', 'backfill', 'adhoc', 'dataset_triggered'] as const;
export type RunType = (typeof RUN_TYPES)[number];

export interface DagRun {
  dagId: string;
  runId: string;
  state: RunState;
  runType: RunType;
  version: string;
  logicalDate: number;
  dataIntervalStart: number;
  dataIntervalEnd: number;
  conf: Record<string, unknown>;
  queuedAt: number;
  startDate?: number | undefined;
  endDate?: number | undefined;
  unfinished: number;
  reason?: string | undefined;
  /** `dag/run/task/try` of the triggerDagRun task that created this run. */
  triggeredBy?: string | undefined;
  /** dataset_triggered runs: the dataset updates that made the run. */
  datasetEvents?: DatasetEvent[] | undefined;
}

/** A mapped task's instances once expanded, and how many ended in each final state. */
export interface MapCounts {
  n: number;
  success: number;
  failed: number;
  skipped: number;
  upstream_failed: number;
}

/** Pool of task slots shared by all DAGs; `slots: null` is the unconfigured default pool (unlimited). */
export interface PoolInfo {
  name: string;
  slots: number | null;
  description: string;
  /** Slots held by running instances. */
  used: number;
  /** Slots wanted by queued instances. */
  queued: number;
  open: number | null;
}

export interface TaskInstance {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  state: TaskState;
  try: number;
  maxTries?: number | undefined;
  queue?: string | undefined;
  queuedAt?: number | undefined;
  startDate?: number | undefined;
  endDate?: number | undefined;
  duration?: number | undefined;
  worker?: string | undefined;
  hostname?: string | undefined;
  pgid?: number | undefined;
  exitCode?: number | undefined;
  reason?: string | undefined;
  nextTryAt?: number | undefined;
  /** Sensors: when the instance first poked (its timeout counts from there), how often it has poked, and (up_for_reschedule) when it pokes next. */
  firstPokeAt?: number | undefined;
  pokes?: number | undefined;
  nextPokeAt?: number | undefined;
  jobId?: string | undefined;
  /** What the executor says the try is doing now (e.g. why its pod is pending). */
  detail?: string | undefined;
  /** namespace/name of the try's pod, for kubernetesPod tasks. */
  pod?: string | undefined;
  /** Memory limit each try's pod ran with (oomRetry), by try number. */
  podMemoryByTry?: Record<number, string> | undefined;
  /**
   * A mapped task as a whole (map index −1 once expanded): its instance count and how many
   * are in each state; `state` then sums them up (summarizeMapped).
   */
  mapped?: MappedSummary | undefined;
}

/** A page of a mapped task's instances: `total` of them match the filter, `states` counts all `n`. */
export interface MappedPage extends MappedSummary {
  total: number;
  instances: TaskInstance[];
}

export interface DagHead {
  dagId: string;
  version: string;
  paused: boolean;
  lastIntervalEnd: number | null;
  missing: boolean;
}

/** What a claimed try needs of its run to start: the DAG version it runs and its context. */
export type ClaimedRun = Pick<DagRun, 'version' | 'logicalDate' | 'dataIntervalStart' | 'dataIntervalEnd' | 'conf'>;

export type StartResult =
  /** `outputs`: the upstream outputs, when asked for and the instance's shape allows (see startTi). */
  | { status: 'ok'; run: ClaimedRun; outputs?: Record<string, unknown> }
  | { status: 'takeover'; run: ClaimedRun; previousWorker: string; previousHost: string; previousPgid: number | undefined; outputs?: Record<string, unknown> }
  | { status: 'stale' }
  /**
   * A takeover refused: the try's worker died `maxDeaths` times (a poison pill). The claim
   * failed the try instead (`state`: failed, or up_for_retry with tries left), with `reason`.
   */
  | { status: 'poison'; state: TaskState | 'stale'; reason: string; run: ClaimedRun }
  /** maxActiveTasks reached, or no free slot in the instance's pool: try again soon. */
  | { status: 'busy' }
  | { status: 'pool' };

/** One finish for Store.finishAndNext. */
export interface FinishAndNext {
  key: TaskInstanceKey;
  tryNumber: number;
  finish: FinishInput;
  /** BullMQ's moveToFinished keys and arguments for the try's job. */
  bull: { keys: readonly unknown[]; args: readonly unknown[] };
}

export interface FinishAndNextResult {
  /** BullMQ's raw moveToFinished reply: 0, a negative error code, or the next job. */
  bull: unknown;
  state: TaskState | 'stale';
  /** The fetched job's claim, when it is a task try. */
  claim: StartResult | undefined;
  /** Why claiming the fetched job failed (the finish and the completion stand). */
  claimError?: string;
}

/**
 * A claim's reply: status, the previous holder on a takeover, upstream outputs or null, then
 * the run's version, logical date, data interval start and end, and conf (lua/includes/claim-try.lua).
 */
type ClaimReply = [string, string, string, string, (string | null)[] | null, string, string, string | null, string | null, string | null];

function parseClaim(r: ClaimReply): StartResult {
  const status = r[0] as StartResult['status'];
  if (status === 'stale' || status === 'busy' || status === 'pool') return { status };
  const logicalDate = Number(r[6]);
  const run: ClaimedRun = {
    version: r[5],
    logicalDate,
    dataIntervalStart: r[7] ? Number(r[7]) : logicalDate,
    dataIntervalEnd: r[8] ? Number(r[8]) : logicalDate,
    conf: JSON.parse(r[9] ?? '{}') as Record<string, unknown>,
  };
  if (status === 'poison') return { status, state: r[1] as TaskState | 'stale', reason: r[2], run };
  let outputs: Record<string, unknown> | undefined;
  if (r[4]) {
    // As getOutputs gives them: an upstream that left no output is left out.
    outputs = {};
    for (let i = 0; i + 1 < r[4].length; i += 2) if (r[4][i + 1] !== null) outputs[r[4][i]!] = JSON.parse(r[4][i + 1]!) as unknown;
  }
  const extra = outputs ? { outputs } : {};
  if (status === 'takeover') {
    return { status, run, previousWorker: r[1] ?? '', previousHost: r[2] ?? '', previousPgid: num(r[3]), ...extra };
  }
  return { status, run, ...extra };
}

export interface FinishInput {
  outcome: 'success' | 'failed' | 'skipped';
  output?: string | undefined;
  reason?: string | undefined;
  exitCode?: number | undefined;
  /** Branch tasks: the direct downstream task ids to follow. */
  follow?: string[] | undefined;
  /** Short-circuit tasks that returned false. */
  skipDescendants?: boolean | undefined;
  /** The try's last log lines, written in the same step. */
  logLines?: LogLine[] | undefined;
  /** A failure that no retry can help (a sensor's timeout): failed at once, whatever the retries left. */
  noRetry?: boolean | undefined;
}

export interface LogLine {
  at: number;
  stream: 'stdout' | 'stderr' | 'system';
  line: string;
}

/**
 * How many replicas must confirm (Redis `WAIT`) the transitions that must survive a failover
 * (a run's creation, a claim, a finish) before the caller is answered; 0 turns it off.
 * Redis replicates asynchronously: without it, a failover to a replica that is behind
 * loses whatever the replica had not received (docs/deploy.md, "Failover").
 */
export interface Durability {
  replicas: number;
  timeoutMs: number;
}

/** A write the primary made but fewer replicas than asked confirmed in time. */
export class NotReplicatedError extends Error {
  constructor(
    readonly what: string,
    readonly acked: number,
    readonly durability: Durability,
  ) {
    super(
      `${what} was recorded by the Redis primary but confirmed by ${acked} of ${durability.replicas} replica(s) within ${durability.timeoutMs} ms (ALOFT_REDIS_WAIT_REPLICAS, ALOFT_REDIS_WAIT_TIMEOUT_MS): it is lost if the primary fails over now`,
    );
    this.name = 'NotReplicatedError';
  }
}

/** `dag.task[map] try n of run r`, for messages. */
const tiName = (k: TaskInstanceKey, tryNumber: number): string =>
  `${k.dagId}.${k.taskId}${k.mapIndex >= 0 ? `[${k.mapIndex}]` : ''} (run ${k.runId}, try ${tryNumber})`;

const num = (v: string | undefined): number | undefined => (v === undefined || v === '' ? undefined : Number(v));

/**
 * All reads and writes of orchestration state. Every read-then-write is one Lua script
 * (see ./lua), so concurrent schedulers and workers never interleave halfway.
 */
export class Store {
  readonly keys: Keys;
  readonly datasets: DatasetStore;
  readonly #scripts = new Map<ScriptName, ScriptRunner>();

  /** Waits after transitions, and how often the replicas confirmed fewer than asked. */
  readonly replication = { waits: 0, short: 0 };

  constructor(
    readonly redis: Redis,
    prefix = 'aloft',
    private readonly logMaxLines = 10_000,
    readonly durability: Durability = { replicas: 0, timeoutMs: 0 },
    /** Told when a claim or finish was confirmed by fewer replicas than asked (it still stands). */
    private readonly onNotReplicated: (err: NotReplicatedError) => void = () => undefined,
  ) {
    this.keys = new Keys(prefix);
    for (const name of SCRIPTS) {
      const command = `aloft_${name}`;
      if (!(command in redis)) redis.defineCommand(command, loadScript(name));
      const fn = (redis as unknown as Record<string, ScriptRunner>)[command]!.bind(redis);
      this.#scripts.set(name, fn);
    }
    this.datasets = new DatasetStore(redis, this.keys, async (dagId, now) =>
      String(await this.#run('checkDatasetRun', [this.keys.dag(dagId), this.keys.datasetPending(dagId)], this.keys.prefix, dagId, now)),
    );
  }

  /**
   * With durability on, waits until the asked number of replicas have every write made so
   * far on this connection. `strict`: fewer is an error for the caller (a trigger, which the
   * caller can repeat with the same run id); otherwise it is reported and the write stands
   * (a claim or finish, already acted upon).
   */
  async #durable(what: string, strict: boolean): Promise<void> {
    const d = this.durability;
    if (d.replicas <= 0) return;
    this.replication.waits++;
    const acked = Number(await this.redis.wait(d.replicas, d.timeoutMs));
    if (acked >= d.replicas) return;
    this.replication.short++;
    const err = new NotReplicatedError(what, acked, d);
    if (strict) throw err;
    this.onNotReplicated(err);
  }

  /** Runs lua/<name>-<keys.length>.lua with `keys` as its KEYS and `args` as its ARGV. */
  #run(name: ScriptName, keys: readonly string[], ...args: (string | number)[]): Promise<unknown> {
    return this.#scripts.get(name)!(...keys, ...args);
  }

  /** A script about one run: KEYS the run's (Keys.runScriptKeys), ARGV prefix, dag, run, then `rest`. */
  #runRun(name: ScriptName, dagId: string, runId: string, ...rest: (string | number)[]): Promise<unknown> {
    return this.#run(name, this.keys.runScriptKeys(dagId, runId), this.keys.prefix, dagId, runId, ...rest);
  }

  /**
   * A script about one try of a task instance: KEYS the run's, then the instance's hash and,
   * with `log`, the try's log (Keys.tiTryKeys); ARGV prefix, dag, run, task, map index, try,
   * now, then `rest`.
   */
  #runTi(name: ScriptName, log: boolean, key: TaskInstanceKey, tryNumber: number, ...rest: (string | number)[]): Promise<unknown> {
    const { dagId, runId, taskId, mapIndex } = key;
    const [ti, tryLog] = this.keys.tiTryKeys(dagId, runId, taskId, mapIndex, tryNumber);
    return this.#scripts.get(name)!(
      ...this.keys.runScriptKeys(dagId, runId),
      ti,
      ...(log ? [tryLog] : []),
      this.keys.prefix,
      dagId,
      runId,
      taskId,
      mapIndex,
      tryNumber,
      Date.now(),
      ...rest,
    );
  }

  // ── DAGs ────────────────────────────────────────────────────────────────────

  /** Stores a parsed DAG; a new version gets its own graph, old runs keep theirs. */
  async saveDag(dag: SerializedDag): Promise<boolean> {
    const [current, prevJson] = await this.redis.hmget(this.keys.dag(dag.id), 'version', 'json');
    const graphKey = this.keys.graph(dag.id, dag.version);
    const multi = this.redis.multi();
    // Rewritten even when the version is unchanged: the same content always yields the same
    // hash, and a graph stored by an older Aloft gains the fields this one reads.
    multi.hset(graphKey, buildGraphHash(dag));
    multi.hset(this.keys.dag(dag.id), {
      json: JSON.stringify(dag),
      version: dag.version,
      fileloc: dag.fileloc,
      updatedAt: Date.now(),
      missing: '0',
    });
    multi.hsetnx(this.keys.dag(dag.id), 'paused', '0');
    multi.sadd(this.keys.dags, dag.id);
    const queues = [...new Set(dag.tasks.map((t) => t.queue))];
    if (queues.length) multi.sadd(this.keys.queues, ...queues);
    this.datasets.index(multi, dag.id, prevJson ? (JSON.parse(prevJson) as SerializedDag) : undefined, dag);
    await multi.exec();
    // Its dataset list may have shrunk to datasets that all have updates pending.
    if (dag.schedule?.kind === 'datasets') await this.datasets.runIfDue(dag.id);
    return current !== dag.version;
  }

  /** Stores one version's graph without making it the DAG's current version (ad-hoc jobs). */
  async saveDagVersion(dag: SerializedDag): Promise<void> {
    const multi = this.redis.multi();
    multi.hset(this.keys.graph(dag.id, dag.version), buildGraphHash(dag));
    multi.hsetnx(this.keys.dag(dag.id), 'json', JSON.stringify(dag));
    multi.hsetnx(this.keys.dag(dag.id), 'version', dag.version);
    multi.hsetnx(this.keys.dag(dag.id), 'paused', '0');
    multi.hset(this.keys.dag(dag.id), 'updatedAt', Date.now());
    multi.sadd(this.keys.dags, dag.id);
    multi.sadd(this.keys.queues, ...new Set(dag.tasks.map((t) => t.queue)));
    await multi.exec();
  }

  /** A DAG whose file is gone stays visible (with its history) but is not scheduled. */
  async markDagMissing(dagId: string): Promise<void> {
    const json = await this.redis.hget(this.keys.dag(dagId), 'json');
    const multi = this.redis.multi().hset(this.keys.dag(dagId), 'missing', '1');
    this.datasets.index(multi, dagId, json ? (JSON.parse(json) as SerializedDag) : undefined, undefined);
    await multi.exec();
  }

  /**
   * Deletes a DAG with its whole history: every run (with its task instances, logs, outputs
   * and SLA misses), every stored version of its graph, and its place in the DAG list and the
   * dataset indexes. Only once every run has finished: a run still going is cancelled first
   * by the caller. Returns how many runs went, or undefined when the DAG has unfinished runs.
   */
  async deleteDag(dagId: string): Promise<{ runs: number } | undefined> {
    if ((await this.listUnfinishedRunIds(dagId)).length) return undefined;
    const runIds = await this.redis.zrange(this.keys.runs(dagId), 0, -1);
    for (const runId of runIds) if (!(await this.deleteRun(dagId, runId))) return undefined;
    const json = await this.redis.hget(this.keys.dag(dagId), 'json');
    const graphs: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', this.keys.graph(dagId, '*'), 'COUNT', 500);
      // DAG ids hold no ':' and no glob character (ID_PATTERN): the pattern is this DAG's versions only.
      graphs.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    const multi = this.redis.multi();
    multi.del(this.keys.dag(dagId), this.keys.runs(dagId), this.keys.activeRuns(dagId), this.keys.queuedRuns(dagId), this.keys.running(dagId));
    multi.del(this.keys.datasetPending(dagId));
    if (graphs.length) multi.del(...graphs);
    multi.srem(this.keys.dags, dagId);
    this.datasets.index(multi, dagId, json ? (JSON.parse(json) as SerializedDag) : undefined, undefined);
    await multi.exec();
    return { runs: runIds.length };
  }

  async listDagIds(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.dags)).sort();
  }

  async getDag(dagId: string): Promise<DagRecord | undefined> {
    const h = await this.redis.hgetall(this.keys.dag(dagId));
    if (!h['json']) return undefined;
    return {
      dag: JSON.parse(h['json']) as SerializedDag,
      paused: h['paused'] === '1',
      updatedAt: Number(h['updatedAt'] ?? 0),
      lastIntervalEnd: num(h['lastIntervalEnd']) ?? null,
      missing: h['missing'] === '1',
    };
  }

  /** Every DAG's current version and scheduling flags, without the DAGs themselves. */
  async listDagHeads(): Promise<DagHead[]> {
    const ids = await this.listDagIds();
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hmget(this.keys.dag(id), 'version', 'paused', 'lastIntervalEnd', 'missing');
    const res = (await pipe.exec()) ?? [];
    return ids.flatMap((dagId, i) => {
      const [version, paused, last, missing] = (res[i]?.[1] ?? []) as (string | null)[];
      if (!version) return [];
      return [{ dagId, version, paused: paused === '1', lastIntervalEnd: num(last ?? undefined) ?? null, missing: missing === '1' }];
    });
  }

  async listDags(): Promise<DagRecord[]> {
    const ids = await this.listDagIds();
    const out: DagRecord[] = [];
    for (const id of ids) {
      const d = await this.getDag(id);
      if (d) out.push(d);
    }
    return out;
  }

  /** The serialized DAG a run was created from (its version), cached by the caller. */
  async getDagVersion(dagId: string, version: string): Promise<SerializedDag | undefined> {
    const json = await this.redis.hget(this.keys.graph(dagId, version), '__dag');
    return json ? (JSON.parse(json) as SerializedDag) : undefined;
  }

  async setPaused(dagId: string, paused: boolean): Promise<void> {
    // With an event, as transitions have, so every open dashboard shows it at once.
    await this.redis
      .multi()
      .hset(this.keys.dag(dagId), 'paused', paused ? '1' : '0')
      .xadd(
        this.keys.events,
        'MAXLEN',
        '~',
        10000,
        '*',
        'type',
        'dag',
        'dag',
        dagId,
        'run',
        '',
        'task',
        '',
        'state',
        paused ? 'paused' : 'active',
        'at',
        Date.now(),
        'detail',
        '',
      )
      .exec();
    if (!paused) {
      await this.startQueuedRuns(dagId);
      // Dataset updates kept counting while it was paused: one run for them now.
      await this.datasets.runIfDue(dagId);
    }
  }

  /** Moves the schedule forward; never backwards, whichever scheduler writes last. */
  async advanceLastIntervalEnd(dagId: string, end: number): Promise<void> {
    await this.redis.eval(
      `local cur = tonumber(redis.call('HGET', KEYS[1], 'lastIntervalEnd') or '0')
       if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], 'lastIntervalEnd', ARGV[1]) end
       return 1`,
      1,
      this.keys.dag(dagId),
      String(end),
    );
  }

  async setImportError(err: ImportErrorRecord): Promise<void> {
    await this.redis.hset(this.keys.importErrors, err.file, JSON.stringify(err));
  }

  async clearImportError(file: string): Promise<void> {
    await this.redis.hdel(this.keys.importErrors, file);
  }

  async listImportErrors(): Promise<ImportErrorRecord[]> {
    const all = await this.redis.hgetall(this.keys.importErrors);
    return Object.values(all)
      .map((v) => JSON.parse(v) as ImportErrorRecord)
      .sort((a, b) => a.file.localeCompare(b.file));
  }

  // ── Runs ────────────────────────────────────────────────────────────────────

  /** Creates a run (idempotent by run id) and starts it if maxActiveRuns allows. */
  async createRun(input: {
    dagId: string;
    runId: string;
    runType: RunType;
    logicalDate: Date;
    dataIntervalStart: Date;
    dataIntervalEnd: Date;
    conf?: Record<string, unknown>;
    /** A stored version of the DAG other than its current one (ad-hoc jobs). */
    version?: string;
    /** `dag/run/task/try` of the triggerDagRun task creating it. */
    triggeredBy?: string;
  }): Promise<'created' | 'exists'> {
    const fields = {
      runType: input.runType,
      dataIntervalStart: String(input.dataIntervalStart.getTime()),
      dataIntervalEnd: String(input.dataIntervalEnd.getTime()),
      conf: JSON.stringify(input.conf ?? {}),
      ...(input.triggeredBy ? { triggeredBy: input.triggeredBy } : {}),
    };
    const r = checkResult(
      await this.#runRun('createRun', input.dagId, input.runId, Date.now(), input.logicalDate.getTime(), JSON.stringify(fields), input.version ?? ''),
      { dagId: input.dagId },
    );
    if (r === 2) await this.continueRuns(input.dagId);
    if (r === 1 || r === 2) await this.#durable(`run "${input.runId}" of DAG "${input.dagId}"`, true);
    return r === 1 || r === 2 ? 'created' : 'exists';
  }

  async startQueuedRuns(dagId: string): Promise<number> {
    const started = Number(await this.#run('startQueuedRuns', this.keys.dagScriptKeys(dagId), this.keys.prefix, dagId, Date.now()));
    if (started > 0) await this.continueRuns(dagId);
    return started;
  }

  /**
   * Finishes starting runs whose tasks are not all evaluated yet, of `dagId` or of every
   * DAG: a run start evaluates 500 tasks per script call, so other clients' calls go between
   * the steps of a big one. Each call takes the next step of the oldest such run; returns
   * after `maxSteps` or when none is left.
   */
  async continueRuns(dagId = '', maxSteps = 1000): Promise<void> {
    for (let i = 0; i < maxSteps; i++) {
      if (Number(await this.#run('continueRuns', [this.keys.startingRuns()], this.keys.prefix, Date.now(), dagId)) === 0) return;
    }
  }

  async getRun(dagId: string, runId: string): Promise<DagRun | undefined> {
    const h = await this.redis.hgetall(this.keys.run(dagId, runId));
    if (!h['state']) return undefined;
    return parseRun(h);
  }

  /** Newest first by logical date. */
  async listRuns(dagId: string, opts: { limit?: number; offset?: number } = {}): Promise<DagRun[]> {
    const offset = opts.offset ?? 0;
    const ids = await this.redis.zrevrange(this.keys.runs(dagId), offset, offset + (opts.limit ?? 25) - 1);
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.keys.run(dagId, id));
    const res = (await pipe.exec()) ?? [];
    return res
      .map(([, h]) => h as Record<string, string>)
      .filter((h) => h['state'])
      .map(parseRun);
  }

  async countRuns(dagId: string): Promise<number> {
    return this.redis.zcard(this.keys.runs(dagId));
  }

  async cancelRun(dagId: string, runId: string, reason = 'run cancelled'): Promise<boolean> {
    return checkResult(await this.#runRun('cancelRun', dagId, runId, Date.now(), reason), { dagId, runId }) === 1;
  }

  /** Run ids of a DAG that are queued or running. */
  async listUnfinishedRunIds(dagId: string): Promise<string[]> {
    const [active, queued] = await Promise.all([this.redis.smembers(this.keys.activeRuns(dagId)), this.redis.zrange(this.keys.queuedRuns(dagId), 0, -1)]);
    return [...active, ...queued];
  }

  /**
   * Records an SLA miss (a task past its `sla`, or with `taskId` null the run past its
   * deadline) once, with its event and the onSlaMiss job; false when already recorded.
   */
  async recordSlaMiss(input: {
    dagId: string;
    runId: string;
    taskId: string | null;
    dueAt: number;
    state: string;
    queue: string;
    callback: string | undefined;
  }): Promise<boolean> {
    const r = await this.#runRun(
      'recordSlaMiss',
      input.dagId,
      input.runId,
      Date.now(),
      input.taskId ?? '',
      input.dueAt,
      input.state,
      input.queue,
      input.callback ?? '',
    );
    return r === 1;
  }

  /** SLA misses recorded for a run: task id (`~run` for the run's deadline) → when. */
  async getSlaMisses(dagId: string, runId: string): Promise<Record<string, number>> {
    const h = await this.redis.hgetall(this.keys.slaMisses(dagId, runId));
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  }

  /** State of every task instance of a run, by `task:mapIndex`. */
  async getTiStates(dagId: string, runId: string): Promise<Record<string, TaskState>> {
    return (await this.redis.hgetall(this.keys.tiStates(dagId, runId))) as Record<string, TaskState>;
  }

  async deleteRun(dagId: string, runId: string): Promise<boolean> {
    return (await this.#runRun('deleteRun', dagId, runId)) === 1;
  }

  async sweep(dagId: string, staleMs = 30_000): Promise<{ started: number; requeued: number }> {
    const [started, requeued] = (await this.#run('sweep', this.keys.dagScriptKeys(dagId), this.keys.prefix, dagId, Date.now(), staleMs)) as [number, number];
    return { started, requeued };
  }

  /**
   * Fails the DAG's instances queued longer than `timeoutMs` on a queue that `reasons` names
   * (those no worker listens on), each with that queue's reason; how many.
   */
  async failStuckQueued(dagId: string, timeoutMs: number, reasons: Map<string, string>, now = Date.now()): Promise<number> {
    if (reasons.size === 0) return 0;
    const pairs = [...reasons].flat();
    return Number(await this.#run('failStuckQueued', this.keys.dagScriptKeys(dagId), this.keys.prefix, dagId, now, timeoutMs, ...pairs));
  }

  // ── Pools ───────────────────────────────────────────────────────────────────

  /** Creates or resizes a pool. 0 slots holds every task of the pool back. */
  async setPool(name: string, slots: number, description = ''): Promise<void> {
    await this.redis.hset(this.keys.pools, name, JSON.stringify({ slots, description }));
  }

  /** Deletes a pool; false when there was none. Its queued tasks then fail when claimed. */
  async deletePool(name: string): Promise<boolean> {
    const [[, n]] = (await this.redis.multi().hdel(this.keys.pools, name).del(this.keys.poolUsed(name), this.keys.poolQueued(name)).exec()) as [[null, number]];
    return n === 1;
  }

  /** Every pool with its slots used by running instances and wanted by queued ones. */
  async listPools(): Promise<PoolInfo[]> {
    const conf = await this.redis.hgetall(this.keys.pools);
    const names = [...new Set([DEFAULT_POOL, ...Object.keys(conf)])].sort();
    const pipe = this.redis.pipeline();
    for (const n of names) pipe.hvals(this.keys.poolUsed(n)).hvals(this.keys.poolQueued(n));
    const res = ((await pipe.exec()) ?? []).map(([, v]) => (v as string[]).reduce((a, b) => a + Number(b), 0));
    return names.map((name, i) => {
      const c = conf[name] ? (JSON.parse(conf[name]) as { slots: number; description: string }) : undefined;
      const used = res[2 * i]!;
      const queued = res[2 * i + 1]!;
      return {
        name,
        slots: c ? c.slots : null,
        description: c?.description ?? (name === DEFAULT_POOL ? 'tasks without a pool; unlimited until configured' : ''),
        used,
        queued,
        open: c ? Math.max(0, c.slots - used) : null,
      };
    });
  }

  /** Drops slots held by instances no longer running (a repair; slots are given back on every transition). */
  async reconcilePools(): Promise<number> {
    return Number(await this.#run('reconcilePools', [this.keys.pools], this.keys.prefix));
  }

  // ── Task instances ──────────────────────────────────────────────────────────

  /**
   * Claims one try for a worker. With `log`, the try's log gets its first line (which worker
   * took it) in the same step. With `outputs`, a claimed unmapped instance whose upstreams are
   * unmapped gets their outputs in the same reply (StartResult.outputs). With `maxDeaths`,
   * a takeover of a try whose job stalled (`deaths`, BullMQ's stalledCounter) that often
   * fails the try instead (status 'poison'; lua/includes/claim-try.lua).
   */
  async startTi(
    key: TaskInstanceKey,
    tryNumber: number,
    workerId: string,
    host: string,
    opts: { log?: boolean; outputs?: boolean; deaths?: number; maxDeaths?: number } = {},
  ): Promise<StartResult> {
    const claim = parseClaim(
      (await this.#runTi(
        'startTi',
        true,
        key,
        tryNumber,
        workerId,
        host,
        opts.log ? '1' : '0',
        opts.outputs ? '1' : '0',
        opts.deaths ?? 0,
        opts.maxDeaths ?? 0,
      )) as ClaimReply,
    );
    if (claim.status === 'ok' || claim.status === 'takeover' || claim.status === 'poison') await this.#durable(`the claim of ${tiName(key, tryNumber)}`, false);
    return claim;
  }

  async releaseTi(key: TaskInstanceKey, tryNumber: number): Promise<boolean> {
    const released = (await this.#runTi('releaseTi', false, key, tryNumber)) === 1;
    if (released) await this.#durable(`the hand-back of ${tiName(key, tryNumber)}`, false);
    return released;
  }

  /**
   * Runs a try again whose pod the cluster ended (evicted, preempted, node lost), without
   * using a retry: queued again under the same try number, at most `cap` times per instance
   * (`infraRequeues`). `capped` when it has been re-run that often: the caller fails it.
   */
  async requeueTi(key: TaskInstanceKey, tryNumber: number, why: string, cap: number): Promise<'requeued' | 'capped' | 'stale'> {
    const r = Number(await this.#runTi('releaseTi', false, key, tryNumber, why, cap));
    if (r === 1) await this.#durable(`the re-run of ${tiName(key, tryNumber)}`, false);
    return r === 1 ? 'requeued' : r === 2 ? 'capped' : 'stale';
  }

  /**
   * Executor bookkeeping on a task instance (pod name, log cursors, state detail). Written
   * only while the instance exists: a write for a run that is gone (deleted, or lost in a
   * failover) would otherwise leave a key that no retention removes.
   */
  async setTiFields(key: TaskInstanceKey, fields: Record<string, string>): Promise<void> {
    const pairs = Object.entries(fields).flat();
    if (pairs.length > 0) await this.#run('setTiFields', [this.keys.ti(key.dagId, key.runId, key.taskId, key.mapIndex)], ...pairs);
  }

  async getTiField(key: TaskInstanceKey, field: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.ti(key.dagId, key.runId, key.taskId, key.mapIndex), field)) ?? undefined;
  }

  /** Records the process group of a running try so a takeover on the same host can end it. */
  async setTiPgid(key: TaskInstanceKey, pgid: number): Promise<void> {
    await this.setTiFields(key, { pgid: String(pgid) });
  }

  async finishTi(key: TaskInstanceKey, tryNumber: number, f: FinishInput): Promise<TaskState | 'stale'> {
    const state = (await this.#runTi('finishTi', true, key, tryNumber, ...this.#finishFields(f), ...(f.logLines ?? []).map((l) => JSON.stringify(l)))) as
      TaskState | 'stale';
    if (state !== 'stale') await this.#durable(`the finish of ${tiName(key, tryNumber)}`, false);
    return state;
  }

  #finishFields(f: FinishInput): string[] {
    return [
      f.outcome,
      f.output ?? '',
      f.reason ?? '',
      f.exitCode === undefined ? '' : String(f.exitCode),
      f.follow ? JSON.stringify(f.follow) : '',
      f.skipDescendants ? '1' : '0',
      String(this.logMaxLines),
      f.noRetry ? '1' : '0',
    ];
  }

  /**
   * A worker's turn between tasks in one atomic step, for each of `finishes`: finishTi for
   * its try, then BullMQ's own moveToFinished for its job (`bull`: that script's keys and
   * arguments, as BullMQ's backend builds them), which may fetch the queue's next job, then
   * startTi for the fetched job's try, with its upstream outputs. Returns, per finish,
   * BullMQ's raw result, the recorded state and the claim of the fetched job when it is a
   * task try; or the error that finish raised (the others still apply).
   */
  async finishAndNext(
    finishes: readonly FinishAndNext[],
    worker: { workerId: string; host: string; maxDeaths?: number },
  ): Promise<(FinishAndNextResult | Error)[]> {
    if (finishes.length === 0) return [];
    const arg = (v: unknown) => (v === undefined || v === null ? '' : (v as string));
    // KEYS: the first finish's BullMQ keys (the queue's; each later finish sends how its own differ).
    const first = finishes[0]!.bull.keys;
    const keys = first.length === BULL_FINISH_KEYS ? first.map(arg) : Array<string>(BULL_FINISH_KEYS).fill('');
    const args: (string | number)[] = [this.keys.prefix, Date.now(), worker.workerId, worker.host, worker.maxDeaths ?? 0, finishes.length];
    let last: readonly unknown[] = keys;
    for (const { key, tryNumber, finish: f, bull } of finishes) {
      const lines = (f.logLines ?? []).map((l) => JSON.stringify(l));
      // The keys that differ from the previous finish's (the first's: from KEYS), as (position, key), when that is shorter.
      let changed: (string | number)[] | undefined;
      if (bull.keys.length > 0 && bull.keys.length === last.length) {
        changed = [];
        for (let i = 0; i < bull.keys.length; i++) if (bull.keys[i] !== last[i]) changed.push(i + 1, arg(bull.keys[i]));
        if (changed.length >= bull.keys.length) changed = undefined;
      }
      args.push(
        changed ? -(changed.length / 2 + 1) : bull.keys.length,
        bull.args.length,
        lines.length,
        key.dagId,
        key.runId,
        key.taskId,
        key.mapIndex,
        tryNumber,
        ...this.#finishFields(f),
      );
      if (changed) args.push(...changed);
      else for (const k of bull.keys) args.push(arg(k));
      last = bull.keys;
      for (const a of bull.args) args.push(arg(a));
      for (const l of lines) args.push(l);
    }
    const replies = (await this.#run('finishAndNext', keys, ...args)) as ([unknown, TaskState | 'stale', ClaimReply | null, string?] | ['ERR', string])[];
    await this.#durable(`${finishes.length} finish(es)`, false);
    return replies.map((r) => {
      if (r[0] === 'ERR') return new Error(`finishAndNext: ${String(r[1])}`);
      const done: FinishAndNextResult = { bull: r[0], state: r[1] as TaskState | 'stale', claim: r[2] ? parseClaim(r[2] as ClaimReply) : undefined };
      if (typeof r[3] === 'string') done.claimError = `finishAndNext: claiming the fetched job: ${r[3]}`;
      return done;
    });
  }

  /**
   * A reschedule-mode sensor's poke said "not yet": running → up_for_reschedule (same try),
   * giving back its task and pool slots, in one step with its last log lines.
   */
  async rescheduleTi(
    key: TaskInstanceKey,
    tryNumber: number,
    r: { nextPokeAt: number; pokes: number; logLines?: LogLine[] | undefined },
  ): Promise<'up_for_reschedule' | 'stale'> {
    const lines = (r.logLines ?? []).map((l) => JSON.stringify(l));
    return (await this.#runTi('rescheduleTi', true, key, tryNumber, r.nextPokeAt, r.pokes, this.logMaxLines, ...lines)) as 'up_for_reschedule' | 'stale';
  }

  /** A sensor's first poke time (recorded now if this is its first) and its pokes so far. */
  async sensorProgress(key: TaskInstanceKey, now = Date.now()): Promise<{ firstPokeAt: number; pokes: number }> {
    const k = this.keys.ti(key.dagId, key.runId, key.taskId, key.mapIndex);
    const r = await this.redis.multi().hsetnx(k, 'firstPokeAt', String(now)).hmget(k, 'firstPokeAt', 'pokes').exec();
    const [first, pokes] = (r?.[1]?.[1] ?? []) as (string | null)[];
    return { firstPokeAt: Number(first ?? now), pokes: Number(pokes ?? 0) };
  }

  /** Run ids of a DAG whose logical date is exactly `logicalDate` (ms). */
  async runIdsAt(dagId: string, logicalDate: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.runs(dagId), logicalDate, logicalDate);
  }

  /** Clears task instances so they run again, with their setups and teardowns; with `downstream`, their descendants too. */
  async clearTis(dagId: string, runId: string, taskIds: string[], opts: { downstream?: boolean } = {}): Promise<number> {
    let ids = taskIds;
    const run = await this.getRun(dagId, runId);
    const dag = run && (await this.getDagVersion(dagId, run.version));
    if (dag) ids = withSetupsAndTeardowns(dag.tasks, opts.downstream ? [...descendants(dag.tasks, taskIds)] : taskIds);
    return Number(checkResult(await this.#runRun('clearTis', dagId, runId, Date.now(), JSON.stringify(ids)), { dagId, runId }));
  }

  /** Marks a task instance; a mapped task as a whole unless `mapIndex` names one instance. */
  async markTi(dagId: string, runId: string, taskId: string, state: 'success' | 'failed' | 'skipped', mapIndex = UNMAPPED): Promise<void> {
    checkResult(await this.#runRun('markTi', dagId, runId, taskId, Date.now(), state, mapIndex), { dagId, runId, taskId, mapIndex });
  }

  /** Expanded mapped tasks of a run: instances, and how many ended in each final state. */
  async getMapCounts(dagId: string, runId: string): Promise<Record<string, MapCounts>> {
    const h = await this.redis.hgetall(this.keys.mapCounts(dagId, runId));
    const out: Record<string, MapCounts> = {};
    for (const [f, v] of Object.entries(h)) {
      const at = f.lastIndexOf(':');
      const task = f.slice(0, at);
      const c = (out[task] ??= { n: 0, success: 0, failed: 0, skipped: 0, upstream_failed: 0 });
      const k = f.slice(at + 1) as keyof MapCounts;
      if (k in c) c[k] = Number(v);
    }
    return out;
  }

  async getTi(key: TaskInstanceKey): Promise<TaskInstance | undefined> {
    const state = await this.redis.hget(this.keys.tiStates(key.dagId, key.runId), tiField(key.taskId, key.mapIndex));
    const h = await this.redis.hgetall(this.keys.ti(key.dagId, key.runId, key.taskId, key.mapIndex));
    if (state) return parseTi(key.dagId, key.runId, key.taskId, key.mapIndex, { ...h, state });
    if (h['state'] !== 'mapped') return undefined;
    const states = await this.#instanceStates(key.dagId, key.runId, key.taskId, Number(h['mapped']));
    return mappedTi(
      parseTi(key.dagId, key.runId, key.taskId, UNMAPPED, h),
      states.filter((s): s is TaskState => s !== null),
    );
  }

  /** States of instances 0..n-1 of an expanded mapped task, in map-index order (null: none). */
  async #instanceStates(dagId: string, runId: string, taskId: string, n: number): Promise<(TaskState | null)[]> {
    if (n <= 0) return [];
    return (await this.redis.hmget(this.keys.tiStates(dagId, runId), ...Array.from({ length: n }, (_, i) => tiField(taskId, i)))) as (TaskState | null)[];
  }

  /**
   * One page of an expanded mapped task's instances in map-index order, optionally only those
   * in `state`, with the count of every state; undefined while the task has not expanded.
   * Reads the instance states in one HMGET and only the page's instance hashes.
   */
  async listMappedTis(
    dagId: string,
    runId: string,
    taskId: string,
    page: { offset: number; limit: number; state?: TaskState | undefined },
  ): Promise<MappedPage | undefined> {
    const [state, mapped] = await this.redis.hmget(this.keys.ti(dagId, runId, taskId, UNMAPPED), 'state', 'mapped');
    if (state !== 'mapped') return undefined;
    const n = Number(mapped);
    const states = await this.#instanceStates(dagId, runId, taskId, n);
    const counts = tally(states.filter((s): s is TaskState => s !== null));
    const matching: number[] = [];
    states.forEach((s, i) => {
      if (s !== null && (!page.state || s === page.state)) matching.push(i);
    });
    const shown = matching.slice(page.offset, page.offset + page.limit);
    const pipe = this.redis.pipeline();
    for (const i of shown) pipe.hgetall(this.keys.ti(dagId, runId, taskId, i));
    const res = shown.length ? ((await pipe.exec()) ?? []) : [];
    const instances = shown.map((i, k) => parseTi(dagId, runId, taskId, i, { ...((res[k]?.[1] ?? {}) as Record<string, string>), state: states[i]! }));
    return { n, states: counts, total: matching.length, instances };
  }

  /**
   * State, try and holding worker of a task instance, cheaply: what a worker's heartbeat
   * checks. The holder matters after a failover: a claim rolled back and made again by
   * another worker shows the same state and try, but not the same worker.
   */
  async getTiStateAndTry(key: TaskInstanceKey): Promise<{ state: TaskState | undefined; try: number; worker: string | undefined }> {
    const [state, t, worker] = await this.redis
      .multi()
      .hget(this.keys.tiStates(key.dagId, key.runId), tiField(key.taskId, key.mapIndex))
      .hmget(this.keys.ti(key.dagId, key.runId, key.taskId, key.mapIndex), 'try', 'worker')
      .exec()
      .then((r) => {
        const [s, [tr, w] = []] = (r ?? []).map(([, v]) => v) as [string | null, (string | null)[] | undefined];
        return [s, tr, w];
      });
    return { state: (state ?? undefined) as TaskState | undefined, try: Number(t ?? 0), worker: worker ?? undefined };
  }

  async listTis(dagId: string, runId: string): Promise<TaskInstance[]> {
    const states = await this.redis.hgetall(this.keys.tiStates(dagId, runId));
    const fields = Object.keys(states);
    const pipe = this.redis.pipeline();
    for (const f of fields) pipe.hgetall(this.keys.tiOfField(dagId, runId, f));
    const res = (await pipe.exec()) ?? [];
    const tis = fields.map((f, i) => {
      const at = f.lastIndexOf(':');
      const h = (res[i]?.[1] ?? {}) as Record<string, string>;
      return parseTi(dagId, runId, f.slice(0, at), Number(f.slice(at + 1)), { ...h, state: states[f]! });
    });
    // Each expanded mapped task also gets one row as a whole, after its instances.
    const byTask = new Map<string, TaskState[]>();
    for (const ti of tis) if (ti.mapIndex >= 0) (byTask.get(ti.taskId) ?? byTask.set(ti.taskId, []).get(ti.taskId)!).push(ti.state);
    if (byTask.size === 0) return tis;
    const pipe2 = this.redis.pipeline();
    for (const task of byTask.keys()) pipe2.hgetall(this.keys.ti(dagId, runId, task, UNMAPPED));
    const heads = (await pipe2.exec()) ?? [];
    [...byTask].forEach(([task, s], i) => tis.push(mappedTi(parseTi(dagId, runId, task, UNMAPPED, (heads[i]?.[1] ?? {}) as Record<string, string>), s)));
    return tis;
  }

  // ── Logs and outputs ────────────────────────────────────────────────────────

  /** Appends log lines; `fields` are set on the task instance in the same step. */
  async appendLog(key: TaskInstanceKey, tryNumber: number, lines: LogLine[], fields: Record<string, string> = {}): Promise<void> {
    if (lines.length === 0) return;
    const f = Object.keys(fields).length ? JSON.stringify(fields) : '';
    await this.#run(
      'appendLog',
      this.keys.tiTryKeys(key.dagId, key.runId, key.taskId, key.mapIndex, tryNumber),
      tryNumber,
      this.logMaxLines,
      f,
      ...lines.map((l) => JSON.stringify(l)),
    );
  }

  async getLog(key: TaskInstanceKey, tryNumber: number, from = 0, count = 1000): Promise<LogLine[]> {
    return (await this.readLog(key, tryNumber, from, count)).lines;
  }

  /**
   * Log lines of a try from absolute line `from` (0 = the try's first line ever written).
   * A log over its cap lost its oldest lines: then `from` in the answer is the first line
   * still kept, past the asked one, and the lines in between are gone.
   */
  async readLog(key: TaskInstanceKey, tryNumber: number, from = 0, count = 1000): Promise<{ from: number; lines: LogLine[] }> {
    const [first, raw] = (await this.#run(
      'readLog',
      this.keys.tiTryKeys(key.dagId, key.runId, key.taskId, key.mapIndex, tryNumber),
      tryNumber,
      from,
      count,
    )) as [number, string[]];
    return { from: first, lines: raw.map((r) => JSON.parse(r) as LogLine) };
  }

  /**
   * Outputs of the given tasks of a run, by task id. A task in `mapped` gives the list of its
   * instances' outputs in map-index order (null where an instance left none), or [] when it
   * never expanded.
   */
  async getOutputs(dagId: string, runId: string, taskIds: string[], mapped: ReadonlySet<string> = new Set()): Promise<Record<string, unknown>> {
    if (taskIds.length === 0) return {};
    const fields: string[] = [];
    const spans = new Map<string, [number, number]>();
    const counts = mapped.size ? await this.redis.hmget(this.keys.mapCounts(dagId, runId), ...[...mapped].map((t) => `${t}:n`)) : [];
    const countOf = new Map([...mapped].map((t, i) => [t, Number(counts[i] ?? 0)]));
    for (const t of taskIds) {
      const n = mapped.has(t) ? countOf.get(t)! : -1;
      spans.set(t, [fields.length, n]);
      if (n < 0) fields.push(tiField(t, UNMAPPED));
      else for (let i = 0; i < n; i++) fields.push(tiField(t, i));
    }
    const vals = fields.length ? await this.redis.hmget(this.keys.outputs(dagId, runId), ...fields) : [];
    const parse = (v: string | null | undefined) => (v === null || v === undefined ? null : (JSON.parse(v) as unknown));
    const out: Record<string, unknown> = {};
    for (const [t, [from, n]] of spans) {
      if (n >= 0) out[t] = vals.slice(from, from + n).map(parse);
      else if (vals[from] !== null && vals[from] !== undefined) out[t] = parse(vals[from]);
    }
    return out;
  }

  /** Output of one instance (null when it left none). */
  /**
   * Sets the outputs of unmapped tasks of a run by hand, as a finish would record them: a task
   * test (`aloft tasks test --upstream`) gives its task's upstream outputs this way.
   */
  async setOutputs(dagId: string, runId: string, outputs: Record<string, unknown>): Promise<void> {
    const fields = Object.entries(outputs).flatMap(([taskId, v]) => [tiField(taskId, UNMAPPED), JSON.stringify(v)]);
    if (fields.length > 0) await this.redis.hset(this.keys.outputs(dagId, runId), ...fields);
  }

  async getOutput(key: TaskInstanceKey): Promise<unknown> {
    const v = await this.redis.hget(this.keys.outputs(key.dagId, key.runId), tiField(key.taskId, key.mapIndex));
    return v === null ? null : (JSON.parse(v) as unknown);
  }
}

export function descendants(tasks: SerializedTask[], roots: string[], dir: 'downstream' | 'upstream' = 'downstream'): Set<string> {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const seen = new Set<string>(roots);
  const queue = [...roots];
  while (queue.length) {
    for (const d of byId.get(queue.shift()!)?.[dir] ?? []) {
      if (!seen.has(d)) {
        seen.add(d);
        queue.push(d);
      }
    }
  }
  return seen;
}

/**
 * The tasks to clear with `ids`, as Airflow clears them: each one's setups (the setup tasks
 * upstream of it) and the teardowns of those setups and of any setup among `ids`, so a work
 * task runs again between a fresh setup and its teardown.
 */
export function withSetupsAndTeardowns(tasks: SerializedTask[], ids: string[]): string[] {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  if (!tasks.some((t) => t.setup)) return ids;
  const setups = [...descendants(tasks, ids, 'upstream')].filter((id) => byId.get(id)?.setup);
  const teardowns = [...descendants(tasks, setups)].filter((id) => byId.get(id)?.teardown);
  return [...new Set([...ids, ...setups, ...teardowns])];
}

function parseRun(h: Record<string, string>): DagRun {
  return {
    dagId: h['dagId']!,
    runId: h['runId']!,
    state: h['state'] as RunState,
    runType: (h['runType'] ?? 'manual') as RunType,
    version: h['version']!,
    logicalDate: Number(h['logicalDate']),
    dataIntervalStart: Number(h['dataIntervalStart'] ?? h['logicalDate']),
    dataIntervalEnd: Number(h['dataIntervalEnd'] ?? h['logicalDate']),
    conf: JSON.parse(h['conf'] ?? '{}') as Record<string, unknown>,
    queuedAt: Number(h['queuedAt']),
    startDate: num(h['startDate']),
    endDate: num(h['endDate']),
    unfinished: Number(h['unfinished'] ?? 0),
    reason: h['reason'],
    ...(h['triggeredBy'] ? { triggeredBy: h['triggeredBy'] } : {}),
    ...(h['datasetEvents'] ? { datasetEvents: JSON.parse(h['datasetEvents']) as DatasetEvent[] } : {}),
  };
}

function mappedTi(head: TaskInstance, states: TaskState[]): TaskInstance {
  return { ...head, state: summarizeMapped(states), mapped: { n: states.length, states: tally(states) } };
}

function parseTi(dagId: string, runId: string, taskId: string, mapIndex: number, h: Record<string, string>): TaskInstance {
  return {
    dagId,
    runId,
    taskId,
    mapIndex,
    state: h['state'] as TaskState,
    try: Number(h['try'] ?? 0),
    maxTries: num(h['maxTries']),
    queue: h['queue'],
    queuedAt: num(h['queuedAt']),
    startDate: num(h['startDate']),
    endDate: num(h['endDate']),
    duration: num(h['duration']),
    worker: h['worker'],
    hostname: h['hostname'],
    pgid: num(h['pgid']),
    exitCode: num(h['exitCode']),
    reason: h['reason'],
    nextTryAt: num(h['nextTryAt']),
    firstPokeAt: num(h['firstPokeAt']),
    pokes: num(h['pokes']),
    nextPokeAt: num(h['nextPokeAt']),
    jobId: h['jobId'],
    detail: h['detail'],
    pod: h['pod'],
    podMemoryByTry: Object.fromEntries(
      Object.entries(h)
        .filter(([k]) => k.startsWith('podMemory:'))
        .map(([k, v]) => [Number(k.slice('podMemory:'.length)), v]),
    ),
  };
}
