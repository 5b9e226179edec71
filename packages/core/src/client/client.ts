import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ConflictError } from '../errors/conflict-error.js';
import { InvalidInputError } from '../errors/invalid-input-error.js';
import { NotFoundError } from '../errors/not-found-error.js';
import type { SecretCipher } from '../secrets/cipher.js';
import { SecretStore } from '../secrets/secret-store.js';
import type { ParamSpec, SerializedDag, SerializedTask } from '../model/dag.js';
import { DEFAULT_POOL, manualRunId, POOL_NAME, scheduledRunId, UNMAPPED } from '../model/ids.js';
import { intervalsBetween, manualDataInterval, type DataInterval } from '../dag-api/schedule.js';
import { FINISHED_RUN_STATES, type RunState, type TaskState } from '../model/states.js';
import { POD_FIELDS, unknownFields } from '../dag-api/option-fields.js';
import { validatePodOptions } from '../dag-api/pod-options.js';
import { ValidationIssues } from '../dag-api/validation.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { createRedis } from '../redis.js';
import { RedisOutageLog } from '../redis-outage.js';
import type { DatasetEvent, DatasetInfo } from '../store/dataset-store.js';
import { activeTaskStates, DagOverviews, findRuns, runGrid, runIdsBetween, taskIdsBetween, type DagOverview, type RunGrid } from './run-views.js';
import {
  Store,
  type DagRecord,
  type Durability,
  type RunType,
  type DagRun,
  type ImportErrorRecord,
  type LogLine,
  type MappedPage,
  type PoolInfo,
  type TaskInstance,
} from '../store/store.js';

export interface ClientOptions {
  /** Redis to open a connection to. Default `redis://127.0.0.1:6379`. */
  redisUrl?: string;
  /** Key prefix (ALOFT_KEY_PREFIX). Default `aloft`. */
  prefix?: string;
  /** Use this connection instead of opening one; the caller closes it. */
  redis?: Redis;
  /** Use this store (a service's own) instead of making one; the caller closes its connection. */
  store?: Store;
  /** Replicas that must confirm a trigger before it is answered (ALOFT_REDIS_WAIT_REPLICAS). */
  durability?: Durability;
  /** Where the client's own connection logs a Redis outage (once, at warn); pino at warn by default. */
  logger?: Logger;
}

export interface TriggerOptions {
  conf?: Record<string, unknown>;
  runId?: string;
  logicalDate?: Date;
  /** `dag/run/task/try` of the triggerDagRun task that starts the run, recorded on it. */
  triggeredBy?: string;
}

export interface AdhocCommand {
  command: string | string[];
  env?: Record<string, string>;
  cwd?: string;
  retries?: number;
  retryDelayMs?: number;
  executionTimeoutMs?: number;
  queue?: string;
  /** Name shown for the task; default `command`. */
  taskId?: string;
}

/** One pod as its own single-task run: the parameters of a `kubernetesPod` task. */
export interface AdhocPod {
  image: string;
  namespace?: string;
  cmds?: string[];
  arguments?: string[];
  env?: Record<string, string>;
  labels?: Record<string, string>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  startupTimeout?: string | number;
  retries?: number;
  retryDelayMs?: number;
  executionTimeoutMs?: number;
  queue?: string;
  /** Name shown for the task; default `pod`. */
  taskId?: string;
}

export type AdhocJob = ({ kind: 'command' } & AdhocCommand) | ({ kind: 'kubernetesPod' } & AdhocPod);

export interface BackfillOptions {
  /** First logical date (inclusive). */
  from: Date;
  /** Last logical date (inclusive). */
  to: Date;
  /** Clear and run again the runs that already exist in the range. Default: skip them. */
  rerun?: boolean;
  conf?: Record<string, unknown>;
  /**
   * Runs one backfill may create (the dashboard's ALOFT_BACKFILL_MAX_RUNS): a range with
   * more intervals is an InvalidInputError on `to`, before any run is created. Default 10000.
   */
  maxRuns?: number;
  /** Called after each logical date is handled: how many of how many. */
  onProgress?: (done: number, total: number) => void;
}

