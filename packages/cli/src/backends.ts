/**
 * What the commands need from Aloft, two ways: straight from Redis through @aloft/core's
 * client, or through the dashboard's REST API with @aloft/sdk (`--server`). main.ts picks
 * one once and the commands do not care which.
 */
import type { AloftClient } from '@aloft/core';
import {
  AloftApiError,
  type AloftHttpClient,
  type DagRun,
  type DatasetInfo,
  type ImportErrorRecord,
  type LogLine,
  type MarkState,
  type PoolInfo,
  type Schedule,
  type TaskInstance,
} from '@aloft/sdk';

/** A row of `dags list` (the same JSON in both modes). */
export interface DagRow {
  id: string;
  paused: boolean;
  schedule: Schedule;
  tags: string[];
  fileloc: string;
  missing: boolean;
}

export interface CommandJob {
  command: string | string[];
  retries: number;
  executionTimeoutMs: number | undefined;
  queue: string;
}

export interface BackfillInput {
  from: Date;
  to: Date;
  rerun: boolean;
  conf: Record<string, unknown>;
  /** How many of how many logical dates are done (Redis only: the REST API answers once, at the end). */
  onProgress?: (done: number, total: number) => void;
}

export interface ClearRangeInput {
  from: Date;
  to: Date;
  taskRegex: string | undefined;
  downstream: boolean;
  failedOnly: boolean;
  /** How many of how many runs are done (Redis only: the REST API answers once, at the end). */
  onProgress?: (done: number, total: number) => void;
}

export interface Backend {
  listDags(): Promise<DagRow[]>;
  importErrors(): Promise<ImportErrorRecord[]>;
  listDatasets(): Promise<DatasetInfo[]>;
  setPaused(dagId: string, paused: boolean): Promise<void>;
  deleteDag(dagId: string): Promise<{ dagId: string; runs: number }>;
  trigger(dagId: string, opts: { conf: Record<string, unknown>; runId: string | undefined }): Promise<DagRun>;
  submitCommand(job: CommandJob): Promise<DagRun>;
  getRun(dagId: string, runId: string): Promise<DagRun>;
  waitForRun(dagId: string, runId: string, opts: { timeoutMs: number }): Promise<DagRun>;
  listRuns(dagId: string, page: { limit: number; offset: number }): Promise<DagRun[]>;
  cancelRun(dagId: string, runId: string): Promise<void>;
  listTaskInstances(dagId: string, runId: string): Promise<TaskInstance[]>;
  /** `mapIndex` −1 (the default): an unmapped task, or a mapped task as a whole. */
  getTaskInstance(dagId: string, runId: string, taskId: string, mapIndex?: number): Promise<TaskInstance>;
  /** Lines from absolute line `opts.from`, and where they start (later, once a capped log lost its oldest). */
  getLog(dagId: string, runId: string, taskId: string, opts: LogOptions): Promise<{ from: number; lines: LogLine[] }>;
  /** Marks a task instance; a mapped task as a whole (every instance) unless `mapIndex` names one. */
  markTask(dagId: string, runId: string, taskId: string, state: MarkState, mapIndex: number): Promise<TaskInstance>;
  clearTask(dagId: string, runId: string, taskId: string, opts: { downstream: boolean }): Promise<number>;
  backfill(dagId: string, opts: BackfillInput): Promise<{ created: string[]; skipped: string[]; rerun: string[] }>;
  clearRange(dagId: string, opts: ClearRangeInput): Promise<{ runs: number; cleared: number }>;
  listPools(): Promise<PoolInfo[]>;
  setPool(name: string, slots: number, description: string | undefined): Promise<PoolInfo>;
  deletePool(name: string): Promise<void>;
  /**
   * Prints a task's log as it grows, across tries, until it finishes; resolves to its run.
   * `allTries`: start at try 1 (a job just submitted) rather than the latest try.
   */
  follow(dagId: string, runId: string, taskId: string, opts?: { allTries?: boolean; mapIndex?: number }): Promise<DagRun>;
}

export interface LogOptions {
  try?: number | undefined;
  from?: number | undefined;
  mapIndex?: number | undefined;
}

/** A task instance's name as the CLI prints it: `echo`, or `echo[2]` for one instance of a mapped task. */
export const instanceName = (taskId: string, mapIndex: number | undefined) => (mapIndex === undefined || mapIndex < 0 ? taskId : `${taskId}[${mapIndex}]`);

export const logText = (lines: LogLine[]) => lines.map((l) => `${new Date(l.at).toISOString()} ${l.stream.padEnd(6)} ${l.line}`).join('\n');

