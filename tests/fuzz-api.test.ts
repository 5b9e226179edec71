import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminPassword, createToken } from './support/dashboard.js';
import { ROOT, System, waitFor, type Service } from './support/system.js';

/**
 * Hostile input to every operation of the API: known hostile requests by name, then
 * inputs generated from the OpenAPI document. For each: no service dies, no 5xx, a
 * 4xx names the request field, and a run of another DAG is left exactly as it was.
 */
describe('API under hostile input', () => {
  const sys = new System({ dagsFolder: join(ROOT, 'examples', 'dags') });
  let dash: Service;
  let base = '';
  const tokens = { admin: '', viewer: '' };
  /** The admin's session cookie, for the cases a browser would send (CSRF check included). */
  let session = '';
  let bystander = '';

  interface Answer {
    status: number;
    body: { error?: unknown; field?: unknown } & Record<string, unknown>;
    ms: number;
    cookie: string;
  }
  /** One request; a live stream (SSE) is closed once its headers arrived. */
  const call = async (method: string, path: string, o: { token?: string; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Answer> => {
    const started = Date.now();
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 60_000);
    try {
      const r = await fetch(`${base}${path}`, {
        method,
        redirect: 'manual',
        signal: ac.signal,
        headers: {
          ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
          ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...o.headers,
        },
        // The page's DOM types (the root tsconfig.json) take a Uint8Array as a body, not a Buffer.
        body: Buffer.isBuffer(o.body) ? new Uint8Array(o.body) : o.body,
      });
      const type = r.headers.get('content-type') ?? '';
      let body: Answer['body'] = {};
      if (type.startsWith('text/event-stream')) ac.abort();
      else if (type.startsWith('application/json')) body = (await r.json()) as Answer['body'];
      else await r.arrayBuffer();
      return { status: r.status, body, ms: Date.now() - started, cookie: (r.headers.get('set-cookie') ?? '').split(';')[0]! };
    } finally {
      clearTimeout(timer);
    }
  };
  const json = (method: string, path: string, body: unknown, token = tokens.admin) => call(method, `/api/v1${path}`, { token, body: JSON.stringify(body) });
  /** `[[[…]]]` or `{"a":{"a":…}}`, `levels` deep, built as text: nothing recursive touches it here. */
  const deep = (levels: number, kind: 'array' | 'object' = 'array') =>
    kind === 'array' ? `${'['.repeat(levels)}${']'.repeat(levels)}` : `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
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
    // Runs the ad-hoc jobs the cases submit (queue `fuzz`), never the bystander's tasks.
    await sys.spawn('worker', 'worker-fuzz', { ALOFT_WORKER_QUEUES: 'fuzz' });
    dash = await sys.spawn('dashboard', 'dashboard');
    base = `http://127.0.0.1:${dash.port}`;
    await waitFor('the dashboard', async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.ok, 60_000);
    await waitFor(
      'example DAGs stored',
      async () => (await sys.client.listDags()).filter((d) => ['etl_fan_out', 'grouped_pipeline'].includes(d.dag.id)).length === 2,
      60_000,
    );
    const password = await adminPassword(sys);
    tokens.admin = await createToken(base, password, 'fuzz-admin', 'admin');
    tokens.viewer = await createToken(base, password, 'fuzz-viewer', 'viewer');
    const signIn = await call('POST', '/login', {
      headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'admin', password }).toString(),
    });
    expect(signIn.status).toBe(303);
    session = signIn.cookie;
    // A run no request below names: it must come out exactly as it went in (its queue,
    // `default`, has no worker).
    bystander = (await sys.client.trigger('grouped_pipeline', { runId: 'bystander' })).runId;
    await waitFor('the bystander run queued its first task', async () =>
      (await sys.client.listTaskInstances('grouped_pipeline', bystander)).some((t) => t.state === 'queued'),
    );
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
    const id = 'a'.repeat(34);
    const job = await json('POST', '/jobs', { kind: 'command', command: 'true', taskId: id });
    expect(job.status).toBe(201);
    const range = { from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 3_600_000).toISOString() };
    // With backtracking, `^(a+)+b$` takes 3.3 s on 27 a's, doubling per character: minutes
    // on 34, so a /healthz answered within 10 s (a margin for a loaded machine) shows the
    // pattern did not run on the event loop.
    const clearing = json('POST', '/dags/adhoc/clear', { ...range, taskRegex: '^(a+)+b$' });
    await new Promise((r) => setTimeout(r, 200));
    const health = await call('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.ms).toBeLessThan(10_000);
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
    const bf = await call('POST', '/api/v1/dags/etl_fan_out/backfill', {
      token: tokens.admin,
      body: `{"from":"2026-01-01T00:00:00Z","to":"2026-01-01T01:00:00Z","conf":{"x":${deep(10_000)}}}`,
    });
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

  it('generated hostile input for every operation of the OpenAPI document: no 5xx, a 4xx naming the field', async () => {
    const doc = (await call('GET', '/api/v1/openapi.json', { token: tokens.viewer })).body as unknown as OpenApi;
    const cases = generateCases(doc, base);
    const counts: Record<string, number> = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
    const problems: string[] = [];
    const started = Date.now();
    let next = 0;
    const runOne = async (c: Case) => {
      const as = c.role === 'session' ? { headers: { cookie: session, ...c.headers } } : { token: tokens[c.role], headers: c.headers };
      const r = await call(c.method, c.path, { ...as, body: c.body });
      counts[`${Math.floor(r.status / 100)}xx`] = (counts[`${Math.floor(r.status / 100)}xx`] ?? 0) + 1;
      const what = `${c.method} ${c.path.slice(0, 120)} [${c.what}] → ${r.status} ${JSON.stringify(r.body).slice(0, 160)}`;
      if (r.status >= 500) problems.push(what);
      else if (r.status >= 400) {
        if (typeof r.body.error !== 'string' || !r.body.error || typeof r.body.field !== 'string' || !r.body.field)
          problems.push(`no error and field: ${what}`);
        else if (r.status === 400 && c.field && r.body.field !== c.field && !r.body.field.startsWith(`${c.field}.`))
          problems.push(`names ${r.body.field}, not ${c.field}: ${what}`);
      }
      if (c.expect && !c.expect(r.status)) problems.push(`unexpected status: ${what}`);
    };
    // Four at a time, like a few clients; each case is independent.
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < cases.length) await runOne(cases[next++]!);
      }),
    );
    const total = cases.length;
    console.log(
      `[fuzz-api] ${total} requests in ${((Date.now() - started) / 1000).toFixed(1)} s: ${Object.entries(counts)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}`,
    );
    expect(problems).toEqual([]);
    expect(counts['5xx']).toBe(0);
    expect(total).toBeGreaterThan(500);
  });

  it('left every service running and the run of another DAG exactly as it was', async () => {
    // The worker ran (or failed) every job the cases submitted with hostile commands, cwd and env.
    await waitFor(
      'the fuzz queue drained',
      async () => {
        const q = (await call('GET', '/api/v1/queues', { token: tokens.viewer })).body as {
          queues: { name: string; waiting: number; active: number; delayed: number }[];
        };
        const fuzz = q.queues.find((x) => x.name === 'fuzz');
        return fuzz && fuzz.waiting + fuzz.active + fuzz.delayed === 0;
      },
      100_000,
    );
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/readyz')).status).toBe(200);
    for (const s of sys.services) expect(s.child.exitCode, s.name).toBeNull();
    expect(await snapshot()).toEqual(before);
  });
});

