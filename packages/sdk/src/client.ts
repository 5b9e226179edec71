import { AloftApiError, AloftConnectionError, AloftTimeoutError } from './errors.js';
import { readSse } from './sse.js';
import type {
  DagDetail,
  DagRun,
  DagSummary,
  DatasetInfo,
  Grid,
  ImportErrorRecord,
  InstancePage,
  JobSpec,
  LogEvent,
  LogLine,
  LogPage,
  MarkState,
  PoolInfo,
  ConnectionSummary,
  ConnectionInput,
  VariableSummary,
  AuditEntry,
  QueueCounts,
  RunPage,
  RunState,
  RunType,
  TaskInstance,
  TaskState,
} from './types.js';

export interface AloftHttpClientOptions {
  /** Where the dashboard is, e.g. `https://aloft.example.com`; `/api/v1` is added unless the URL ends with it. */
  baseUrl: string;
  /** An API token (`aloft_…`), created by an admin in the dashboard. */
  token: string;
  /** A fetch to use instead of the global one (tests, proxies, instrumentation). */
  fetch?: typeof fetch;
  /** Give up on a request after this long. For `followLog`, only the wait for the response headers. Default 30 s. */
  timeoutMs?: number;
}

export interface TriggerOptions {
  conf?: Record<string, unknown>;
  runId?: string;
  /** Default: now. */
  logicalDate?: Date | string;
}

export interface WaitOptions {
  /** Default one hour. */
  timeoutMs?: number;
  /** Default 500 ms. */
  pollMs?: number;
  signal?: AbortSignal;
}

/** Which instance of a task: a mapped task's map index; −1 (the default) is an unmapped task, or a mapped task as a whole. */
export interface InstanceOptions {
  mapIndex?: number;
}

export interface FollowOptions extends InstanceOptions {
  /** Try number; default the latest. */
  try?: number;
  /** First line to send (0-based); default 0. */
  from?: number;
  /** Stops the stream; the iterator then rejects with the signal's reason. */
  signal?: AbortSignal;
}

type Query = Record<string, string | number | boolean | undefined>;

interface CallOptions {
  query?: Query;
  body?: unknown;
  signal?: AbortSignal | undefined;
}

/** States after which a run no longer changes (`cancelled` in case a server reports it so). */
const FINISHED_RUN_STATES: ReadonlySet<string> = new Set(['success', 'failed', 'cancelled']);

const seg = encodeURIComponent;

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The API root: no trailing slash, ending in /api/v1. */
function apiRoot(baseUrl: string): string {
  const bad = () => new TypeError(`baseUrl must be an http(s) URL such as https://aloft.example.com (got ${JSON.stringify(baseUrl)})`);
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw bad();
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad();
  url.search = '';
  url.hash = '';
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = path.endsWith('/api/v1') ? path : `${path}/api/v1`;
  return url.href.replace(/\/+$/, '');
}

/**
 * A typed client of the Aloft dashboard's REST API (`/api/v1`), authenticated with an API
 * token. Non-2xx answers throw {@link AloftApiError}; network failures and timeouts throw
 * {@link AloftConnectionError}.
 */
export class AloftHttpClient {
  readonly baseUrl: string;
  readonly #token: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;

  constructor(opts: AloftHttpClientOptions) {
    if (!opts.token || !opts.token.trim()) throw new TypeError('token is required (an Aloft API token)');
    this.baseUrl = apiRoot(opts.baseUrl);
    this.#token = opts.token.trim();
    this.#fetch = opts.fetch ?? globalThis.fetch;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
  }

  // --- DAGs ---