export interface BackfillResult {
  /** Runs created, oldest first; beyond maxActiveRuns they wait queued. */
  created: string[];
  /** Runs that existed and were left alone. */
  skipped: string[];
  /** Runs that existed and were cleared to run again (rerun). */
  rerun: string[];
}

export interface ClearRangeOptions {
  from: Date;
  to: Date;
  /** Only tasks whose id matches this regular expression. */
  taskRegex?: string;
  /** Clear the downstream of each matched task too. */
  downstream?: boolean;
  /** Only task instances that failed (or whose upstream failed). */
  failedOnly?: boolean;
  /** Called after each run in the range is handled: how many of how many. */
  onProgress?: (done: number, total: number) => void;
}

export const ADHOC_DAG_ID = 'adhoc';
const ADHOC_TASK_ID = /^[A-Za-z0-9_-]{1,100}$/;

/**
 * Typed access to Aloft for programs: trigger runs and wait for them, submit ad-hoc
 * commands, read state and logs, cancel, clear, pause. The operations of the dashboard's
 * REST API, the CLI and the worker's triggerDagRun tasks, with their checks and errors.
 */
export class AloftClient {
  readonly store: Store;
  readonly #owned: boolean;
  readonly #overviews: DagOverviews;

  constructor(opts: ClientOptions = {}) {
    this.#owned = !opts.store && !opts.redis;
    if (opts.store) {
      this.store = opts.store;
    } else {
      const redis = opts.redis ?? createRedis(opts.redisUrl ?? 'redis://127.0.0.1:6379');
      // A connection it opens gets an 'error' listener; one it is given is the caller's to watch.
      if (this.#owned) new RedisOutageLog(opts.logger ?? createLogger({ name: 'aloft-client', level: 'warn' })).watch(redis, 'client');
      this.store = new Store(redis, opts.prefix ?? 'aloft', undefined, opts.durability);
    }
    this.#overviews = new DagOverviews(this.store);
  }

  async close(): Promise<void> {
    if (this.#owned) await this.store.redis.quit();
  }

  /** Aloft's own store of connections and variables, sealing with `cipher` (ALOFT_SECRETS_KEYS). */
  secrets(cipher: SecretCipher | undefined): SecretStore {
    return new SecretStore(this.store.redis, this.store.keys, cipher);
  }

  listDags(): Promise<DagRecord[]> {
    return this.store.listDags();
  }

  async getDag(dagId: string): Promise<DagRecord> {
    const d = await this.store.getDag(dagId);
    if (!d) throw new NotFoundError('dag', dagId);
    return d;
  }

  /** Every DAG without its tasks, with its latest `recentRuns` runs (default 12), filtered by tag and paused. */
  listDagOverviews(opts: { tag?: string | undefined; paused?: boolean | undefined; recentRuns?: number } = {}): Promise<DagOverview[]> {
    return this.#overviews.list(opts, opts.recentRuns ?? 12);
  }

  /** Runs × tasks of a page of the DAG's runs, newest first. */
  async getRunGrid(dagId: string, page: { limit: number; offset: number }): Promise<RunGrid> {
    return runGrid(this.store, await this.getDag(dagId), page);
  }

  /**
   * Deletes a DAG whose file is gone, with its history (Airflow's `dags delete`). A DAG that
   * a file still defines would be stored again by the scheduler, so that is refused, as is a
   * DAG with runs still going (cancel them first).
   */
  async deleteDag(dagId: string): Promise<{ dagId: string; runs: number }> {
    const rec = await this.getDag(dagId);
    if (!rec.missing)
      throw new ConflictError(
        `DAG "${dagId}" is still defined by ${rec.dag.fileloc}: remove it from that file first (the scheduler would store it again), then delete it`,
        'dagId',
      );
    const unfinished = await this.store.listUnfinishedRunIds(dagId);
    const gone = unfinished.length ? undefined : await this.store.deleteDag(dagId);
    if (!gone) {
      const n = unfinished.length || (await this.store.listUnfinishedRunIds(dagId)).length;
      throw new ConflictError(`DAG "${dagId}" has ${n} run(s) not finished: cancel them first (aloft runs cancel ${dagId} <run>), then delete it`, 'dagId');
    }
    return { dagId, runs: gone.runs };
  }

  importErrors(): Promise<ImportErrorRecord[]> {
    return this.store.listImportErrors();
  }

  async setPaused(dagId: string, paused: boolean): Promise<void> {
    await this.getDag(dagId);
    await this.store.setPaused(dagId, paused);
  }

  /** Starts a manual run; `conf` is checked against the DAG's params. */
  async trigger(dagId: string, opts: TriggerOptions = {}): Promise<DagRun> {
    const rec = await this.getDag(dagId);
    const conf = opts.conf ?? {};
    const problems = checkConf(rec.dag.params, conf);
    if (problems.length) throw new Error(`conf for DAG "${dagId}" is invalid: ${problems.join('; ')}`);
    const at = opts.logicalDate ?? new Date();
    const runId = opts.runId ?? manualRunId(at, randomBytes(3).toString('hex'));
    // A scheduled DAG's manual run covers the last complete interval of its schedule (Airflow 2).
    const d = rec.dag;
    const interval = manualDataInterval(d.schedule, d.timezone, d.startDate ? new Date(d.startDate) : at, at) ?? { start: at, end: at };
    const r = await this.store.createRun({
      dagId,
      runId,
      runType: 'manual',
      logicalDate: at,
      dataIntervalStart: interval.start,
      dataIntervalEnd: interval.end,
      conf,
      ...(opts.triggeredBy ? { triggeredBy: opts.triggeredBy } : {}),
    });
    if (r === 'exists') throw new Error(`run "${runId}" of DAG "${dagId}" already exists`);
    return (await this.store.getRun(dagId, runId))!;
  }

  /** Every dataset that DAGs produce or are scheduled on: last update, producers, consumers. */
  listDatasets(): Promise<DatasetInfo[]> {
    return this.store.datasets.list();
  }

  /** Dataset update events, newest first (only those of `uri` when given). */
  listDatasetEvents(opts: { uri?: string; limit?: number } = {}): Promise<DatasetEvent[]> {
    return this.store.datasets.events(opts);
  }

  /** Runs one command as its own single-task run, without a DAG file. */
  submitCommand(spec: AdhocCommand): Promise<DagRun> {
    return this.submitJob({ kind: 'command', ...spec });
  }

  /**
   * Runs one command or one pod as its own single-task run of the `adhoc` DAG, with
   * retries and a timeout, followed like any other run. Bad parameters throw a
   * DagImportError naming the field.
   */
  async submitJob(spec: AdhocJob): Promise<DagRun> {
    const issues = new ValidationIssues(undefined);
    const taskId = spec.taskId ?? (spec.kind === 'command' ? 'command' : 'pod');
    if (!ADHOC_TASK_ID.test(taskId)) issues.add('taskId', 'taskId must be 1-100 letters, digits, _ or -');
    const retries = spec.retries ?? 0;
    if (!Number.isInteger(retries) || retries < 0 || retries > 100) issues.add('retries', 'retries must be an integer from 0 to 100');
    const timeout = spec.executionTimeoutMs;
    if (timeout !== undefined && (!Number.isInteger(timeout) || timeout <= 0))
      issues.add('executionTimeoutMs', 'executionTimeoutMs must be a positive integer');
    const base: SerializedTask = {
      id: taskId,
      kind: spec.kind,
      owner: 'adhoc',
      retries,
      retryDelayMs: spec.retryDelayMs ?? 1000,
      retryExponentialBackoff: false,
      maxRetryDelayMs: 86_400_000,
      executionTimeoutMs: timeout ?? null,
      queue: spec.queue ?? 'default',
      priority: 1,
      dependsOnPast: false,
      pool: null,
      poolSlots: 1,
      runInPod: null,
      upstream: [],
      downstream: [],
      triggerRule: 'all_success',
      hasFunction: false,
    };
    if (spec.kind === 'command') {
      const c = spec.command as unknown;
      const ok = (typeof c === 'string' && c.trim() !== '') || (Array.isArray(c) && c.length > 0 && c.every((x) => typeof x === 'string'));
      if (!ok) issues.add('command', 'command must be a non-empty string or a list of strings');
      base.command = { command: spec.command, env: spec.env ?? {}, cwd: spec.cwd, skipExitCode: 99 };
    } else {
      const { kind: _k, taskId: _t, retries: _r, retryDelayMs: _d, executionTimeoutMs: _e, queue: _q, ...pod } = spec;
      if ('podTemplateFile' in pod) issues.add('podTemplateFile', 'podTemplateFile is not available for ad-hoc pods');
      for (const p of unknownFields(pod, POD_FIELDS, 'a kubernetesPod parameter')) issues.add(p.field, `ad-hoc pod "${taskId}": ${p.message}`);
      base.pod = validatePodOptions(pod as Record<string, unknown>, `ad-hoc pod "${taskId}"`, issues);
    }
    issues.throwIfAny();
    return this.#submitTask(base);
  }

  async #submitTask(task: SerializedTask): Promise<DagRun> {
    const body = {
      id: ADHOC_DAG_ID,
      description: 'Ad-hoc jobs submitted through the client, CLI or API',
      fileloc: '',
      schedule: null,
      timezone: 'UTC',
      startDate: null,
      endDate: null,
      catchup: false,
      maxActiveRuns: 100_000,
      maxActiveTasks: 100_000,
      tags: ['adhoc'],
      params: {},
      tasks: [task],
    };
    const version = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16);
    const dag: SerializedDag = { ...body, version };
    await this.store.saveDagVersion(dag);
    const at = new Date();
    const runId = `adhoc__${at.toISOString()}__${randomBytes(4).toString('hex')}`;
    await this.store.createRun({
      dagId: ADHOC_DAG_ID,
      runId,
      runType: 'adhoc',
      logicalDate: at,
      dataIntervalStart: at,
      dataIntervalEnd: at,
      version,
    });
    return (await this.store.getRun(ADHOC_DAG_ID, runId))!;
  }

