import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@aloft/core/testing';
import { AloftApiError, AloftConnectionError, AloftHttpClient, AloftTimeoutError, readSse, type LogEvent } from '@aloft/sdk';
import { apiTokens } from './support/dashboard.js';
import { ROOT, System, waitFor, type Service } from './support/system.js';

const enc = new TextEncoder();

/** A Response whose body arrives in these chunks; `cancelled` tells whether the reader hung up early. */
function streamed(chunks: string[], init: ResponseInit = { headers: { 'content-type': 'text/event-stream; charset=utf-8' } }) {
  const state = { cancelled: false, pulled: 0 };
  const body = new ReadableStream<Uint8Array>({
    pull(ctrl) {
      const c = chunks[state.pulled++];
      if (c === undefined) ctrl.close();
      else ctrl.enqueue(enc.encode(c));
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { response: new Response(body, init), state };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

describe('sdk: requests, errors and SSE parsing (fake fetch)', () => {
  it('sends the token, builds URLs under /api/v1 and unwraps single-key answers', async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const fake = (async (url: string, init: RequestInit) => {
      seen.push({ url, init });
      if (url.endsWith('/dags')) return Response.json({ dags: [{ id: 'a' }] });
      if (url.includes('/clear')) return Response.json({ cleared: 3 });
      return Response.json({ runs: [], total: 0, limit: 5, offset: 10 });
    }) as typeof fetch;
    for (const baseUrl of ['http://aloft.test:8080', 'http://aloft.test:8080/', 'http://aloft.test:8080/api/v1/']) {
      const c = new AloftHttpClient({ baseUrl, token: ' aloft_x ', fetch: fake });
      expect(c.baseUrl).toBe('http://aloft.test:8080/api/v1');
    }
    const c = new AloftHttpClient({ baseUrl: 'https://example.test/aloft', token: 'aloft_x', fetch: fake });
    expect(await c.listDags()).toEqual([{ id: 'a' }]);
    expect(await c.clearTask('d', 'manual__2026-01-01T00:00:00+00:00', 't/1', { downstream: true })).toBe(3);
    expect(await c.listRuns('d', { limit: 5, offset: 10 })).toMatchObject({ limit: 5, offset: 10 });
    expect(seen.map((s) => `${s.init.method} ${s.url}`)).toEqual([
      'GET https://example.test/aloft/api/v1/dags',
      'POST https://example.test/aloft/api/v1/dags/d/runs/manual__2026-01-01T00%3A00%3A00%2B00%3A00/tasks/t%2F1/clear',
      'GET https://example.test/aloft/api/v1/dags/d/runs?limit=5&offset=10',
    ]);
    const headers = seen[1]!.init.headers as Record<string, string>;
    expect(headers['authorization']).toBe('Bearer aloft_x');
    expect(headers['content-type']).toBe('application/json');
    expect(seen[1]!.init.body).toBe('{"downstream":true}');
    expect(() => new AloftHttpClient({ baseUrl: 'http://x', token: '' })).toThrow(/token/);
    expect(() => new AloftHttpClient({ baseUrl: 'localhost:8080', token: 't' })).toThrow(/baseUrl/);
  });

  it('turns non-2xx answers into AloftApiError (JSON or not), and hangs into AloftConnectionError', async () => {
    const answers = [
      Response.json({ error: 'conf.x must be a string (got number)', field: 'conf.x' }, { status: 400 }),
      new Response('<html>Bad Gateway</html>', { status: 502, statusText: 'Bad Gateway', headers: { 'content-type': 'text/html' } }),
      new Response('<html>sign in</html>', { status: 200, headers: { 'content-type': 'text/html' } }),
    ];
    const c = new AloftHttpClient({ baseUrl: 'http://x', token: 't', fetch: (async () => answers.shift()!) as typeof fetch });
    const e1 = await c.trigger('d', { conf: { x: 1 } }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(AloftApiError);
    expect(e1).toMatchObject({ status: 400, field: 'conf.x', message: 'conf.x must be a string (got number)', request: 'POST /dags/d/runs' });
    await expect(c.getRun('d', 'r')).rejects.toMatchObject({ status: 502, field: undefined, message: 'GET /dags/d/runs/r answered HTTP 502 Bad Gateway' });
    await expect(c.queues()).rejects.toThrow('expected JSON from GET /queues, got text/html');

    const hanging = new AloftHttpClient({
      baseUrl: 'http://x',
      token: 't',
      timeoutMs: 50,
      fetch: ((_url: string, init: RequestInit) =>
        new Promise((_resolve, reject) => init.signal!.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))))) as typeof fetch,
    });
    const e2 = await hanging.listDags().catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(AloftConnectionError);
    expect((e2 as Error).message).toBe('GET /dags to http://x/api/v1 got no answer within 50 ms');
  });

  it('parses SSE across odd chunk boundaries: CRLF, keep-alive comments, retry, multi-line data', async () => {
    const events = await collect(
      readSse(
        streamed([
          'retry: 2000\n\n: keep-alive\r\n\r\n',
          'event: line\r\ndata: {"n":0}\r',
          '\n\r\nevent: li',
          'ne\ndata:first\ndata: second\nid: 7\n\n',
          'event: nodata\n\n',
          'data: plain\n\n',
          'event: cut\ndata: never ends',
        ]).response.body!,
      ),
    );
    expect(events).toEqual([
      { event: 'line', data: '{"n":0}', id: undefined },
      { event: 'line', data: 'first\nsecond', id: '7' },
      { event: 'message', data: 'plain', id: '7' },
    ]);
  });

  it('followLog yields lines then end, stops at end, and hangs up when the caller breaks early', async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    let next = streamed([]);
    const c = new AloftHttpClient({
      baseUrl: 'http://x',
      token: 't',
      fetch: (async (url: string, init: RequestInit) => {
        calls.push({ url, init });
        return next.response;
      }) as typeof fetch,
    });
    next = streamed([
      'retry: 2000\n\n',
      'event: line\ndata: {"n":4,"at":1000,"stream":"stdout","line":"hi"}\n\n: keep-alive\n\n',
      'event: line\ndata: {"n":5,"at":1001,"stream":"system","line":"exit code 0"}\n\nevent: end\ndata: {"try":2,"state":"success"}\n\n',
      'event: line\ndata: {"n":6,"at":1002,"stream":"stdout","line":"after end"}\n\n',
    ]);
    const got = await collect(c.followLog('adhoc', 'r1', 'command', { try: 2, from: 4 }));
    expect(got).toEqual<LogEvent[]>([
      { type: 'line', n: 4, at: 1000, stream: 'stdout', line: 'hi' },
      { type: 'line', n: 5, at: 1001, stream: 'system', line: 'exit code 0' },
      { type: 'end', state: 'success', try: 2 },
    ]);
    expect(calls[0]!.url).toBe('http://x/api/v1/dags/adhoc/runs/r1/tasks/command/logs/stream?try=2&from=4');
    expect((calls[0]!.init.headers as Record<string, string>)['accept']).toBe('text/event-stream');
    expect(next.state.cancelled).toBe(true);

    const endless = Array.from({ length: 100 }, (_, n) => `event: line\ndata: {"n":${n},"at":0,"stream":"stdout","line":"${n}"}\n\n`);
    next = streamed(endless);
    for await (const ev of c.followLog('d', 'r', 't')) if (ev.type === 'line' && ev.n === 2) break;
    expect(next.state.cancelled).toBe(true);
    expect(next.state.pulled).toBeLessThan(10);

    next = streamed(['event: line\ndata: {"n":0,"at":0,"stream":"stdout","line":"x"}\n\n']);
    await expect(collect(c.followLog('d', 'r', 't'))).rejects.toThrow(/closed before its end event/);
    next = { response: Response.json({ error: 'task instance "d/r/t" not found', field: 'path' }, { status: 404 }), state: { cancelled: false, pulled: 0 } };
    await expect(collect(c.followLog('d', 'r', 't'))).rejects.toMatchObject({ status: 404, field: 'path' });
  });
});