  async listDags(filter: { tag?: string; paused?: boolean } = {}): Promise<DagSummary[]> {
    return (await this.#call<{ dags: DagSummary[] }>('GET', '/dags', { query: filter })).dags;
  }

  getDag(dagId: string): Promise<DagDetail> {
    return this.#call('GET', `/dags/${seg(dagId)}`);
  }

  setPaused(dagId: string, paused: boolean): Promise<{ id: string; paused: boolean }> {
    return this.#call('PATCH', `/dags/${seg(dagId)}`, { body: { paused } });
  }

  /** Deletes a DAG whose file is gone, with its runs and logs; 409 while a file defines it or a run is not finished. */
  deleteDag(dagId: string): Promise<{ dagId: string; runs: number }> {
    return this.#call('DELETE', `/dags/${seg(dagId)}`);
  }

  /** Datasets with their last update, producers (DAGs updating them) and consumers (DAGs scheduled on them). */
  async listDatasets(): Promise<DatasetInfo[]> {
    return (await this.#call<{ datasets: DatasetInfo[] }>('GET', '/datasets')).datasets;
  }

  async importErrors(): Promise<ImportErrorRecord[]> {
    return (await this.#call<{ importErrors: ImportErrorRecord[] }>('GET', '/importErrors')).importErrors;
  }

  // --- runs ---

  /** One page of a DAG's runs, newest first, with the total count; `state`/`runType` filter them. */
  listRuns(dagId: string, page: { limit?: number; offset?: number; state?: RunState; runType?: RunType } = {}): Promise<RunPage> {
    return this.#call('GET', `/dags/${seg(dagId)}/runs`, { query: page });
  }

  /** The latest runs × tasks: each run's task instance states, newest run first (at most 365 a page). */
  grid(dagId: string, page: { limit?: number; offset?: number } = {}): Promise<Grid> {
    return this.#call('GET', `/dags/${seg(dagId)}/grid`, { query: page });
  }

  /** Creates the runs of every scheduled logical date in [from, to]; existing ones are skipped unless `rerun`. */
  backfill(
    dagId: string,
    opts: { from: Date | string; to: Date | string; rerun?: boolean; conf?: Record<string, unknown> },
  ): Promise<{ created: string[]; skipped: string[]; rerun: string[] }> {
    const iso = (d: Date | string) => (d instanceof Date ? d.toISOString() : d);
    return this.#call('POST', `/dags/${seg(dagId)}/backfill`, { body: { from: iso(opts.from), to: iso(opts.to), rerun: opts.rerun, conf: opts.conf } });
  }

  /** Clears the task instances of every run in [from, to]: tasks matching `taskRegex`, only failed ones, with downstream. */
  clearRange(
    dagId: string,
    opts: { from: Date | string; to: Date | string; taskRegex?: string; downstream?: boolean; failedOnly?: boolean },
  ): Promise<{ runs: number; cleared: number }> {
    const iso = (d: Date | string) => (d instanceof Date ? d.toISOString() : d);
    return this.#call('POST', `/dags/${seg(dagId)}/clear`, { body: { ...opts, from: iso(opts.from), to: iso(opts.to) } });
  }

  /** Starts a manual run; the server checks `conf` against the DAG's params. */
  trigger(dagId: string, opts: TriggerOptions = {}): Promise<DagRun> {
    const logicalDate = opts.logicalDate instanceof Date ? opts.logicalDate.toISOString() : opts.logicalDate;
    return this.#call('POST', `/dags/${seg(dagId)}/runs`, { body: { conf: opts.conf, runId: opts.runId, logicalDate } });
  }

  getRun(dagId: string, runId: string): Promise<DagRun> {
    return this.#call('GET', `/dags/${seg(dagId)}/runs/${seg(runId)}`);
  }

  /** Marks the run failed and stops its running tasks; returns the run after that. */
  cancelRun(dagId: string, runId: string): Promise<DagRun> {
    return this.#call('POST', `/dags/${seg(dagId)}/runs/${seg(runId)}/cancel`);
  }

  /** Polls the run until it has finished; rejects with {@link AloftTimeoutError} after `timeoutMs`. */
  async waitForRun(dagId: string, runId: string, opts: WaitOptions = {}): Promise<DagRun> {
    const timeoutMs = opts.timeoutMs ?? 3_600_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const run = await this.getRun(dagId, runId);
      if (FINISHED_RUN_STATES.has(run.state)) return run;
      const left = deadline - Date.now();
      if (left <= 0) throw new AloftTimeoutError(`run "${runId}" of DAG "${dagId}" is still ${run.state} after ${timeoutMs} ms`);
      await sleep(Math.min(opts.pollMs ?? 500, left), opts.signal);
    }
  }

  /** Runs one command (or pod) as a single-task run of the `adhoc` DAG, without a DAG file. */
  submitJob(spec: JobSpec): Promise<DagRun> {
    return this.#call('POST', '/jobs', { body: spec });
  }

  // --- task instances ---

  async listTaskInstances(dagId: string, runId: string): Promise<TaskInstance[]> {
    return (await this.#call<{ taskInstances: TaskInstance[] }>('GET', `${this.#run(dagId, runId)}/tasks`)).taskInstances;
  }

  /** A task instance; a mapped task as a whole (with `mapped` counts) unless `mapIndex` names one instance. */
  getTaskInstance(dagId: string, runId: string, taskId: string, opts: InstanceOptions = {}): Promise<TaskInstance> {
    return this.#call('GET', this.#task(dagId, runId, taskId), { query: { mapIndex: opts.mapIndex } });
  }

  /** One page of a mapped task's instances in map-index order (default 100, at most 1000), optionally only those in `state`. */
  listInstances(dagId: string, runId: string, taskId: string, page: { limit?: number; offset?: number; state?: TaskState } = {}): Promise<InstancePage> {
    return this.#call('GET', `${this.#task(dagId, runId, taskId)}/instances`, { query: page });
  }

  /** Runs the task instance again (and everything downstream of it with `downstream`); resolves to how many were cleared. */
  async clearTask(dagId: string, runId: string, taskId: string, opts: { downstream?: boolean } = {}): Promise<number> {
    const body = { downstream: opts.downstream ?? false };
    return (await this.#call<{ cleared: number }>('POST', `${this.#task(dagId, runId, taskId)}/clear`, { body })).cleared;
  }

  /** Sets the task instance's state by hand (a mapped task: every instance unless `mapIndex` names one); returns it afterwards. */
  markTask(dagId: string, runId: string, taskId: string, state: MarkState, opts: InstanceOptions = {}): Promise<TaskInstance> {
    return this.#call('POST', `${this.#task(dagId, runId, taskId)}/mark`, { body: { state, mapIndex: opts.mapIndex } });
  }

  /**
   * Log lines of one try (default: the latest) from line `from`, at most `count` (server default
   * 1000, max 10000). A mapped task's instances each have their own log: pass `mapIndex`.
   */
  getLog(dagId: string, runId: string, taskId: string, opts: InstanceOptions & { try?: number; from?: number; count?: number } = {}): Promise<LogPage> {
    return this.#call('GET', `${this.#task(dagId, runId, taskId)}/logs`, {
      query: { try: opts.try, from: opts.from, count: opts.count, mapIndex: opts.mapIndex },
    });
  }

  /** What the task returned (its XCom), or `null`; a mapped task as a whole gives its instances' outputs as a list. */
  async getOutput(dagId: string, runId: string, taskId: string, opts: InstanceOptions = {}): Promise<unknown> {
    return (await this.#call<{ output: unknown }>('GET', `${this.#task(dagId, runId, taskId)}/output`, { query: { mapIndex: opts.mapIndex } })).output;
  }

  /**
   * A try's log as it is written, over Server-Sent Events: lines already written first,
   * then new ones, then one `{ type: 'end', state }` once the try has finished, after which
   * the iterator is done. Breaking out of the loop closes the connection.
   */
  async *followLog(dagId: string, runId: string, taskId: string, opts: FollowOptions = {}): AsyncGenerator<LogEvent, void, undefined> {
    const path = `${this.#task(dagId, runId, taskId)}/logs/stream`;
    const request = `GET ${path}`;
    const ex = new Exchange(request, this.baseUrl, this.#timeoutMs, opts.signal);
    try {
      let res: Response;
      try {
        res = await this.#fetch(this.#url(path, { try: opts.try, from: opts.from, mapIndex: opts.mapIndex }), {
          headers: this.#headers('text/event-stream'),
          signal: ex.signal,
        });
      } catch (err) {
        throw ex.failure(err);
      }
      // The timeout covers the wait for an answer, not the (long) stream itself.
      ex.stopTimer();
      if (!res.ok) throw await apiError(request, res);
      const type = res.headers.get('content-type') ?? '';
      if (!type.startsWith('text/event-stream') || !res.body) {
        throw new AloftApiError(res.status, `expected an event stream from ${request}, got ${type || 'no content type'}`, undefined, request, undefined);
      }
      try {
        for await (const msg of readSse(res.body)) {
          if (msg.event === 'line') {
            const d = JSON.parse(msg.data) as { n: number } & LogLine;
            yield { type: 'line', n: d.n, at: d.at, stream: d.stream, line: d.line };
          } else if (msg.event === 'end') {
            const d = JSON.parse(msg.data) as { state: TaskState; try?: number };
            yield { type: 'end', state: d.state, try: d.try };
            return;
          } else if (msg.event === 'error') {
            const d = JSON.parse(msg.data) as { error?: string; field?: string; status?: number };
            throw new AloftApiError(d.status ?? 500, d.error ?? 'the log stream reported an error', d.field, request, d);
          }
          // Other events are for newer clients; skip them.
        }
      } catch (err) {
        if (err instanceof AloftApiError || err instanceof SyntaxError) throw err;
        throw ex.failure(err, 'broke off');
      }
      throw new AloftConnectionError(`the log stream ${request} closed before its end event`);
    } finally {
      ex.close();
    }
  }

  // --- queues ---

  async queues(): Promise<QueueCounts[]> {
    return (await this.#call<{ queues: QueueCounts[] }>('GET', '/queues')).queues;
  }

  // --- pools ---

  async listPools(): Promise<PoolInfo[]> {
    return (await this.#call<{ pools: PoolInfo[] }>('GET', '/pools')).pools;
  }

  /** Creates or resizes a pool. */
  setPool(name: string, slots: number, description?: string): Promise<PoolInfo> {
    return this.#call('PUT', `/pools/${seg(name)}`, { body: { slots, ...(description === undefined ? {} : { description }) } });
  }

  async deletePool(name: string): Promise<void> {
    await this.#call('DELETE', `/pools/${seg(name)}`);
  }

  // --- connections and variables (Aloft's store; secrets are write-only) ---

  async listConnections(): Promise<ConnectionSummary[]> {
    return (await this.#call<{ connections: ConnectionSummary[] }>('GET', '/connections')).connections;
  }

  getConnection(id: string): Promise<ConnectionSummary> {
    return this.#call('GET', `/connections/${seg(id)}`);
  }

  /** Adds or replaces a connection; the answer never carries its password. */
  setConnection(id: string, connection: ConnectionInput): Promise<ConnectionSummary> {
    return this.#call('PUT', `/connections/${seg(id)}`, { body: connection });
  }

  async deleteConnection(id: string): Promise<void> {
    await this.#call('DELETE', `/connections/${seg(id)}`);
  }

  async listVariables(): Promise<VariableSummary[]> {
    return (await this.#call<{ variables: VariableSummary[] }>('GET', '/variables')).variables;
  }

  setVariable(key: string, value: string, opts: { secret?: boolean; description?: string } = {}): Promise<VariableSummary> {
    return this.#call('PUT', `/variables/${seg(key)}`, { body: { value, ...opts } });
  }

  async deleteVariable(key: string): Promise<void> {
    await this.#call('DELETE', `/variables/${seg(key)}`);
  }

  async secretsAudit(): Promise<AuditEntry[]> {
    return (await this.#call<{ audit: AuditEntry[] }>('GET', '/secrets/audit')).audit;
  }

  // --- plumbing ---

  #run(dagId: string, runId: string): string {
    return `/dags/${seg(dagId)}/runs/${seg(runId)}`;
  }

  #task(dagId: string, runId: string, taskId: string): string {
    return `${this.#run(dagId, runId)}/tasks/${seg(taskId)}`;
  }

  #url(path: string, query: Query = {}): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return `${this.baseUrl}${path}${qs ? `?${qs}` : ''}`;
  }

  #headers(accept: string, json = false): Record<string, string> {
    return { authorization: `Bearer ${this.#token}`, accept, ...(json ? { 'content-type': 'application/json' } : {}) };
  }

  async #call<T>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
    const request = `${method} ${path}`;
    const hasBody = opts.body !== undefined;
    // One timer covers the whole exchange, the answer's body included.
    const ex = new Exchange(request, this.baseUrl, this.#timeoutMs, opts.signal);
    try {
      let res: Response;
      let text: string;
      try {
        res = await this.#fetch(this.#url(path, opts.query), {
          method,
          headers: this.#headers('application/json', hasBody),
          body: hasBody ? JSON.stringify(opts.body) : undefined,
          signal: ex.signal,
        });
      } catch (err) {
        throw ex.failure(err);
      }
      if (!res.ok) throw await apiError(request, res);
      if (res.status === 204) return undefined as T;
      try {
        text = await res.text();
      } catch (err) {
        throw ex.failure(err, 'broke off');
      }
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new AloftApiError(
          res.status,
          `expected JSON from ${request}, got ${res.headers.get('content-type') ?? 'no content type'}`,
          undefined,
          request,
          text,
        );
      }
    } finally {
      ex.close();
    }
  }
}

