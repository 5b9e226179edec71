import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@aloft/core';
import { Auth } from '@aloft/dashboard/auth';
import { signInFrom } from './support/dashboard.js';
import { ROOT, System, waitFor, type Service } from './support/system.js';

describe('dashboard: sign-in, roles, CSRF, rate limit, service endpoints', () => {
  const sys = new System({
    dagsFolder: join(ROOT, 'examples', 'dags'),
    env: { ALOFT_DASHBOARD_LOGIN_ATTEMPTS: '5', ALOFT_DASHBOARD_LOGIN_ACCOUNT_ATTEMPTS: '8' },
  });
  let dash: Service;
  let base = '';
  let adminPassword = '';

  /** A browser-like request from this site (Origin set), without following redirects. */
  const req = (path: string, init: RequestInit & { cookie?: string } = {}) =>
    fetch(`${base}${path}`, {
      redirect: 'manual',
      ...init,
      headers: { origin: base, ...(init.cookie ? { cookie: init.cookie } : {}), ...(init.headers as Record<string, string>) },
    });
  const login = (username: string, password: string, extra: Record<string, string> = {}) =>
    req('/login', {
      method: 'POST',
      body: new URLSearchParams({ username, password, next: '/' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...extra },
    });
  const cookieOf = (r: Response) => (r.headers.get('set-cookie') ?? '').split(';')[0]!;

  beforeAll(async () => {
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    dash = await sys.spawn('dashboard', 'dashboard');
    base = `http://127.0.0.1:${dash.port}`;
    await waitFor('the dashboard', async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.ok, 60_000);
    await waitFor('example DAGs stored', async () => (await sys.client.listDags()).some((d) => d.dag.id === 'etl_fan_out'), 60_000);
    const log = join(ROOT, '.test-results', 'logs', `${sys.prefix}-dashboard.log`);
    adminPassword = await waitFor(
      'the generated admin password in the log',
      async () => /user \\"admin\\" with password (\S+) \(shown once/.exec(readFileSync(log, 'utf8'))?.[1],
    );
  });
  afterAll(() => sys.stop());

  it('shows nothing without signing in', async () => {
    const page = await req('/', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/login?next=%2F');
    const api = await req('/queues/api/queues');
    expect(api.status).toBe(401);
    expect(await api.json()).toEqual({ error: 'sign in first', field: 'session' });
    expect((await req('/login')).status).toBe(200);
  });

  it('signs in with the generated admin password (printed once, stored only hashed), not with a wrong one', async () => {
    expect(adminPassword.length).toBeGreaterThanOrEqual(20);
    const wrong = await login('admin', 'not-the-password');
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('Wrong username or password.');
    const ok = await login('admin', adminPassword);
    expect(ok.status).toBe(303);
    const cookie = cookieOf(ok);
    expect(ok.headers.get('set-cookie')).toMatch(/HttpOnly/i);
    expect(ok.headers.get('set-cookie')).toMatch(/SameSite=Lax/i);
    const home = await req('/', { cookie, headers: { accept: 'text/html' } });
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('/ui/app.js');
    expect(home.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(((await (await req('/api/v1/dags', { cookie })).json()) as { dags: { id: string }[] }).dags.map((d) => d.id)).toContain('etl_fan_out');
    expect((await req('/queues/api/queues', { cookie })).status).toBe(200);
    // Neither the password nor the session token is in Redis.
    const redis = sys.client.store.redis;
    for (const k of await redis.keys(`${sys.prefix}:dashboard:*`)) {
      const type = await redis.type(k);
      const dump = type === 'hash' ? JSON.stringify(await redis.hgetall(k)) : type === 'string' ? await redis.get(k) : '';
      expect(`${k} ${dump}`).not.toContain(adminPassword);
      expect(`${k} ${dump}`).not.toContain(cookie.split('=')[1]!);
    }
    const out = await req('/logout', { method: 'POST', cookie });
    expect(out.status).toBe(303);
    expect((await req('/queues/api/queues', { cookie })).status).toBe(401);
  });

  it('refuses state changes without this site as Origin (CSRF), and viewers cannot change anything', async () => {
    const noOrigin = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ username: 'admin', password: adminPassword }),
    });
    expect(noOrigin.status).toBe(403);
    expect(await noOrigin.json()).toMatchObject({ field: 'origin' });
    const evil = await login('admin', adminPassword, { origin: 'https://evil.example' });
    expect(evil.status).toBe(403);

    const auth = new Auth(sys.client.store.redis, sys.prefix, createLogger({ name: 'test', level: 'silent', pretty: false }));
    await auth.addUser('vera', 'viewer-password-123', 'viewer');
    const viewer = cookieOf(await login('vera', 'viewer-password-123'));
    expect((await req('/queues/api/queues', { cookie: viewer })).status).toBe(200);
    const pause = await req('/queues/api/queues/default/pause', { method: 'PUT', cookie: viewer });
    expect(pause.status).toBe(403);
    expect(await pause.json()).toMatchObject({ error: 'this needs the operator role; you are viewer', field: 'role' });
    const admin = cookieOf(await login('admin', adminPassword));
    const crossSite = await fetch(`${base}/queues/api/queues/default/pause`, {
      method: 'PUT',
      redirect: 'manual',
      headers: { cookie: admin, origin: 'https://evil.example' },
    });
    expect(crossSite.status).toBe(403);
  });

  it('API tokens: created once by an admin, scoped to a role, revocable, never stored in clear', async () => {
    const admin = cookieOf(await login('admin', adminPassword));
    const json = (body: unknown, cookie = admin) => ({ method: 'POST', cookie, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const created = await req('/api/v1/tokens', json({ name: 'ci-reader', role: 'viewer' }));
    expect(created.status).toBe(201);
    const { token } = (await created.json()) as { token: string };
    expect(token).toMatch(/^aloft_[A-Za-z0-9_-]{40,}$/);
    expect((await req('/api/v1/tokens', json({ name: 'ci-reader', role: 'viewer' }))).status).toBe(409);
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    // Programs send no Origin: a token is not a browser cookie, so no CSRF check applies.
    expect((await fetch(`${base}/queues/api/queues`, { headers: bearer(token) })).status).toBe(200);
    const pause = await fetch(`${base}/queues/api/queues/default/pause`, { method: 'PUT', headers: bearer(token) });
    expect(pause.status).toBe(403);
    expect((await fetch(`${base}/api/v1/tokens`, { headers: bearer(token) })).status).toBe(403);
    const bad = await fetch(`${base}/queues/api/queues`, { headers: bearer('aloft_nope') });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({ error: 'unknown or revoked API token', field: 'authorization' });
    const listed = (await (await req('/api/v1/tokens', { cookie: admin })).json()) as { tokens: { name: string; role: string; createdBy: string }[] };
    expect(listed.tokens).toEqual([expect.objectContaining({ name: 'ci-reader', role: 'viewer', createdBy: 'admin' })]);
    expect(JSON.stringify(listed)).not.toContain(token);
    const redis = sys.client.store.redis;
    for (const k of await redis.keys(`${sys.prefix}:dashboard:*`)) {
      const type = await redis.type(k);
      expect(type === 'hash' ? JSON.stringify(await redis.hgetall(k)) : '', k).not.toContain(token);
    }
    expect((await req('/api/v1/tokens/ci-reader', { method: 'DELETE', cookie: admin })).status).toBe(204);
    expect((await fetch(`${base}/queues/api/queues`, { headers: bearer(token) })).status).toBe(401);
    expect((await req('/api/v1/tokens/ci-reader', { method: 'DELETE', cookie: admin })).status).toBe(404);
  });

  it('answers bad API requests with a 4xx naming the field', async () => {
    const admin = cookieOf(await login('admin', adminPassword));
    const post = (path: string, body: string) => req(path, { method: 'POST', cookie: admin, body, headers: { 'content-type': 'application/json' } });
    const role = await post('/api/v1/tokens', JSON.stringify({ name: 'x', role: 'superuser' }));
    expect(role.status).toBe(400);
    expect(await role.json()).toMatchObject({ field: 'role' });
    const short = await post('/api/v1/users', JSON.stringify({ username: 'olga', password: 'short', role: 'operator' }));
    expect(short.status).toBe(400);
    expect(await short.json()).toEqual({ error: 'at least 12 characters', field: 'password' });
    const broken = await post('/api/v1/users', '{"username": ');
    expect(broken.status).toBe(400);
    expect(await broken.json()).toEqual({ error: 'body is not valid JSON', field: 'body' });
    const huge = await post('/api/v1/users', JSON.stringify({ username: 'x', password: 'y'.repeat(200_000), role: 'viewer' }));
    expect(huge.status).toBe(413);
    expect((await req('/api/v1/nothing-here', { cookie: admin })).status).toBe(404);
    const made = await post('/api/v1/users', JSON.stringify({ username: 'olga', password: 'operator-password-1', role: 'operator' }));
    expect(made.status).toBe(201);
    expect((await login('olga', 'operator-password-1')).status).toBe(303);
  });

  it('REST API: DAGs, runs, task instances, logs, outputs; 4xx naming the field, 404 for unknown ids, OpenAPI', async () => {
    const admin = cookieOf(await login('admin', adminPassword));
    const mk = async (name: string, role: string) =>
      (
        (await (
          await req('/api/v1/tokens', { method: 'POST', cookie: admin, body: JSON.stringify({ name, role }), headers: { 'content-type': 'application/json' } })
        ).json()) as { token: string }
      ).token;
    const op = await mk('api-operator', 'operator');
    const viewer = await mk('api-viewer', 'viewer');
    const call = async (method: string, path: string, token: string, body?: unknown) => {
      const r = await fetch(`${base}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: r.status, body: (r.status === 204 ? null : await r.json()) as any };
    };
    const dags = await call('GET', '/dags', viewer);
    expect(dags.body.dags.map((d: { id: string }) => d.id)).toEqual(expect.arrayContaining(['etl_fan_out', 'kubernetes_sample']));
    expect((await call('GET', '/dags?tag=etl', viewer)).body.dags.map((d: { id: string }) => d.id)).toEqual(['etl_fan_out']);
    expect((await call('GET', '/dags/etl_fan_out', viewer)).body.tasks.map((t: { id: string }) => t.id)).toContain('extract');
    expect(await call('GET', '/dags/nope', viewer)).toEqual({ status: 404, body: { error: 'dag "nope" not found', field: 'path' } });

    expect(await call('POST', '/dags/etl_fan_out/runs', op, { conf: { currency: 5 } })).toEqual({
      status: 400,
      body: { error: 'conf.currency must be a string (got number)', field: 'conf.currency' },
    });
    expect((await call('POST', '/dags/etl_fan_out/runs', op, { conf: [] })).body.field).toBe('conf');
    expect((await call('POST', '/dags/etl_fan_out/runs', viewer, {})).status).toBe(403);
    const made = await call('POST', '/dags/etl_fan_out/runs', op, { conf: { currency: 'USD' }, runId: 'api_run_1' });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ runId: 'api_run_1', conf: { currency: 'USD' } });
    expect((await call('POST', '/dags/etl_fan_out/runs', op, { runId: 'api_run_1' })).status).toBe(409);
    const runs = await call('GET', '/dags/etl_fan_out/runs?limit=5', viewer);
    expect(runs.body.runs.map((r: { runId: string }) => r.runId)).toContain('api_run_1');
    expect((await call('GET', '/dags/etl_fan_out/runs?limit=0', viewer)).body.field).toBe('limit');
    expect((await call('GET', '/dags/etl_fan_out/runs/nope', viewer)).status).toBe(404);

    await waitFor('extract queued', async () => (await call('GET', '/dags/etl_fan_out/runs/api_run_1/tasks/extract', viewer)).body.state === 'queued');
    const tasks = await call('GET', '/dags/etl_fan_out/runs/api_run_1/tasks', viewer);
    expect(tasks.body.taskInstances).toHaveLength(7);
    expect((await call('POST', '/dags/etl_fan_out/runs/api_run_1/tasks/extract/mark', op, { state: 'done' })).body.field).toBe('state');
    const marked = await call('POST', '/dags/etl_fan_out/runs/api_run_1/tasks/extract/mark', op, { state: 'success' });
    expect(marked.body.state).toBe('success');
    expect((await call('GET', '/dags/etl_fan_out/runs/api_run_1/tasks/extract/output', viewer)).body).toEqual({ output: null });
    expect((await call('GET', '/dags/etl_fan_out/runs/api_run_1/tasks/extract/logs', viewer)).body).toMatchObject({
      try: expect.any(Number),
      lines: expect.any(Array),
    });
    expect((await call('GET', '/dags/etl_fan_out/runs/api_run_1/tasks/nope', viewer)).status).toBe(404);
    expect((await call('POST', '/dags/etl_fan_out/runs/api_run_1/tasks/extract/clear', op, { downstream: true })).body.cleared).toBeGreaterThanOrEqual(1);
    const cancelled = await call('POST', '/dags/etl_fan_out/runs/api_run_1/cancel', op);
    expect(cancelled.body).toMatchObject({ state: 'failed', reason: 'cancelled by token:api-operator' });

    expect((await call('PATCH', '/dags/kubernetes_sample', op, { paused: 'yes' })).body.field).toBe('paused');
    expect((await call('PATCH', '/dags/kubernetes_sample', op, { paused: true })).body).toEqual({ id: 'kubernetes_sample', paused: true });
    expect((await call('GET', '/dags?paused=true', viewer)).body.dags.map((d: { id: string }) => d.id)).toEqual(['kubernetes_sample']);
    expect((await call('GET', '/importErrors', viewer)).body).toEqual({ importErrors: [] });

    const doc = await call('GET', '/openapi.json', viewer);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(doc.body.paths['/dags/{dagId}/runs'].post.requestBody.content['application/json'].schema.properties).toHaveProperty('conf');
  });

  it('ad-hoc jobs, live logs and events over SSE, queues summary, grid, run filters', async () => {
    const worker = await sys.spawn('worker', 'worker-1');
    const admin = cookieOf(await login('admin', adminPassword));
    const op = (
      (await (
        await req('/api/v1/tokens', {
          method: 'POST',
          cookie: admin,
          body: JSON.stringify({ name: 'live-operator', role: 'operator' }),
          headers: { 'content-type': 'application/json' },
        })
      ).json()) as { token: string }
    ).token;
    const auth = { authorization: `Bearer ${op}` };
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${base}/api/v1${path}`, {
        method,
        headers: { ...auth, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: r.status, body: (await r.json()) as any };
    };
    /** Reads SSE events until `stop` says so; returns them as [event, data] pairs. */
    const sse = async (path: string, stop: (events: [string, any][]) => boolean, timeoutMs = 30_000) => {
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), timeoutMs);
      const r = await fetch(`${base}/api/v1${path}`, { headers: auth, signal: ac.signal });
      expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const events: [string, any][] = [];
      const dec = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
          buf += dec.decode(chunk, { stream: true });
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const ev = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (ev && data) events.push([ev, JSON.parse(data)]);
          }
          if (stop(events)) break;
        }
      } finally {
        clearTimeout(timer);
        ac.abort();
      }
      return events;
    };

    // Live transitions of ad-hoc runs, watched from before the job is submitted.
    const watching = sse('/events?dagId=adhoc', (ev) => ev.some(([, d]) => d.taskId === 'greet' && d.state === 'success'));
    await new Promise((r) => setTimeout(r, 300));
    const job = await call('POST', '/jobs', {
      kind: 'command',
      command: 'for i in 1 2 3; do echo line-$i; sleep 0.2; done',
      taskId: 'greet',
      retries: 1,
      executionTimeoutMs: 30_000,
    });
    expect(job.status).toBe(201);
    expect(job.body).toMatchObject({ dagId: 'adhoc', runType: 'adhoc' });
    const runId = job.body.runId as string;
    const enc = encodeURIComponent(runId);
    const followed = await sse(`/dags/adhoc/runs/${enc}/tasks/greet/logs/stream`, (ev) => ev.some(([e]) => e === 'end'));
    const lines = followed.filter(([e]) => e === 'line').map(([, d]) => d);
    expect(lines.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['line-1', 'line-2', 'line-3']);
    expect(lines.map((l) => l.n)).toEqual(lines.map((_, i) => i));
    expect(followed.at(-1)).toEqual(['end', { try: 1, state: 'success' }]);
    const transitions = (await watching).map(([, d]) => `${d.taskId}:${d.state}`);
    expect(transitions).toEqual(expect.arrayContaining(['greet:running', 'greet:success']));
    expect((await call('GET', `/dags/adhoc/runs/${enc}`)).body.state).toBe('success');
    expect((await call('GET', '/dags/adhoc/runs?runType=adhoc&state=success')).body.runs.map((r: { runId: string }) => r.runId)).toContain(runId);
    expect((await call('GET', '/dags/adhoc/runs?state=done')).body.field).toBe('state');
    // Following from a line number resumes there; a finished try ends at once.
    const tail = await sse(`/dags/adhoc/runs/${enc}/tasks/greet/logs/stream?from=${lines.length - 1}`, (ev) => ev.some(([e]) => e === 'end'));
    expect(tail.filter(([e]) => e === 'line').map(([, d]) => d.n)).toEqual([lines.length - 1]);

    // Bad jobs name the field; pod jobs are validated like kubernetesPod tasks.
    expect(await call('POST', '/jobs', { kind: 'command', command: [] })).toMatchObject({ status: 400, body: { field: 'command' } });
    expect((await call('POST', '/jobs', { kind: 'shell', command: 'x' })).body.field).toBe('kind');
    expect((await call('POST', '/jobs', { kind: 'command', command: 'true', retries: -1 })).body.field).toBe('retries');
    const badPod = await call('POST', '/jobs', { kind: 'kubernetesPod', image: 'busybox:1.36', resources: { limits: { memory: 'lots' } } });
    expect(badPod).toMatchObject({ status: 400, body: { field: 'resources.limits.memory' } });
    expect(badPod.body.error).toContain('Kubernetes quantity');
    const pod = await call('POST', '/jobs', { kind: 'kubernetesPod', image: 'busybox:1.36', cmds: ['sh', '-c', 'echo hi'], taskId: 'pod-hi' });
    expect(pod.status).toBe(201);
    const podTask = (await call('GET', `/dags/adhoc/runs/${encodeURIComponent(pod.body.runId)}/tasks`)).body.taskInstances;
    expect(podTask.map((t: { taskId: string }) => t.taskId)).toEqual(['pod-hi']);
    await call('POST', `/dags/adhoc/runs/${encodeURIComponent(pod.body.runId)}/cancel`);

    // Ad-hoc jobs have their own task ids; the grid gives each a row. They are not triggered.
    const adhocGrid = (await call('GET', '/dags/adhoc/grid')).body;
    expect(adhocGrid.tasks.map((t: { id: string }) => t.id)).toEqual(expect.arrayContaining(['greet', 'pod-hi']));
    expect(adhocGrid.runs.find((r: { runId: string }) => r.runId === runId).tis).toEqual({ greet: 'success' });
    expect(await call('POST', '/dags/adhoc/runs', {})).toMatchObject({ status: 400, body: { field: 'dagId' } });

    // Backfill and clear over a range through the API.
    const bf = await call('POST', '/dags/etl_fan_out/backfill', { from: '2026-01-01T00:00:00Z', to: '2026-01-01T02:00:00Z' });
    expect(bf).toMatchObject({
      status: 201,
      body: { created: ['2026-01-01T00', '2026-01-01T01', '2026-01-01T02'].map((h) => `scheduled__${h}:00:00.000Z`), skipped: [] },
    });
    expect((await call('POST', '/dags/etl_fan_out/backfill', { from: 'yesterday', to: '2026-01-01T02:00:00Z' })).body.field).toBe('from');
    expect(
      (await call('POST', '/dags/etl_fan_out/backfill', { from: '2026-01-01T00:00:00Z', to: '2026-01-01T02:00:00Z', conf: { currency: 1 } })).body.field,
    ).toBe('conf');
    const cleared = await call('POST', '/dags/etl_fan_out/clear', { from: '2026-01-01T00:00:00Z', to: '2026-01-01T02:00:00Z', taskRegex: '^extract$' });
    expect(cleared).toMatchObject({ status: 200, body: { runs: 3 } });
    expect((await call('POST', '/dags/etl_fan_out/clear', { from: '2026-01-01T00:00:00Z', to: '2026-01-01T02:00:00Z', taskRegex: '(' })).body.field).toBe(
      'taskRegex',
    );

    const queues = await call('GET', '/queues');
    const def = queues.body.queues.find((q: { name: string }) => q.name === 'default');
    expect(def).toMatchObject({ waiting: expect.any(Number), active: expect.any(Number), delayed: expect.any(Number) });
    expect(def.workers).toBeGreaterThanOrEqual(1);

    const grid = await call('GET', '/dags/etl_fan_out/grid?limit=5');
    expect(grid.body.tasks.map((t: { id: string }) => t.id)).toContain('extract');
    expect(grid.body.runs.length).toBeGreaterThanOrEqual(1);
    expect(Object.keys(grid.body.runs[0].tis)).toEqual(expect.arrayContaining(['extract']));
    expect((await call('GET', '/dags/etl_fan_out/grid?limit=1000')).body.field).toBe('limit');
    expect(await worker.kill('SIGTERM')).toBe(0);
  });

  it('sends a signed-in user only to a path on this site, whatever `next` says', async () => {
    const after = async (next: string) => {
      const r = await req('/login', {
        method: 'POST',
        body: new URLSearchParams({ username: 'admin', password: adminPassword, next }),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(r.status, next).toBe(303);
      return r.headers.get('location');
    };
    // Browsers read `/\host` and `/<tab>/host` as `//host`: another site.
    for (const next of [
      '/\\evil.example',
      '//evil.example',
      '/\t/evil.example',
      '/\n/evil.example',
      'https://evil.example/',
      'javascript:alert(1)',
      '',
      'dags',
    ]) {
      expect(await after(next), JSON.stringify(next)).toBe('/');
    }
    expect(await after('/dags/etl_fan_out?tab=grid')).toBe('/dags/etl_fan_out?tab=grid');
    const form = await (await req(`/login?next=${encodeURIComponent('/\\evil.example')}`)).text();
    expect(form).toContain('name="next" value="/"');
  });

  const addUser = (name: string) =>
    new Auth(sys.client.store.redis, sys.prefix, createLogger({ name: 'test', level: 'silent', pretty: false })).addUser(
      name,
      `${name}-password-123`,
      'viewer',
    );

  it('does not believe X-Forwarded-For from a client that is not a listed proxy', async () => {
    await addUser('xavier');
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++)
      statuses.push((await signInFrom(base, '127.0.0.21', { username: 'xavier', password: `guess-${i}` }, { 'x-forwarded-for': `203.0.113.${i}` })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
  });

  it('limits refused sign-ins per account too, so guessing from many addresses does not help', async () => {
    await addUser('rosa');
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await signInFrom(base, `127.0.0.${31 + i}`, { username: 'rosa', password: `guess-${i}` })).status);
    // 8 refusals for the account from all addresses (ALOFT_DASHBOARD_LOGIN_ACCOUNT_ATTEMPTS).
    expect(statuses).toEqual([...Array(8).fill(401), 429, 429]);
    const right = await signInFrom(base, '127.0.0.41', { username: 'rosa', password: 'rosa-password-123' });
    expect(right.status).toBe(429);
    expect(JSON.parse(right.body)).toMatchObject({ field: 'username' });
    // Other accounts are not affected.
    await addUser('rhea');
    expect((await signInFrom(base, '127.0.0.42', { username: 'rhea', password: 'rhea-password-123' })).status).toBe(303);
  });

  it("a browser that signed in before is not locked out by others' refused attempts, even from its own address", async () => {
    await addUser('carol');
    const first = await signInFrom(base, '127.0.0.51', { username: 'carol', password: 'carol-password-123' });
    expect(first.status).toBe(303);
    const cookie = first.cookies.join('; ');
    // Someone behind the same address (a NAT, an untrusted proxy) guesses until refused,
    // and others guess from elsewhere until the account is refused everywhere.
    const guesses: number[] = [];
    for (let i = 0; i < 6; i++) guesses.push((await signInFrom(base, '127.0.0.51', { username: 'carol', password: `guess-${i}` })).status);
    for (let i = 0; i < 6; i++) guesses.push((await signInFrom(base, `127.0.0.${61 + i}`, { username: 'carol', password: `guess-${i}` })).status);
    expect(guesses.slice(0, 6)).toEqual([401, 401, 401, 401, 401, 429]);
    expect(guesses.at(-1)).toBe(429);
    expect((await signInFrom(base, '127.0.0.67', { username: 'carol', password: 'carol-password-123' })).status).toBe(429);
    // Carol's own browser still signs in, from that same address.
    expect((await signInFrom(base, '127.0.0.51', { username: 'carol', password: 'carol-password-123' }, { cookie })).status).toBe(303);
  });

  it('rate-limits sign-in attempts', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await login('admin', `guess-${i}`)).status);
    expect(statuses).toContain(429);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    const limited = await login('admin', adminPassword);
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ field: 'password' });
  });

  it('reports queue depth for autoscalers without a session (counts only), counting prioritized jobs', async () => {
    const run = await sys.client.trigger('etl_fan_out');
    await waitFor('extract queued', async () => (await sys.client.getTaskInstance('etl_fan_out', run.runId, 'extract')).state === 'queued');
    const body = (await (await fetch(`${base}/metrics/queues`)).json()) as { queues: Record<string, { waiting: number; active: number }> };
    expect(body.queues['default']?.waiting).toBeGreaterThanOrEqual(1);
    expect(body.queues['default']?.active).toBe(0);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^aloft_queue_jobs\{queue="default",state="prioritized"\} [1-9]/m);
    expect(metrics).toMatch(/^aloft_task_instances\{state="queued"\} [1-9]/m);
    // The live-updates test before this one made the dashboard read transitions.
    expect(metrics).toMatch(/^aloft_event_lag_seconds_count [1-9]/m);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const headers = (await fetch(`${base}/login`)).headers;
    expect(headers.get('x-content-type-options')).toBe('nosniff');
    expect(headers.get('x-frame-options')).toBe('SAMEORIGIN');
  });
});