  /**
   * Creates the run of every scheduled logical date in [from, to] (Airflow's backfill), with
   * the run ids the scheduler would use, so a date never gets two runs. Runs past the
   * DAG's maxActiveRuns wait queued and start as others finish.
   */
  async backfill(dagId: string, opts: BackfillOptions): Promise<BackfillResult> {
    const rec = await this.getDag(dagId);
    const d = rec.dag;
    if (!d.schedule) throw new InvalidInputError(`DAG "${dagId}" has no schedule, so it has no logical dates to backfill; trigger it instead`, 'dagId');
    if (d.schedule.kind === 'datasets')
      throw new InvalidInputError(`DAG "${dagId}" is scheduled on datasets, so it has no logical dates to backfill; trigger it instead`, 'dagId');
    if (!(opts.from <= opts.to)) throw new InvalidInputError('backfill: --from must not be after --to', 'from');
    const startDate = d.startDate ? new Date(d.startDate) : opts.from;
    let intervals: DataInterval[];
    try {
      intervals = intervalsBetween(d.schedule, d.timezone, startDate, opts.from, opts.to, opts.maxRuns);
    } catch (err) {
      if (opts.maxRuns === undefined || !/more than \d+ intervals/.test(String(err))) throw err;
      throw new InvalidInputError(
        `the range ${opts.from.toISOString()} .. ${opts.to.toISOString()} holds more than ${opts.maxRuns} intervals, the most one backfill creates (ALOFT_BACKFILL_MAX_RUNS): split it`,
        'to',
      );
    }
    const conf = opts.conf ?? {};
    const problems = checkConf(d.params, conf);
    if (problems.length) throw new InvalidInputError(`conf for DAG "${dagId}" is invalid: ${problems.join('; ')}`, 'conf');
    const out: BackfillResult = { created: [], skipped: [], rerun: [] };
    for (const [i, iv] of intervals.entries()) {
      if (i > 0) opts.onProgress?.(i, intervals.length);
      const existing = await this.store.runIdsAt(dagId, iv.start.getTime());
      if (existing.length) {
        if (!opts.rerun) {
          out.skipped.push(...existing);
          continue;
        }
        for (const runId of existing) {
          const tis = await this.store.listTis(dagId, runId);
          await this.store.clearTis(
            dagId,
            runId,
            tis.map((t) => t.taskId),
            {},
          );
          out.rerun.push(runId);
        }
        continue;
      }
      const runId = scheduledRunId(iv.start);
      const r = await this.store.createRun({
        dagId,
        runId,
        runType: 'backfill',
        logicalDate: iv.start,
        dataIntervalStart: iv.start,
        dataIntervalEnd: iv.end,
        conf,
      });
      (r === 'created' ? out.created : out.skipped).push(runId);
    }
    opts.onProgress?.(intervals.length, intervals.length);
    return out;
  }