/** One request's abort controller: the client's timeout plus the caller's signal. */
class Exchange {
  readonly #ctrl = new AbortController();
  readonly #outer: AbortSignal | undefined;
  readonly #onAbort = () => this.#ctrl.abort(this.#outer?.reason);
  readonly #timer: ReturnType<typeof setTimeout>;
  #timedOut = false;

  constructor(
    readonly request: string,
    readonly baseUrl: string,
    readonly timeoutMs: number,
    outer: AbortSignal | undefined,
  ) {
    this.#outer = outer;
    this.#timer = setTimeout(() => {
      this.#timedOut = true;
      this.#ctrl.abort();
    }, timeoutMs);
    if (outer?.aborted) this.#onAbort();
    else outer?.addEventListener('abort', this.#onAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.#ctrl.signal;
  }

  stopTimer(): void {
    clearTimeout(this.#timer);
  }

  close(): void {
    this.stopTimer();
    this.#outer?.removeEventListener('abort', this.#onAbort);
    this.#ctrl.abort();
  }

  /** What to throw for `err` from fetch or from reading the body. */
  failure(err: unknown, what = 'failed'): unknown {
    if (this.#outer?.aborted) return this.#outer.reason;
    if (this.#timedOut) return new AloftConnectionError(`${this.request} to ${this.baseUrl} got no answer within ${this.timeoutMs} ms`, { cause: err });
    const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
    const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : (err as Error).message;
    if (what === 'failed') return new AloftConnectionError(`cannot reach Aloft at ${this.baseUrl}: ${why}`, { cause: err });
    return new AloftConnectionError(`${this.request} ${what}: ${why}`, { cause: err });
  }
}

async function apiError(request: string, res: Response): Promise<AloftApiError> {
  const text = await res.text().catch(() => '');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  const b = (body && typeof body === 'object' ? body : {}) as { error?: unknown; field?: unknown };
  const message = typeof b.error === 'string' ? b.error : `${request} answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  return new AloftApiError(res.status, message, typeof b.field === 'string' ? b.field : undefined, request, body);
}
