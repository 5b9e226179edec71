import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AloftHttpClient, readSse, type LogEvent } from '@aloft/sdk';
import { adminPassword, createToken, startWithDashboard } from './support/dashboard.js';
import { ROOT, System, waitFor } from './support/system.js';

describe('mapped tasks in the REST API, the SDK and the CLI (redis-server, scheduler, worker, dashboard)', () => {
  const sys = new System({ dagsFolder: join(ROOT, 'tests', 'fixtures', 'mapping-dags') });
  let base = '';
  let token = '';
  let sdk: AloftHttpClient;
  const runs: Record<string, string> = {};

  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, body: (await r.json()) as any };
  };
  /** Reads SSE events until `stop` says so; returns them as [event, data] pairs, with when the stream opened. */
  const sse = async (path: string, stop: (events: [string, any][]) => boolean, timeoutMs = 30_000) => {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    const r = await fetch(`${base}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
    const openedAt = Date.now();
    expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events: [string, any][] = [];
    try {
      for await (const msg of readSse(r.body!)) {
        events.push([msg.event, JSON.parse(msg.data)]);
        if (stop(events)) break;
      }
    } finally {
      clearTimeout(timer);
      ac.abort();
    }
    return { events, openedAt };
  };
  const cli = (args: string[], remote: boolean) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const { ALOFT_SERVER: _s, ALOFT_TOKEN: _t, ...rest } = process.env;
      const env = remote ? { ...rest, ALOFT_SERVER: base, ALOFT_TOKEN: token } : { ...rest, REDIS_URL: sys.redis.url, ALOFT_KEY_PREFIX: sys.prefix };
      const child = spawn(process.execPath, [join(ROOT, 'scripts', 'aloft.mjs'), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  const run = async (dagId: string) => {
    const r = await sys.client.trigger(dagId);
    await sys.client.waitForRun(dagId, r.runId, { timeoutMs: 120_000, pollMs: 100 });
    return r.runId;
  };
  const ti = (dagId: string, task: string, query = '') => `/dags/${dagId}/runs/${encodeURIComponent(runs[dagId]!)}/tasks/${task}${query}`;

  beforeAll(async () => {
    base = await startWithDashboard(sys, 'map_slow', { ALOFT_WORKER_CONCURRENCY: '16' });
    await waitFor('every mapping DAG stored', async () => (await sys.client.listDags()).length === 7, 60_000);
    token = await createToken(base, await adminPassword(sys), 'mapped-operator', 'operator');
    sdk = new AloftHttpClient({ baseUrl: base, token });
    runs['map_literal'] = await run('map_literal');
    runs['map_rules'] = await run('map_rules');
  }, 180_000);
  afterAll(() => sys.stop());

  it('grid: a mapped task gets one summed-up state per run and its instances counted by state', async () => {
    const grid = await call('GET', '/dags/map_rules/grid');
    expect(grid.status).toBe(200);
    expect(grid.body.tasks.find((t: { id: string }) => t.id === 'some_fail')).toMatchObject({ mapped: true });
    expect(grid.body.tasks.find((t: { id: string }) => t.id === 'collect')).not.toHaveProperty('mapped');
    const row = grid.body.runs.find((r: { runId: string }) => r.runId === runs['map_rules']);
    expect(row.tis).toEqual({ some_fail: 'failed', on_failure: 'success', on_success: 'upstream_failed', collect: 'success' });
    expect(row.mapped).toEqual({ some_fail: { n: 3, states: { success: 2, failed: 1 } } });
    // The same through the SDK; a run without expanded tasks carries no `mapped`.
    const viaSdk = await sdk.grid('map_literal');
    const lit = viaSdk.runs.find((r) => r.runId === runs['map_literal'])!;
    expect(lit.mapped).toEqual({ echo: { n: 3, states: { success: 3 } }, pairs: { n: 4, states: { success: 4 } }, shout: { n: 4, states: { success: 4 } } });
    expect(lit.tis['joined']).toBe('success');
  });

  it('takes mapIndex on the task instance, logs and output, and refuses a bad one naming the field', async () => {
    const one = await call('GET', ti('map_literal', 'echo', '?mapIndex=1'));
    expect(one.body).toMatchObject({ taskId: 'echo', mapIndex: 1, state: 'success', try: 1 });
    expect(one.body).not.toHaveProperty('mapped');
    expect((await call('GET', ti('map_literal', 'echo'))).body).toMatchObject({ mapIndex: -1, state: 'success', mapped: { n: 3, states: { success: 3 } } });
    const log = await call('GET', ti('map_literal', 'echo', '/logs?mapIndex=2'));
    expect(log.body.lines.map((l: { line: string }) => l.line)).toContain('p-gamma-2');
    expect(log.body.lines.map((l: { line: string }) => l.line)).not.toContain('p-beta-1');
    const whole = await call('GET', ti('map_literal', 'echo', '/logs'));
    expect(whole).toEqual({
      status: 400,
      body: { error: 'task "echo" is mapped into 3 instance(s), each with its own log: give a mapIndex from 0 to 2', field: 'mapIndex' },
    });
    expect((await call('GET', ti('map_literal', 'echo', '/logs/stream'))).body.field).toBe('mapIndex');
    expect((await call('GET', ti('map_literal', 'pairs', '/output?mapIndex=3'))).body).toEqual({ output: '2y' });
    expect((await call('GET', ti('map_literal', 'pairs', '/output'))).body).toEqual({ output: ['1x', '1y', '2x', '2y'] });
    expect((await call('GET', ti('map_literal', 'joined', '/output'))).body.output).toMatchObject({ pairs: ['1x', '1y', '2x', '2y'] });

    for (const path of ['?mapIndex=abc', '?mapIndex=-2', '/logs?mapIndex=1.5', '/logs/stream?mapIndex=x', '/output?mapIndex=-7']) {
      const bad = await call('GET', ti('map_literal', 'echo', path));
      expect({ path, status: bad.status, field: bad.body.field }).toEqual({ path, status: 400, field: 'mapIndex' });
    }
    expect(await call('GET', ti('map_literal', 'echo', '?mapIndex=3'))).toMatchObject({ status: 404, body: { field: 'path' } });
    expect(await call('POST', ti('map_literal', 'echo', '/mark'), { state: 'failed', mapIndex: 'one' })).toMatchObject({
      status: 400,
      body: { field: 'mapIndex' },
    });
  });

  it('marks one instance of a mapped task, or all of them', async () => {
    const marked = await call('POST', ti('map_rules', 'some_fail', '/mark'), { state: 'success', mapIndex: 1 });
    expect(marked).toMatchObject({ status: 200, body: { mapIndex: 1, state: 'success' } });
    expect((await call('GET', ti('map_rules', 'some_fail'))).body).toMatchObject({ state: 'success', mapped: { n: 3, states: { success: 3 } } });
    const all = await sdk.markTask('map_rules', runs['map_rules']!, 'some_fail', 'failed');
    expect(all).toMatchObject({ mapIndex: -1, state: 'failed', mapped: { n: 3, states: { failed: 3 } } });
    const back = await sdk.markTask('map_rules', runs['map_rules']!, 'some_fail', 'success', { mapIndex: 0 });
    expect(back).toMatchObject({ mapIndex: 0, state: 'success' });
    const grid = await sdk.grid('map_rules');
    expect(grid.runs.find((r) => r.runId === runs['map_rules'])!.mapped).toEqual({ some_fail: { n: 3, states: { success: 1, failed: 2 } } });
  });

  it("follows one running instance's log live (SSE), and events carry the map index", async () => {
    const watching = sse('/events?dagId=map_slow&types=ti', (ev) => ev.filter(([, d]) => d.taskId === 'wait' && d.state === 'success').length === 3);
    await new Promise((r) => setTimeout(r, 300));
    const { runId } = await sys.client.trigger('map_slow');
    runs['map_slow'] = runId;
    await waitFor(
      'instance 1 running',
      async () => (await sys.client.getTaskInstance('map_slow', runId, 'wait', 1).catch(() => undefined))?.state === 'running',
      30_000,
    );
    const followed = await sse(ti('map_slow', 'wait', '/logs/stream?mapIndex=1'), (ev) => ev.some(([e]) => e === 'end'));
    const lines = followed.events.filter(([e]) => e === 'line').map(([, d]) => d);
    expect(lines.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['begin 1 b', 'end 1 b']);
    // Opened while the instance ran: its last line was written after, and still came through.
    expect(lines.find((l) => l.line === 'end 1 b').at).toBeGreaterThan(followed.openedAt);
    expect(followed.events.at(-1)).toEqual(['end', { try: 1, state: 'success' }]);

    const events = (await watching).events.map(([, d]) => d).filter((d) => d.runId === runId);
    expect(events).toContainEqual(expect.objectContaining({ taskId: 'wait', mapIndex: -1, state: 'mapped', detail: '3' }));
    for (const i of [0, 1, 2]) expect(events).toContainEqual(expect.objectContaining({ taskId: 'wait', mapIndex: i, state: 'running' }));

    // The SDK follows an instance's log the same way.
    const viaSdk: LogEvent[] = [];
    for await (const ev of sdk.followLog('map_slow', runId, 'wait', { mapIndex: 2 })) viaSdk.push(ev);
    expect(viaSdk.flatMap((e) => (e.type === 'line' && e.stream === 'stdout' ? [e.line] : []))).toEqual(['begin 2 c', 'end 2 c']);
    expect(viaSdk.at(-1)).toMatchObject({ type: 'end', state: 'success' });
    expect((await sdk.getLog('map_slow', runId, 'wait', { mapIndex: 0 })).lines.map((l) => l.line)).toContain('end 0 a');
    expect(await sdk.getTaskInstance('map_slow', runId, 'wait', { mapIndex: 0 })).toMatchObject({ mapIndex: 0, state: 'success' });
  });

  it("lists a mapped task's 1,000 instances a page at a time, filtered by state", async () => {
    runs['map_reduce'] = await run('map_reduce');
    const all = await call('GET', ti('map_reduce', 'square', '/instances?limit=1000'));
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ n: 1000, total: 1000, limit: 1000, offset: 0, states: { success: 1000 } });
    expect(all.body.instances.map((i: { mapIndex: number }) => i.mapIndex)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const last = all.body.instances[999];
    expect(last).toMatchObject({
      taskId: 'square',
      mapIndex: 999,
      state: 'success',
      try: 1,
      startDate: expect.any(Number),
      endDate: expect.any(Number),
      duration: expect.any(Number),
    });
    expect((await call('GET', ti('map_reduce', 'square', '/instances'))).body.instances).toHaveLength(100);
    const page = await sdk.listInstances('map_reduce', runs['map_reduce']!, 'square', { limit: 100, offset: 950 });
    expect(page.instances.map((i) => i.mapIndex)).toEqual(Array.from({ length: 50 }, (_, i) => 950 + i));
    expect(page).toMatchObject({ total: 1000, offset: 950 });

    await sys.client.markTask('map_reduce', runs['map_reduce']!, 'square', 'failed', 7);
    await sys.client.markTask('map_reduce', runs['map_reduce']!, 'square', 'failed', 700);
    const failed = await sdk.listInstances('map_reduce', runs['map_reduce']!, 'square', { state: 'failed' });
    expect(failed).toMatchObject({ n: 1000, total: 2, states: { success: 998, failed: 2 } });
    expect(failed.instances.map((i) => i.mapIndex)).toEqual([7, 700]);
    expect(
      (await call('GET', ti('map_reduce', 'square', '/instances?state=success&limit=3&offset=6'))).body.instances.map((i: { mapIndex: number }) => i.mapIndex),
    ).toEqual([6, 8, 9]);

    // An unmapped task has no instances; bad paging and states name their field.
    expect((await call('GET', ti('map_reduce', 'numbers', '/instances'))).body).toMatchObject({ n: 0, total: 0, instances: [] });
    expect((await call('GET', ti('map_reduce', 'nope', '/instances'))).status).toBe(404);
    for (const [q, field] of [
      ['limit=5000', 'limit'],
      ['offset=-1', 'offset'],
      ['state=done', 'state'],
    ]) {
      expect(await call('GET', ti('map_reduce', 'square', `/instances?${q}`))).toMatchObject({ status: 400, body: { field } });
    }
  });

  it('CLI: `tasks` shows a mapped task once with [n] and counts (instances with --instances), the same in both modes', async () => {
    const runId = runs['map_literal']!;
    const [remote, local] = await Promise.all([cli(['tasks', 'map_literal', runId], true), cli(['tasks', 'map_literal', runId], false)]);
    expect(remote.code).toBe(0);
    expect(remote.stdout).toBe(local.stdout);
    expect(remote.stdout).toMatch(/^echo \[3\]\s+success\s+.*3 success$/m);
    expect(remote.stdout).toMatch(/^pairs \[4\]\s+success/m);
    expect(remote.stdout).not.toMatch(/^echo\[/m);
    const [instances, localJson, remoteJson] = await Promise.all([
      cli(['tasks', 'map_literal', runId, '--instances'], true),
      cli(['--json', 'tasks', 'map_literal', runId, '--instances'], false),
      cli(['--json', 'tasks', 'map_literal', runId, '--instances'], true),
    ]);
    const rows = instances.stdout.split('\n').map((l) => l.split(/\s+/)[0]);
    expect(rows.slice(rows.indexOf('echo'), rows.indexOf('echo') + 4)).toEqual(['echo', 'echo[0]', 'echo[1]', 'echo[2]']);
    expect(JSON.parse(remoteJson.stdout)).toEqual(JSON.parse(localJson.stdout));
    // Four tasks once each, plus the 3 + 4 + 4 instances of the mapped ones.
    expect((JSON.parse(localJson.stdout) as unknown[]).length).toBe(4 + 3 + 4 + 4);
  });

  it('CLI: `logs --map-index` and `mark --map-index` in both modes; a mapped task without one is a usage error', async () => {
    const runId = runs['map_literal']!;
    for (const remote of [true, false]) {
      const log = await cli(['logs', 'map_literal', runId, 'echo', '--map-index', '1'], remote);
      expect(log.stdout).toMatch(/^\S+Z stdout p-beta-1$/m);
      const followed = await cli(['logs', '--follow', '--map-index', '0', 'map_literal', runId, 'echo'], remote);
      expect(followed.stdout).toMatch(/^--- try 1 ---\n(.*\n)*\S+Z stdout p-alpha-0\n(.*\n)*--- echo\[0\]: success ---\n$/);
      const whole = await cli(['logs', 'map_literal', runId, 'echo'], remote);
      expect(whole).toMatchObject({ code: 2, stderr: 'aloft: task "echo" is mapped into 3 instance(s), each with its own log: pass --map-index 0 to 2\n' });
      expect(await cli(['logs', 'map_literal', runId, 'echo', '--map-index', 'x'], remote)).toMatchObject({
        code: 2,
        stderr: 'aloft: --map-index must be an integer ≥ -1 (got "x")\n',
      });
    }
    expect(await cli(['mark', 'map_literal', runId, 'echo', 'failed', '--map-index', '2'], true)).toMatchObject({ code: 0, stdout: 'marked echo[2] failed\n' });
    expect((await sys.client.getTaskInstance('map_literal', runId, 'echo', 2)).state).toBe('failed');
    expect(await cli(['mark', 'map_literal', runId, 'echo', 'success'], false)).toMatchObject({ code: 0, stdout: 'marked echo success (3 success)\n' });
    expect(await cli(['mark', 'map_literal', runId, 'echo', 'done'], false)).toMatchObject({
      code: 2,
      stderr: 'aloft: <state> must be one of success, failed, skipped (got "done")\n',
    });
  });
});