  /**
   * Clears (runs again) the task instances of every run whose logical date is in
   * [from, to], optionally only tasks matching a regex, only failed ones, with downstream.
   */
  async clearRange(dagId: string, opts: ClearRangeOptions): Promise<{ runs: number; cleared: number }> {
    await this.getDag(dagId);
    let re: RegExp | undefined;
    try {
      re = opts.taskRegex ? new RegExp(opts.taskRegex) : undefined;
    } catch (err) {
      throw new InvalidInputError(`--task is not a valid regular expression: ${(err as Error).message}`, 'taskRegex');
    }
    const runIds = await runIdsBetween(this.store, dagId, opts.from, opts.to);
    let runs = 0;
    let cleared = 0;
    for (const [i, runId] of runIds.entries()) {
      if (i > 0) opts.onProgress?.(i, runIds.length);
      const picked = (await this.store.listTis(dagId, runId))
        .filter((t) => (!re || re.test(t.taskId)) && (!opts.failedOnly || t.state === 'failed' || t.state === 'upstream_failed'))
        .map((t) => t.taskId);
      if (picked.length === 0) continue;
      runs++;
      cleared += await this.store.clearTis(dagId, runId, picked, { downstream: opts.downstream ?? false });
    }
    opts.onProgress?.(runIds.length, runIds.length);
    return { runs, cleared };
  }