describe('sdk and `aloft --server` against a real dashboard (redis-server, scheduler, worker, dashboard)', () => {
  const sys = new System({ dagsFolder: join(ROOT, 'examples', 'dags') });
  let dash: Service;
  let base = '';
  let opToken = '';
  let viewerToken = '';
  let op: AloftHttpClient;
  let viewer: AloftHttpClient;

  beforeAll(async () => {
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker-1');
    dash = await sys.spawn('dashboard', 'dashboard');
    await waitFor('all six example DAGs stored', async () => (await sys.client.listDags()).length >= 6, 60_000);
    const made = await apiTokens(sys, dash, { 'sdk-operator': 'operator', 'sdk-viewer': 'viewer' });
    base = made.base;
    opToken = made.tokens['sdk-operator']!;
    viewerToken = made.tokens['sdk-viewer']!;
    op = new AloftHttpClient({ baseUrl: base, token: opToken });
    viewer = new AloftHttpClient({ baseUrl: `${base}/api/v1`, token: viewerToken });
  });
  afterAll(() => sys.stop());

  /** Runs the CLI from the checkout, as people do, with no ALOFT_SERVER/ALOFT_TOKEN of the test's environment. */
  const cli = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const { ALOFT_SERVER: _s, ALOFT_TOKEN: _t, ...rest } = process.env;
      const child = spawn(process.execPath, [join(ROOT, 'scripts', 'aloft.mjs'), ...args], {
        cwd: ROOT,
        env: { ...rest, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });

  it('lists DAGs (with filters), reads one, and reports no import errors', async () => {
    const dags = await viewer.listDags();
    expect(dags.map((d) => d.id)).toEqual(expect.arrayContaining(['etl_fan_out', 'kubernetes_sample']));
    const etl = dags.find((d) => d.id === 'etl_fan_out')!;
    expect(etl).toMatchObject({
      description: expect.any(String),
      schedule: { kind: 'cron' },
      tags: ['example', 'etl'],
      paused: false,
      missing: false,
      fileloc: expect.stringContaining('etl_fan_out'),
    });
    expect((await viewer.listDags({ tag: 'etl' })).map((d) => d.id)).toEqual(['etl_fan_out']);
    const detail = await viewer.getDag('etl_fan_out');
    expect(detail.tasks.map((t) => t.id)).toEqual(expect.arrayContaining(['extract', 'load', 'report']));
    expect(detail.params['currency']).toMatchObject({ type: 'string', default: 'EUR' });
    expect(await viewer.importErrors()).toEqual([]);
  });

  it('throws AloftApiError with status and field: 404 unknown DAG, 400 bad conf, 403 viewer, 401 bad token; AloftConnectionError when down', async () => {
    const notFound = await viewer.getDag('nope').catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(AloftApiError);
    expect(notFound).toMatchObject({ status: 404, field: 'path', message: 'dag "nope" not found', request: 'GET /dags/nope' });
    await expect(op.trigger('nope')).rejects.toMatchObject({ status: 404, field: 'path' });
    await expect(op.trigger('etl_fan_out', { conf: { currency: 5 } })).rejects.toMatchObject({ status: 400, field: 'conf.currency' });
    await expect(viewer.trigger('etl_fan_out')).rejects.toMatchObject({ status: 403, field: 'role' });
    const bad = new AloftHttpClient({ baseUrl: base, token: 'aloft_not-a-real-token' });
    const unauthorized = await bad.listDags().catch((e: unknown) => e);
    expect(unauthorized).toBeInstanceOf(AloftApiError);
    expect(unauthorized).toMatchObject({ status: 401, field: 'authorization', message: 'unknown or revoked API token' });
    const down = new AloftHttpClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, token: 't' });
    const e = await down.listDags().catch((err: unknown) => err);
    expect(e).toBeInstanceOf(AloftConnectionError);
    expect((e as Error).message).toMatch(/^cannot reach Aloft at http:\/\/127\.0\.0\.1:\d+\/api\/v1: ECONNREFUSED/);
  });

  it('triggers etl_fan_out, waits for it, and reads runs, task instances, logs and outputs', async () => {
    const runId = 'sdk:run+1';
    const run = await op.trigger('etl_fan_out', { conf: { currency: 'USD' }, runId });
    expect(run).toMatchObject({ dagId: 'etl_fan_out', runId, runType: 'manual', conf: { currency: 'USD' } });
    await expect(op.trigger('etl_fan_out', { runId })).rejects.toMatchObject({ status: 409, field: 'runId' });
    const done = await op.waitForRun('etl_fan_out', runId, { timeoutMs: 60_000, pollMs: 200 });
    expect(done.state).toBe('success');
    expect(done.endDate).toBeGreaterThanOrEqual(done.queuedAt);

    const page = await viewer.listRuns('etl_fan_out', { limit: 5 });
    expect(page.runs.map((r) => r.runId)).toContain(runId);
    expect(page).toMatchObject({ limit: 5, offset: 0, total: expect.any(Number) });
    expect((await viewer.getRun('etl_fan_out', runId)).state).toBe('success');

    const tis = await viewer.listTaskInstances('etl_fan_out', runId);
    expect(tis.map((t) => `${t.taskId}=${t.state}`).sort()).toEqual(
      ['extract', 'load', 'report', 'transform_east', 'transform_north', 'transform_south', 'transform_west'].map((t) => `${t}=success`),
    );
    const report = await viewer.getTaskInstance('etl_fan_out', runId, 'report');
    expect(report).toMatchObject({ taskId: 'report', state: 'success', try: 1, exitCode: 0 });
    const ds = new Date(run.logicalDate).toISOString().slice(0, 10);
    const log = await viewer.getLog('etl_fan_out', runId, 'report');
    expect(log).toMatchObject({ try: 1, from: 0, next: log.lines.length });
    expect(log.lines.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual([`report for ${ds}: revenue 1255 USD`]);
    const tail = await viewer.getLog('etl_fan_out', runId, 'report', { from: log.next - 1 });
    expect(tail.lines).toEqual([log.lines.at(-1)]);
    expect(await viewer.getOutput('etl_fan_out', runId, 'load')).toEqual({ regions: 4, revenue: 1255, currency: 'USD' });
    await expect(viewer.getTaskInstance('etl_fan_out', runId, 'nope')).rejects.toMatchObject({ status: 404 });

    expect(await op.clearTask('etl_fan_out', runId, 'report')).toBe(1);
    await waitFor(
      'report run again',
      async () => {
        const ti = await viewer.getTaskInstance('etl_fan_out', runId, 'report');
        return ti.try === 2 && ti.state === 'success';
      },
      60_000,
    );
  });

  it('cancels a run, marks a task, gives up waiting with AloftTimeoutError, pauses and unpauses', async () => {
    await op.setPaused('kubernetes_sample', true);
    const run = await op.trigger('kubernetes_sample');
    await expect(op.waitForRun('kubernetes_sample', run.runId, { timeoutMs: 1, pollMs: 1 })).rejects.toBeInstanceOf(AloftTimeoutError);
    const cancelled = await op.cancelRun('kubernetes_sample', run.runId);
    expect(cancelled).toMatchObject({ state: 'failed', reason: 'cancelled by token:sdk-operator' });

    const other = await op.trigger('kubernetes_sample');
    const marked = await op.markTask('kubernetes_sample', other.runId, 'run_this_first', 'skipped');
    expect(marked).toMatchObject({ taskId: 'run_this_first', state: 'skipped' });
    await op.cancelRun('kubernetes_sample', other.runId);

    expect((await viewer.listDags({ paused: true })).map((d) => d.id)).toEqual(['kubernetes_sample']);
    expect(await op.setPaused('kubernetes_sample', false)).toEqual({ id: 'kubernetes_sample', paused: false });
    expect(await viewer.listDags({ paused: true })).toEqual([]);
  });

  // /jobs, /queues and …/logs/stream: the dashboard's newest endpoints.
  it('submits an ad-hoc command and follows its log live to the end', async () => {
    const run = await op.submitJob({ kind: 'command', command: 'echo hi' });
    expect(run).toMatchObject({ dagId: 'adhoc', runType: 'adhoc' });
    const events = await collect(op.followLog('adhoc', run.runId, 'command'));
    expect(events.filter((e) => e.type === 'line' && e.stream === 'stdout').map((e) => (e as { line: string }).line)).toEqual(['hi']);
    expect(events.at(-1)).toMatchObject({ type: 'end', state: 'success' });
    const lines = events.filter((e) => e.type === 'line') as { n: number }[];
    expect(lines.map((l) => l.n)).toEqual(lines.map((_, i) => i));
    expect((await op.waitForRun('adhoc', run.runId, { timeoutMs: 30_000 })).state).toBe('success');
    // The same lines as the paged log.
    const paged = await viewer.getLog('adhoc', run.runId, 'command');
    expect(paged.lines.map((l) => l.line)).toEqual(events.flatMap((e) => (e.type === 'line' ? [e.line] : [])));
  });

  it('stops following when the caller breaks or aborts, and reports queue counts', async () => {
    const run = await op.submitJob({
      kind: 'command',
      command: ['sh', '-c', 'for i in $(seq 1 40); do echo n$i; sleep 0.1; done'],
      taskId: 'counter',
      retries: 0,
    });
    const seen: string[] = [];
    for await (const ev of op.followLog('adhoc', run.runId, 'counter')) {
      if (ev.type === 'line' && ev.stream === 'stdout') seen.push(ev.line);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual(['n1', 'n2']);
    const ctrl = new AbortController();
    const reason = new Error('enough');
    const aborted = (async () => {
      for await (const ev of op.followLog('adhoc', run.runId, 'counter', { from: 0, signal: ctrl.signal }))
        if (ev.type === 'line' && ev.line === 'n3') ctrl.abort(reason);
    })();
    await expect(aborted).rejects.toBe(reason);

    const queues = await viewer.queues();
    const dflt = queues.find((q) => q.name === 'default');
    expect(dflt).toMatchObject({
      waiting: expect.any(Number),
      active: expect.any(Number),
      delayed: expect.any(Number),
      completed: expect.any(Number),
      failed: expect.any(Number),
    });
    await op.cancelRun('adhoc', run.runId);
  });

  it('CLI: `aloft --server … --token … dags list --json` prints what Redis mode prints', async () => {
    const remote = await cli(['--server', base, '--token', opToken, 'dags', 'list', '--json']);
    // (stderr may show scripts/aloft.mjs installing dependencies first.)
    expect(remote.stderr).not.toContain('aloft:');
    expect(remote.code).toBe(0);
    const list = JSON.parse(remote.stdout) as Record<string, unknown>[];
    expect(list.map((d) => d['id'])).toEqual(expect.arrayContaining(['etl_fan_out', 'kubernetes_sample']));
    expect(Object.keys(list.find((d) => d['id'] === 'etl_fan_out')!)).toEqual(['id', 'paused', 'schedule', 'tags', 'fileloc', 'missing']);
    const local = await cli(['dags', 'list', '--json'], { REDIS_URL: sys.redis.url, ALOFT_KEY_PREFIX: sys.prefix });
    expect(local.code).toBe(0);
    const byId = (rows: Record<string, unknown>[]) => [...rows].sort((a, b) => String(a['id']).localeCompare(String(b['id'])));
    expect(byId(list)).toEqual(byId(JSON.parse(local.stdout) as Record<string, unknown>[]));

    const table = await cli(['dags', 'list'], { ALOFT_SERVER: base, ALOFT_TOKEN: viewerToken });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^DAG\s+STATE\s+SCHEDULE\s+TAGS\s+FILE\n/);
    expect(table.stdout).toMatch(/^etl_fan_out\s+active\s+0 \* \* \* \*\s+example,etl\s+\S*etl_fan_out\.ts$/m);
  });

  it('CLI: one clear line and exit 2 without a token; API errors exit 1 with the server message', async () => {
    const noToken = await cli(['--server', base, 'dags', 'list']);
    expect(noToken.code).toBe(2);
    expect(noToken.stdout).toBe('');
    expect(noToken.stderr).toBe('aloft: --server needs an API token: pass --token or set ALOFT_TOKEN (an admin creates one in the dashboard)\n');
    const badToken = await cli(['--server', base, '--token', 'aloft_nope', 'dags', 'list']);
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toBe('aloft: unknown or revoked API token\n');
    const unknown = await cli(['--server', base, '--token', opToken, 'trigger', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('aloft: dag "nope" not found\n');
    const down = await cli(['--server', `http://127.0.0.1:${await freePort()}`, '--token', 't', 'dags', 'list']);
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/^aloft: cannot reach Aloft at .*ECONNREFUSED\n$/);
  });

  it('CLI with Sentinels that do not answer: names the Sentinels, not REDIS_URL', async () => {
    const sentinels = `127.0.0.1:${await freePort()},127.0.0.1:${await freePort()}`;
    const r = await cli(['dags', 'list'], { ALOFT_REDIS_SENTINELS: sentinels, ALOFT_REDIS_SENTINEL_NAME: 'aloftmain' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `aloft: cannot reach the Redis primary "aloftmain" through the Sentinels at ${sentinels} (ALOFT_REDIS_SENTINELS, ALOFT_REDIS_SENTINEL_NAME)`,
    );
    expect(r.stderr).not.toContain('REDIS_URL');
  });

  it('CLI remote: trigger --wait, runs list, tasks, logs, clear', async () => {
    const remote = ['--server', base, '--token', opToken];
    const trig = await cli([
      ...remote,
      '--json',
      'trigger',
      'etl_fan_out',
      '--conf',
      '{"currency":"USD"}',
      '--run-id',
      'cli_run_1',
      '--wait',
      '--timeout',
      '60',
    ]);
    expect(trig.code).toBe(0);
    const out = JSON.parse(trig.stdout) as { run: { runId: string; state: string }; tasks: { state: string }[] };
    expect(out.run).toMatchObject({ runId: 'cli_run_1', state: 'success' });
    expect(out.tasks).toHaveLength(7);
    const runs = await cli([...remote, 'runs', 'list', 'etl_fan_out', '--limit', '3']);
    expect(runs.stdout).toMatch(/^RUN\s+STATE\s+TYPE/);
    expect(runs.stdout).toMatch(/^cli_run_1\s+success\s+manual/m);
    const tasks = await cli([...remote, 'tasks', 'etl_fan_out', 'cli_run_1']);
    expect(tasks.stdout).toMatch(/^report\s+success\s+1\s+\d+ ms/m);
    const logs = await cli([...remote, 'logs', 'etl_fan_out', 'cli_run_1', 'report']);
    expect(logs.stdout).toMatch(/^\S+Z stdout report for \d{4}-\d\d-\d\d: revenue 1255 USD$/m);
    const followed = await cli([...remote, 'logs', '--follow', 'etl_fan_out', 'cli_run_1', 'report']);
    expect(followed.code).toBe(0);
    expect(followed.stdout).toMatch(/^--- try 1 ---\n(\S+Z \w+ .*\n)*\S+Z stdout report for .*\n(\S+Z \w+ .*\n)*--- report: success ---\n$/);
    expect(await cli([...remote, 'pause', 'kubernetes_sample'])).toMatchObject({ code: 0, stdout: 'kubernetes_sample paused\n' });
    expect((await op.getDag('kubernetes_sample')).paused).toBe(true);
    expect(await cli([...remote, 'unpause', 'kubernetes_sample'])).toMatchObject({ code: 0, stdout: 'kubernetes_sample unpaused\n' });
    expect(await cli([...remote, 'dags', 'errors'])).toMatchObject({ code: 0, stdout: 'no import errors\n' });
    const cleared = await cli([...remote, 'clear', 'etl_fan_out', 'cli_run_1', 'report']);
    expect(cleared.stdout).toBe('cleared 1 task instance(s)\n');
  });

  // Failed a few times under heavy load (suites sharing 2 cores) and never alone; one retry
  // keeps such a run from failing CI while the printed output of a failure (in the JSON
  // report) tells what the CLI saw.
  it('CLI: `submit --follow` streams the job log and exits non-zero when it fails, in both modes', { retry: 1 }, async () => {
    const remote = ['--server', base, '--token', opToken];
    const ok = await cli([...remote, 'submit', '--follow', '--', 'echo', 'hi']);
    // Each check carries the CLI's whole output, so a failure under load says what it printed.
    const said = (r: { stdout: string; stderr: string; code: number | null }) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
    expect(ok.stderr, said(ok)).not.toContain('aloft:');
    expect(ok.code, said(ok)).toBe(0);
    expect(ok.stdout, said(ok)).toMatch(/^--- try 1 ---$/m);
    expect(ok.stdout, said(ok)).toMatch(/^\S+Z stdout hi$/m);
    expect(ok.stdout.trimEnd().split('\n').at(-1), said(ok)).toBe('--- command: success ---');

    const failing = await cli([...remote, 'submit', '--retries', '1', '--follow', '--shell', '--', 'echo', 'oops;', 'exit', '3']);
    expect(failing.code, said(failing)).toBe(1);
    expect(failing.stdout.match(/^--- try \d ---$/gm), said(failing)).toEqual(['--- try 1 ---', '--- try 2 ---']);
    expect(failing.stdout.match(/stdout oops$/gm), said(failing)).toHaveLength(2);
    expect(failing.stdout.trimEnd().split('\n').at(-1), said(failing)).toMatch(/^--- command: failed/);

    const submitted = await cli([...remote, '--json', 'submit', '--queue', 'default', '--', 'true']);
    expect(JSON.parse(submitted.stdout)).toMatchObject({ dagId: 'adhoc', runType: 'adhoc' });

    const local = await cli(['submit', '--follow', '--', 'echo', 'from-redis'], { REDIS_URL: sys.redis.url, ALOFT_KEY_PREFIX: sys.prefix });
    expect(local.stdout, said(local)).toMatch(/^\S+Z stdout from-redis$/m);
    expect(local.stdout, said(local)).toMatch(/^--- command: success ---$/m);
  });
});