const FINISHED_TASK = ['success', 'failed', 'skipped', 'upstream_failed'];
/** States in which the task instance's `try` names a try that has not started yet (a retry waiting, say). */
const NOT_STARTED = ['none', 'scheduled', 'queued', 'up_for_retry'];
/** The latest try that has begun (0 if none): `try` moves to the next try as soon as a retry is due. */
const startedTry = (ti: TaskInstance) => Math.max(0, NOT_STARTED.includes(ti.state) ? ti.try - 1 : ti.try);
const write = (text: string) => void process.stdout.write(text);
const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/** Follows a log by polling getLog: works with any backend. */
async function pollFollow(b: Backend, dag: string, run: string, task: string, mapIndex = -1): Promise<DagRun> {
  let tryShown = 0;
  let from = 0;
  for (;;) {
    const ti = await b.getTaskInstance(dag, run, task, mapIndex).catch(() => undefined);
    if (ti && ti.try > 0) {
      if (ti.try !== tryShown) {
        if (tryShown) {
          const rest = (await b.getLog(dag, run, task, { try: tryShown, from, mapIndex })).lines;
          if (rest.length) write(`${logText(rest)}\n`);
        }
        tryShown = ti.try;
        from = 0;
        write(`--- try ${tryShown} ---\n`);
      }
      const page = await b.getLog(dag, run, task, { try: tryShown, from, mapIndex });
      if (page.lines.length) write(`${logText(page.lines)}\n`);
      from = page.from + page.lines.length;
    }
    const r = await b.getRun(dag, run);
    const finished = ti && FINISHED_TASK.includes(ti.state);
    if ((finished || r.state === 'success' || r.state === 'failed') && ti) {
      const rest = tryShown ? (await b.getLog(dag, run, task, { try: tryShown, from, mapIndex })).lines : [];
      if (rest.length) write(`${logText(rest)}\n`);
      write(`--- ${instanceName(task, mapIndex)}: ${ti.state}${ti.reason ? ` (${ti.reason})` : ''} ---\n`);
      return r;
    }
    await sleep(300);
  }
}

/** Redis, through @aloft/core's client. */
export class RedisBackend implements Backend {
  constructor(readonly client: AloftClient) {}

  async listDags(): Promise<DagRow[]> {
    return (await this.client.listDags()).map((d) => ({
      id: d.dag.id,
      paused: d.paused,
      schedule: d.dag.schedule,
      tags: d.dag.tags,
      fileloc: d.dag.fileloc,
      missing: d.missing,
    }));
  }
  importErrors() {
    return this.client.importErrors();
  }
  listDatasets() {
    return this.client.listDatasets();
  }
  setPaused(dagId: string, paused: boolean) {
    return this.client.setPaused(dagId, paused);
  }
  deleteDag(dagId: string) {
    return this.client.deleteDag(dagId);
  }
  trigger(dagId: string, opts: { conf: Record<string, unknown>; runId: string | undefined }) {
    return this.client.trigger(dagId, opts);
  }
  submitCommand(job: CommandJob) {
    return this.client.submitCommand(job);
  }
  getRun(dagId: string, runId: string) {
    return this.client.getRun(dagId, runId);
  }
  waitForRun(dagId: string, runId: string, opts: { timeoutMs: number }) {
    return this.client.waitForRun(dagId, runId, opts);
  }
  listRuns(dagId: string, page: { limit: number; offset: number }) {
    return this.client.listRuns(dagId, page);
  }
  cancelRun(dagId: string, runId: string) {
    return this.client.cancelRun(dagId, runId);
  }
  listTaskInstances(dagId: string, runId: string) {
    return this.client.listTaskInstances(dagId, runId);
  }
  listPools() {
    return this.client.listPools();
  }
  setPool(name: string, slots: number, description: string | undefined) {
    return this.client.setPool(name, slots, description);
  }
  deletePool(name: string) {
    return this.client.deletePool(name);
  }
  getTaskInstance(dagId: string, runId: string, taskId: string, mapIndex?: number) {
    return this.client.getTaskInstance(dagId, runId, taskId, mapIndex);
  }
  getLog(dagId: string, runId: string, taskId: string, opts: LogOptions) {
    return this.client.readLog(dagId, runId, taskId, opts);
  }
  async markTask(dagId: string, runId: string, taskId: string, state: MarkState, mapIndex: number) {
    await this.client.markTask(dagId, runId, taskId, state, mapIndex);
    return this.client.getTaskInstance(dagId, runId, taskId, mapIndex);
  }
  clearTask(dagId: string, runId: string, taskId: string, opts: { downstream: boolean }) {
    return this.client.clearTask(dagId, runId, taskId, opts);
  }
  backfill(dagId: string, opts: BackfillInput) {
    return this.client.backfill(dagId, opts);
  }
  clearRange(dagId: string, opts: ClearRangeInput) {
    return this.client.clearRange(dagId, opts);
  }
  follow(dagId: string, runId: string, taskId: string, opts: { mapIndex?: number } = {}) {
    return pollFollow(this, dagId, runId, taskId, opts.mapIndex);
  }
}

/** The dashboard's REST API, through @aloft/sdk. */
export class HttpBackend implements Backend {
  constructor(readonly client: AloftHttpClient) {}