  listPools(): Promise<PoolInfo[]> {
    return this.store.listPools();
  }

  /** Creates or resizes a pool; running instances keep their slots when it shrinks. */
  async setPool(name: string, slots: number, description = ''): Promise<PoolInfo> {
    if (!POOL_NAME.test(name)) throw new InvalidInputError(`pool name must be 1-100 letters, digits, "_", "-" or "." (got ${JSON.stringify(name)})`, 'name');
    if (!Number.isInteger(slots) || slots < 0 || slots > 1_000_000)
      throw new InvalidInputError(`slots must be a whole number from 0 to 1000000 (got ${JSON.stringify(slots)})`, 'slots');
    if (typeof description !== 'string' || description.length > 500)
      throw new InvalidInputError('description must be a string of at most 500 characters', 'description');
    await this.store.setPool(name, slots, description);
    return (await this.store.listPools()).find((p) => p.name === name)!;
  }

  async deletePool(name: string): Promise<void> {
    if (name === DEFAULT_POOL) {
      // The default pool cannot go away; deleting its configuration makes it unlimited again.
      await this.store.deletePool(name);
      return;
    }
    if (!(await this.store.deletePool(name))) throw new NotFoundError('pool', name);
  }

  async getRun(dagId: string, runId: string): Promise<DagRun> {
    const r = await this.store.getRun(dagId, runId);
    if (!r) throw new NotFoundError('run', `${dagId}/${runId}`);
    return r;
  }

  /** A page of the DAG's runs, newest first; an unknown DAG is a NotFoundError, not an empty page. */
  async listRuns(dagId: string, opts: { limit?: number; offset?: number } = {}): Promise<DagRun[]> {
    if (dagId !== ADHOC_DAG_ID) await this.getDag(dagId);
    return this.store.listRuns(dagId, opts);
  }