interface OpenApi {
  paths: Record<
    string,
    Record<
      string,
      { description: string; parameters: { name: string; in: 'path' | 'query' }[]; requestBody?: { content: { 'application/json': { schema: JsonSchema } } } }
    >
  >;
}
interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
}
interface Case {
  method: string;
  path: string;
  what: string;
  /** Bearer token of an admin or a viewer, or the admin's session cookie (as a browser). */
  role: 'admin' | 'viewer' | 'session';
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** The field a 400 must name. */
  field?: string;
  expect?: (status: number) => boolean;
}

/** A valid body per operation: each case changes one thing of it. */
const VALID: Record<string, Record<string, unknown>> = {
  'patch /dags/{dagId}': { paused: false },
  'post /dags/{dagId}/runs': { conf: { currency: 'USD' }, runId: 'fuzz_valid' },
  'post /dags/{dagId}/backfill': { from: '2026-02-01T00:00:00Z', to: '2026-02-01T02:00:00Z' },
  'post /dags/{dagId}/clear': { from: '2026-02-01T00:00:00Z', to: '2026-02-01T02:00:00Z', taskRegex: '^nothing$' },
  'post /dags/{dagId}/runs/{runId}/tasks/{taskId}/clear': { downstream: false },
  'post /dags/{dagId}/runs/{runId}/tasks/{taskId}/mark': { state: 'success' },
  'put /pools/{name}': { slots: 3, description: 'fuzz' },
  'post /jobs': { kind: 'command', command: 'true', taskId: 'fuzz_job', queue: 'fuzz' },
  'post /users': { username: 'fuzzuser', password: 'fuzz-password-123', role: 'viewer' },
  'post /tokens': { name: 'fuzztok', role: 'viewer' },
  'put /connections/{id}': { type: 'http', host: 'fuzz.internal' },
  'put /variables/{key}': { value: 'fuzz' },
};
const PATH_VALUES: Record<string, string> = { dagId: 'etl_fan_out', runId: 'fuzz_run', taskId: 'extract', name: 'fuzz_pool', id: 'fuzz_conn', key: 'fuzz_var' };
const HOSTILE_SEGMENTS = [
  '%E0%A4%A',
  '%C0%AF',
  '%FF%FE',
  '%00',
  '%',
  'x'.repeat(4000),
  '__proto__',
  'constructor',
  '..%2F..%2Fetc%2Fpasswd',
  '%F0%9F%92%A9',
  '%20',
  encodeURIComponent('<script>"\''),
];
const HOSTILE_QUERY = ['abc', '-1', '1.5', '1e309', '99999999999999999999', '', 'x'.repeat(8000), '%00', '%E0%A4%A', 'null', 'true', '[object Object]'];
/** Wrong types, huge, odd and deep values for a body field. */
const HOSTILE_VALUES: [string, string][] = [
  ['null', 'null'],
  ['true', 'true'],
  ['-1', '-1'],
  ['1.5', '1.5'],
  ['1e308', '1e308'],
  ['a string', '"x"'],
  ['empty string', '""'],
  ['90 kB string', JSON.stringify('y'.repeat(90_000))],
  ['NUL and lone surrogate', '"a\\u0000b\\ud800"'],
  ['array', '[1,"2",{}]'],
  ['object', '{"k":"v"}'],
  ['__proto__ object', '{"__proto__":{"polluted":true}}'],
  ['10,000 levels of arrays', `${'['.repeat(10_000)}${']'.repeat(10_000)}`],
  ['10,000 levels of objects', `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`],
];
const PATHOLOGICAL_REGEXES = [
  '^(a+)+b$',
  '(a|aa)*b',
  '(x+x+)+y',
  '^(\\d*)*$',
  '(.*){1000}',
  '(a{1000}){1000}',
  '(?=a)b',
  '(a)\\1',
  '(?<n>a)\\k<n>',
  '[',
  '\\',
  '(?i)(?s)(?m).*',
  `${'('.repeat(500)}`,
  'a'.repeat(501),
  '\\p{Greek}+',
  '[^\\x00-\\x{10FFFF}]',
];