  async listDags(): Promise<DagRow[]> {
    return (await this.client.listDags()).map((d) => ({
      id: d.id,
      paused: d.paused,
      schedule: d.schedule,
      tags: d.tags,
      fileloc: d.fileloc,
      missing: d.missing,
    }));
  }
  importErrors() {
    return this.client.importErrors();
  }
  listDatasets() {
    return this.client.listDatasets();
  }
  async setPaused(dagId: string, paused: boolean) {
    await this.client.setPaused(dagId, paused);
  }
  deleteDag(dagId: string) {
    return this.client.deleteDag(dagId);
  }
  trigger(dagId: string, opts: { conf: Record<string, unknown>; runId: string | undefined }) {
    return this.client.trigger(dagId, opts);
  }
  submitCommand(job: CommandJob) {
    return this.client.submitJob({ kind: 'command', command: job.command, retries: job.retries, executionTimeoutMs: job.executionTimeoutMs, queue: job.queue });
  }
  getRun(dagId: string, runId: string) {
    return this.client.getRun(dagId, runId);
  }
  waitForRun(dagId: string, runId: string, opts: { timeoutMs: number }) {
    return this.client.waitForRun(dagId, runId, opts);
  }
  async listRuns(dagId: string, page: { limit: number; offset: number }) {
    return (await this.client.listRuns(dagId, page)).runs;
  }
  async cancelRun(dagId: string, runId: string) {
    await this.client.cancelRun(dagId, runId);
  }
  listTaskInstances(dagId: string, runId: string) {
    return this.client.listTaskInstances(dagId, runId);
  }
  listPools() {
    return this.client.listPools();
  }
  setPool(name: string, slots: number, description: string | undefined) {
    return this.client.setPool(name, slots, description);
  }
  deletePool(name: string) {
    return this.client.deletePool(name);
  }
  getTaskInstance(dagId: string, runId: string, taskId: string, mapIndex?: number) {
    return this.client.getTaskInstance(dagId, runId, taskId, { mapIndex });
  }
  async getLog(dagId: string, runId: string, taskId: string, opts: LogOptions) {
    const page = await this.client.getLog(dagId, runId, taskId, { try: opts.try, from: opts.from, count: 10_000, mapIndex: opts.mapIndex });
    return { from: page.from, lines: page.lines };
  }
  markTask(dagId: string, runId: string, taskId: string, state: MarkState, mapIndex: number) {
    return this.client.markTask(dagId, runId, taskId, state, { mapIndex });
  }
  clearTask(dagId: string, runId: string, taskId: string, opts: { downstream: boolean }) {
    return this.client.clearTask(dagId, runId, taskId, opts);
  }
  backfill(dagId: string, o: BackfillInput) {
    return this.client.backfill(dagId, { from: o.from, to: o.to, rerun: o.rerun, conf: o.conf });
  }
  clearRange(dagId: string, o: ClearRangeInput) {
    return this.client.clearRange(dagId, { from: o.from, to: o.to, taskRegex: o.taskRegex, downstream: o.downstream, failedOnly: o.failedOnly });
  }

  /**
   * Streams each try's log (Server-Sent Events) to its end, then the next try's, until the
   * task instance has finished. A server without the stream endpoint gets polled instead.
   */
  async follow(dag: string, run: string, task: string, opts: { allTries?: boolean; mapIndex?: number } = {}): Promise<DagRun> {
    const mapIndex = opts.mapIndex;
    // The next try to show; undefined until the first: the latest one that has begun.
    let next = opts.allTries ? 1 : undefined;
    for (;;) {
      const ti = await this.client.getTaskInstance(dag, run, task, { mapIndex }).catch((err: unknown) => {
        if (err instanceof AloftApiError && err.status === 404) return undefined;
        throw err;
      });
      const started = ti ? startedTry(ti) : 0;
      if (started >= 1 && (next === undefined || next <= started)) {
        const t = next ?? started;
        next = t + 1;
        const events = this.client.followLog(dag, run, task, { try: t, mapIndex });
        let first: Awaited<ReturnType<typeof events.next>>;
        try {
          first = await events.next();
        } catch (err) {
          // An unknown route (an unknown id would name field "path"): an older server.
          if (err instanceof AloftApiError && err.status === 404 && err.field === undefined) return pollFollow(this, dag, run, task, mapIndex);
          throw err;
        }
        write(`--- try ${t} ---\n`);
        for (let ev = first; !ev.done; ev = await events.next()) {
          if (ev.value.type === 'line') write(`${logText([ev.value])}\n`);
        }
        continue;
      }
      if (ti && FINISHED_TASK.includes(ti.state)) {
        write(`--- ${instanceName(task, mapIndex)}: ${ti.state}${ti.reason ? ` (${ti.reason})` : ''} ---\n`);
        // The run finishes a moment after its last task does.
        return this.client.waitForRun(dag, run, { timeoutMs: 30_000, pollMs: 200 }).catch(() => this.client.getRun(dag, run));
      }
      const r = await this.client.getRun(dag, run);
      if ((r.state === 'success' || r.state === 'failed') && started === 0) {
        write(`--- ${instanceName(task, mapIndex)}: ${ti?.state ?? 'none'}${ti?.reason ? ` (${ti.reason})` : ''} ---\n`);
        return r;
      }
      await sleep(300);
    }
  }
}