  /** A page of the DAG's runs, newest first, of one state and run type when given, and how many runs it has. */
  async findRuns(
    dagId: string,
    q: { limit: number; offset: number; state?: RunState | undefined; runType?: RunType | undefined },
  ): Promise<{ runs: DagRun[]; total: number }> {
    // The ad-hoc DAG is stored with the first job: before that its runs are none, not a 404.
    if (dagId !== ADHOC_DAG_ID) await this.getDag(dagId);
    return findRuns(this.store, dagId, q);
  }

  /** The ids of the tasks with instances in the DAG's runs whose logical date is in [from, to]. */
  taskIdsBetween(dagId: string, from: Date, to: Date): Promise<string[]> {
    return taskIdsBetween(this.store, dagId, from, to);
  }

  /** Task instances of every DAG's queued and running runs, by state. */
  activeTaskStates(): Promise<Map<TaskState, number>> {
    return activeTaskStates(this.store);
  }

  /** The run's task instances; an unknown run is a NotFoundError, not an empty list. */
  async listTaskInstances(dagId: string, runId: string): Promise<TaskInstance[]> {
    const tis = await this.store.listTis(dagId, runId);
    // A run always has task instances: an empty answer is the only one worth checking.
    if (tis.length === 0) await this.getRun(dagId, runId);
    return tis;
  }

  /** A task instance; map index −1 is a mapped task as a whole (with `mapped` counts). */
  async getTaskInstance(dagId: string, runId: string, taskId: string, mapIndex = UNMAPPED): Promise<TaskInstance> {
    const ti = await this.store.getTi({ dagId, runId, taskId, mapIndex });
    if (!ti) throw new NotFoundError('task instance', `${dagId}/${runId}/${taskId}${mapIndex === UNMAPPED ? '' : `[${mapIndex}]`}`);
    return ti;
  }

  /**
   * One page of a mapped task's instances (map-index order, optionally only one state), with
   * how many there are in each state. A task that has not expanded, or is not mapped, has none.
   */
  async listMappedInstances(
    dagId: string,
    runId: string,
    taskId: string,
    page: { offset?: number; limit?: number; state?: TaskState | undefined } = {},
  ): Promise<MappedPage> {
    const p = { offset: page.offset ?? 0, limit: page.limit ?? 100, state: page.state };
    const found = await this.store.listMappedTis(dagId, runId, taskId, p);
    if (found) return found;
    await this.getTaskInstance(dagId, runId, taskId);
    return { n: 0, states: {}, total: 0, instances: [] };
  }

  /** Log lines of one try (default: the latest), from line `from`. */
  async getLog(
    dagId: string,
    runId: string,
    taskId: string,
    opts: { try?: number; from?: number; count?: number; mapIndex?: number } = {},
  ): Promise<LogLine[]> {
    return (await this.readLog(dagId, runId, taskId, opts)).lines;
  }

  /**
   * Log lines of one try from absolute line `from`, and where they start: past the log's
   * cap its oldest lines are gone and the answer starts at the first line kept. An unknown
   * task instance, or a try it has not had, is a NotFoundError naming it.
   */
  async readLog(
    dagId: string,
    runId: string,
    taskId: string,
    opts: { try?: number; from?: number; count?: number; mapIndex?: number } = {},
  ): Promise<{ from: number; lines: LogLine[] }> {
    const mapIndex = opts.mapIndex ?? UNMAPPED;
    const ti = await this.getTaskInstance(dagId, runId, taskId, mapIndex);
    const t = opts.try ?? ti.try;
    if (opts.try !== undefined && (opts.try < 1 || opts.try > ti.try)) {
      const tries = ti.try === 0 ? 'has not run yet' : ti.try === 1 ? 'has had 1 try' : `has had tries 1 to ${ti.try}`;
      const name = `${dagId}/${runId}/${taskId}${mapIndex === UNMAPPED ? '' : `[${mapIndex}]`}`;
      throw new NotFoundError('try', `${name}#${opts.try}`, `task instance "${name}" has no try ${opts.try}: it ${tries}`);
    }
    return this.store.readLog({ dagId, runId, taskId, mapIndex }, t, opts.from ?? 0, opts.count ?? 10_000);
  }

