import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminPassword, createToken } from './support/dashboard.js';
import { ROOT, System, waitFor, type Service } from './support/system.js';

/**
 * Hostile input to every operation of the API: the findings of issue 22 (item 6) by name. For each: no service dies, no 5xx, a 4xx names the request field, and a run of another DAG is left exactly as it was.
 */
describe('API under hostile input', () => {
  const sys = new System({ dagsFolder: join(ROOT, 'examples', 'dags') });
  let dash: Service;
  let base = '';
  const tokens = { admin: '', viewer: '' };
  let bystander = '';

  interface Answer {
    status: number;
    body: { error?: unknown; field?: unknown } & Record<string, unknown>;
    ms: number;
  }
  /** One request; a live stream (SSE) is closed once its headers arrived. */
  const call = async (method: string, path: string, o: { token?: string; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Answer> => {
    const started = Date.now();
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 15_000);
    try {
      const r = await fetch(`${base}${path}`, {
        method,
        redirect: 'manual',
        signal: ac.signal,
        headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers },
        body: o.body,
      });
      const type = r.headers.get('content-type') ?? '';
      let body: Answer['body'] = {};
      if (type.startsWith('text/event-stream')) ac.abort();
      else if (type.startsWith('application/json')) body = (await r.json()) as Answer['body'];
      else await r.arrayBuffer();
      return { status: r.status, body, ms: Date.now() - started };
    } finally {
      clearTimeout(timer);
    }
  };
  const json = (method: string, path: string, body: unknown, token = tokens.admin) => call(method, `/api/v1${path}`, { token, body: JSON.stringify(body) });
  /** `[[[…]]]` or `{"a":{"a":…}}`, `levels` deep, built as text: nothing recursive touches it here. */
  const deep = (levels: number, kind: 'array' | 'object' = 'array') => (kind === 'array' ? `${'['.repeat(levels)}${']'.repeat(levels)}` : `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`);
  const snapshot = async () => {
    const run = await sys.client.getRun('grouped_pipeline', bystander);
    const tis = await sys.client.listTaskInstances('grouped_pipeline', bystander);
    const dag = await sys.client.getDag('grouped_pipeline');
    return { run, tis, paused: dag.paused, version: dag.dag.version };
  };
  let before: Awaited<ReturnType<typeof snapshot>>;

  beforeAll(async () => {
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    dash = await sys.spawn('dashboard', 'dashboard');
    base = `http://127.0.0.1:${dash.port}`;
    await waitFor('the dashboard', async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.ok, 60_000);
    await waitFor('example DAGs stored', async () => (await sys.client.listDags()).filter((d) => ['etl_fan_out', 'grouped_pipeline'].includes(d.dag.id)).length === 2, 60_000);
    const password = await adminPassword(sys);
    tokens.admin = await createToken(base, password, 'fuzz-admin', 'admin');
    tokens.viewer = await createToken(base, password, 'fuzz-viewer', 'viewer');
    // A run no request below names: it must come out exactly as it went in (no worker runs it).
    bystander = (await sys.client.trigger('grouped_pipeline', { runId: 'bystander' })).runId;
    await waitFor('the bystander run queued its first task', async () => (await sys.client.listTaskInstances('grouped_pipeline', bystander)).some((t) => t.state === 'queued'));
    await sys.client.trigger('etl_fan_out', { runId: 'fuzz_run' });
    before = await snapshot();
  });
  afterAll(() => sys.stop());

  it('a malformed Referer, Origin or session cookie counts as absent, on every route', async () => {
    for (const cookie of ['aloft_session=%E0%A4%A', 'aloft_session=%', 'aloft_session', '=;;=%ZZ']) {
      expect((await call('GET', '/healthz', { headers: { cookie } })).status, cookie).toBe(200);
      expect((await call('GET', '/login', { headers: { cookie } })).status, cookie).toBe(200);
      expect(await call('GET', '/api/v1/dags', { headers: { cookie } }), cookie).toMatchObject({ status: 401, body: { field: 'session' } });
    }
    for (const referer of ['http://[', '::::', '%']) {
      const r = await call('POST', '/login', { headers: { referer, 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=admin&password=x' });
      expect(r, referer).toMatchObject({ status: 403, body: { field: 'origin' } });
      expect((await call('POST', '/api/v1/dags/etl_fan_out/runs', { headers: { referer, cookie: 'aloft_session=%' }, body: '{}' })).status, referer).toBe(403);
    }
    expect((await call('POST', '/logout', { headers: { origin: 'null' } })).status).toBe(403);
  });

  it('a path with broken percent-encoding is a 400 naming the path', async () => {
    for (const seg of ['%E0%A4%A', '%C0%AF', '%FF', '%']) {
      const r = await call('GET', `/api/v1/dags/${seg}/runs`, { token: tokens.viewer });
      expect(r, seg).toMatchObject({ status: 400, body: { field: 'path' } });
    }
    expect((await call('GET', '/%E0%A4%A', { headers: { accept: 'text/html' } })).status).toBeLessThan(500);
  });

  it('matches taskRegex off the event loop in linear time; a pattern RE2 cannot run is a 400 naming taskRegex', async () => {
    const id = 'a'.repeat(28);
    const job = await json('POST', '/jobs', { kind: 'command', command: 'true', taskId: id });
    expect(job.status).toBe(201);
    const range = { from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 3_600_000).toISOString() };
    // With backtracking, `^(a+)+b$` takes seconds on 28 a's, doubling per character.
    const clearing = json('POST', '/dags/adhoc/clear', { ...range, taskRegex: '^(a+)+b$' });
    await new Promise((r) => setTimeout(r, 200));
    const health = await call('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.ms).toBeLessThan(1000);
    expect(await clearing).toMatchObject({ status: 200, body: { runs: 0, cleared: 0 } });
    expect(await json('POST', '/dags/adhoc/clear', { ...range, taskRegex: '^a+$' })).toMatchObject({ status: 200, body: { runs: 1 } });
    for (const taskRegex of ['(?=a)a', '(a)\\1', '(', 'a{1001}']) {
      const r = await json('POST', '/dags/adhoc/clear', { ...range, taskRegex });
      expect(r, taskRegex).toMatchObject({ status: 400, body: { field: 'taskRegex' } });
    }
  });

  it('a conf nested 10,000 levels deep is a 400 naming conf and the depth limit', async () => {
    for (const kind of ['array', 'object'] as const) {
      const r = await call('POST', '/api/v1/dags/etl_fan_out/runs', { token: tokens.admin, body: `{"conf":{"x":${deep(10_000, kind)}}}` });
      expect(r, kind).toMatchObject({ status: 400, body: { field: 'conf' } });
      expect(String(r.body.error)).toMatch(/deeper than 32 levels/);
    }
    const bf = await call('POST', '/api/v1/dags/etl_fan_out/backfill', { token: tokens.admin, body: `{"from":"2026-01-01T00:00:00Z","to":"2026-01-01T01:00:00Z","conf":{"x":${deep(10_000)}}}` });
    expect(bf).toMatchObject({ status: 400, body: { field: 'conf' } });
  });

  it('a backfill over more intervals than the cap is a 400 naming the range and the cap', async () => {
    for (const to of ['2028-01-01T00:00:00Z', '2026-02-11T17:00:00Z']) {
      const r = await json('POST', '/dags/etl_fan_out/backfill', { from: '2026-01-01T00:00:00Z', to });
      expect(r, to).toMatchObject({ status: 400, body: { field: 'to' } });
      expect(String(r.body.error)).toMatch(/2026-01-01T00:00:00.000Z .*more than 1000 intervals/);
    }
    expect((await sys.client.listRuns('etl_fan_out', { limit: 1000 })).filter((r) => r.runType === 'backfill')).toEqual([]);
  });

  it('left every service running and the run of another DAG exactly as it was', async () => {
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/readyz')).status).toBe(200);
    for (const s of sys.services) expect(s.child.exitCode, s.name).toBeNull();
    expect(await snapshot()).toEqual(before);
  });
});