function generateCases(doc: OpenApi, base: string): Case[] {
  const cases: Case[] = [];
  for (const [template, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const M = method.toUpperCase();
      const needs = /Needs the (\w+) role/.exec(op.description)?.[1] ?? 'viewer';
      const fill = (over: Record<string, string> = {}) =>
        `/api/v1${template.replace(/\{(\w+)\}/g, (_, n: string) => over[n] ?? (template.startsWith('/tokens') ? 'fuzz-missing' : PATH_VALUES[n]!))}`;
      const valid = VALID[`${method} ${template}`];
      const validBody = op.requestBody ? JSON.stringify(valid ?? {}) : undefined;
      const add = (c: Omit<Case, 'method' | 'role'> & { role?: Case['role'] }) => cases.push({ method: M, role: 'admin', ...c });

      add({ path: fill(), what: 'valid', body: validBody });
      // A viewer may read, never change.
      add({ path: fill(), what: 'as viewer', role: 'viewer', body: validBody, expect: (s) => (needs === 'viewer' ? s < 500 : s === 403) });
      add({
        path: fill(),
        what: 'malformed cookie, no token',
        role: 'viewer',
        body: validBody,
        headers: { authorization: '', cookie: 'aloft_session=%E0%A4%A' },
        expect: (s) => s === 401 || s === 403,
      });
      // A browser: this site's Origin passes the CSRF check; a Referer that is no URL does not.
      const changes = !['GET', 'HEAD'].includes(M);
      add({ path: fill(), what: 'session cookie', role: 'session', body: validBody, headers: { origin: base }, expect: (s) => s !== 401 && s !== 403 });
      add({
        path: fill(),
        what: 'session cookie, Referer no URL',
        role: 'session',
        body: validBody,
        headers: { referer: 'http://[' },
        expect: (s) => (changes ? s === 403 : s !== 401),
      });
      for (const p of op.parameters.filter((x) => x.in === 'path')) {
        for (const seg of HOSTILE_SEGMENTS) add({ path: fill({ [p.name]: seg }), what: `path ${p.name}=${seg.slice(0, 20)}`, body: validBody });
      }
      for (const p of op.parameters.filter((x) => x.in === 'query')) {
        for (const v of HOSTILE_QUERY)
          add({ path: `${fill()}?${p.name}=${v}`, what: `query ${p.name}=${v.slice(0, 20)}`, field: v.startsWith('%') ? undefined : p.name });
        add({ path: `${fill()}?${p.name}=1&${p.name}=2`, what: `query ${p.name} twice`, field: p.name });
        add({ path: `${fill()}?${p.name}[x]=1&__proto__[polluted]=1&constructor[prototype][x]=1`, what: `query ${p.name}[x]` });
      }
      if (!op.requestBody) continue;
      const schema = op.requestBody.content['application/json'].schema;
      const variant =
        [...(schema.oneOf ?? []), ...(schema.anyOf ?? [])].find((s) =>
          JSON.stringify(s.properties?.['kind'] ?? {}).includes(String((valid as { kind?: string } | undefined)?.kind)),
        ) ?? schema;
      for (const field of Object.keys(variant.properties ?? {})) {
        for (const [what, value] of HOSTILE_VALUES) {
          const body = validBody!.length > 2 ? `${validBody!.slice(0, -1)},"${field}":${value}}` : `{"${field}":${value}}`;
          // JSON.parse keeps the last of a repeated key: this replaces the field's valid value.
          add({ path: fill(), what: `${field}: ${what}`, body, field });
        }
      }
      if (template.endsWith('/clear') && template.includes('{dagId}/clear')) {
        for (const taskRegex of PATHOLOGICAL_REGEXES)
          add({ path: fill(), what: `taskRegex ${taskRegex.slice(0, 30)}`, body: JSON.stringify({ ...valid, taskRegex }), field: 'taskRegex' });
      }
      const whole: [string, string | Buffer, Record<string, string>?][] = [
        ['[]', '[]'],
        ['null', 'null'],
        ['a string', '"x"'],
        ['a number', '123'],
        ['truncated', '{"a":'],
        ['empty', ''],
        ['10,000 levels of arrays', `${'['.repeat(10_000)}${']'.repeat(10_000)}`],
        ['__proto__ at the top', '{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}'],
        ['invalid UTF-8', Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf]), Buffer.from('"}')])],
        ['NUL bytes', Buffer.from('{"x":"\u0000"}\u0000')],
        ['over the body limit', JSON.stringify({ x: 'z'.repeat(200_000) })],
        ['text/plain', validBody!, { 'content-type': 'text/plain' }],
        ['UTF-16 charset', validBody!, { 'content-type': 'application/json; charset=utf-16' }],
        ['unknown charset', validBody!, { 'content-type': 'application/json; charset=klingon' }],
        ['gzip of garbage', Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' }],
        ['gzip bomb-ish', gzipSync(Buffer.alloc(5_000_000, 0x20)), { 'content-encoding': 'gzip' }],
        ['unknown encoding', validBody!, { 'content-encoding': 'klingon' }],
      ];
      for (const [what, body, headers] of whole) add({ path: fill(), what: `body ${what}`, body, headers });
    }
  }
  return cases;
}