  /**
   * Lines of a try already known to exist, from absolute line `from`, without the checks of
   * readLog: what a follower reads between its checks of getTryState.
   */
  readTryLog(
    key: { dagId: string; runId: string; taskId: string; mapIndex: number },
    tryNo: number,
    from: number,
    count: number,
  ): Promise<{ from: number; lines: LogLine[] }> {
    return this.store.readLog(key, tryNo, from, count);
  }

  /**
   * A task instance's state and latest try number, in one read: what a follower of its
   * log checks between reads to know whether the try it follows is over.
   */
  async getTryState(dagId: string, runId: string, taskId: string, mapIndex = UNMAPPED): Promise<{ state: TaskState | undefined; try: number }> {
    const { state, try: tryNo } = await this.store.getTiStateAndTry({ dagId, runId, taskId, mapIndex });
    return { state, try: tryNo };
  }

  /** A task's output; a mapped task as a whole gives the list of its instances' outputs. */
  async getOutput(dagId: string, runId: string, taskId: string, mapIndex = UNMAPPED): Promise<unknown> {
    if (mapIndex !== UNMAPPED) return (await this.store.getOutput({ dagId, runId, taskId, mapIndex })) ?? undefined;
    const ti = await this.store.getTi({ dagId, runId, taskId, mapIndex });
    return (await this.store.getOutputs(dagId, runId, [taskId], new Set(ti?.mapped ? [taskId] : [])))[taskId];
  }

  async cancelRun(dagId: string, runId: string, reason = 'cancelled by a user'): Promise<void> {
    await this.getRun(dagId, runId);
    await this.store.cancelRun(dagId, runId, reason);
  }

  async clearTask(dagId: string, runId: string, taskId: string, opts: { downstream?: boolean } = {}): Promise<number> {
    await this.getTaskInstance(dagId, runId, taskId);
    return this.store.clearTis(dagId, runId, [taskId], opts);
  }

  /** Marks a task instance; a mapped task as a whole (every instance) unless `mapIndex` names one. */
  async markTask(dagId: string, runId: string, taskId: string, state: 'success' | 'failed' | 'skipped', mapIndex = UNMAPPED): Promise<void> {
    await this.getTaskInstance(dagId, runId, taskId, mapIndex);
    await this.store.markTi(dagId, runId, taskId, state, mapIndex);
  }

  /** Resolves when the run has finished (success or failed); rejects after `timeoutMs`. */
  async waitForRun(dagId: string, runId: string, opts: { timeoutMs?: number; pollMs?: number } = {}): Promise<DagRun> {
    const deadline = Date.now() + (opts.timeoutMs ?? 3_600_000);
    for (;;) {
      const run = await this.getRun(dagId, runId);
      if (FINISHED_RUN_STATES.has(run.state)) return run;
      if (Date.now() > deadline) throw new Error(`run "${runId}" of DAG "${dagId}" is still ${run.state} after ${opts.timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 200));
    }
  }
}

export function createClient(opts: ClientOptions = {}): AloftClient {
  return new AloftClient(opts);
}

/** Problems with a run's conf against the DAG's params: unknown keys are allowed, wrong types are not. */
export function checkConf(params: Record<string, ParamSpec>, conf: unknown): string[] {
  if (conf === null || typeof conf !== 'object' || Array.isArray(conf)) return ['conf must be a JSON object'];
  const problems: string[] = [];
  for (const [k, v] of Object.entries(conf as Record<string, unknown>)) {
    const spec = params[k];
    if (!spec || v === null) continue;
    const actual = Array.isArray(v) ? 'array' : typeof v;
    if (actual !== spec.type) problems.push(`conf.${k} must be ${spec.type === 'array' ? 'an array' : `a ${spec.type}`} (got ${actual})`);
  }
  return problems;
}
