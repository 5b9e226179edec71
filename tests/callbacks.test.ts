import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, System, waitFor } from './support/system.js';

const TMP = join(ROOT, '.test-results', `callbacks-${process.pid}`);
const DAGS = join(TMP, 'dags');
const SECRET_PATH = 'path-secret-5f2a9c';
const SECRET_TOKEN = 'token-secret-81d3e7';

interface Recorded {
  callback: string;
  scope: 'task' | 'dag';
  dag: string;
  run: string;
  task: string | null;
  try: number | null;
  state: string;
  reason: string | null;
  sla: { kind: string; dueAt: number; state: string } | null;
}

interface Hit {
  path: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

/** The test's webhook receiver: /flaky answers 500 once, then 200; /slow never answers. */
function startReceiver(): Promise<{ server: Server; port: number; hits: Hit[] }> {
  const hits: Hit[] = [];
  let flakyCalls = 0;
  const server = createServer((req: IncomingMessage, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const path = req.url ?? '';
      hits.push({ path, authorization: req.headers.authorization, body: JSON.parse(raw) as Record<string, unknown> });
      if (path.startsWith('/slow/')) return; // no answer: the notifier's timeout must end it
      if (path.startsWith('/flaky/') && flakyCalls++ === 0) res.writeHead(500).end('try again');
      else res.writeHead(204).end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, hits })));
}

describe('callbacks and notifications end to end (real redis-server, two schedulers, two workers)', () => {
  // A callback's time includes loading its DAG file in the fn host: seconds on a loaded machine.
  const sys = new System({ dagsFolder: DAGS, env: { ALOFT_FN_RUNNERS_WARM: '1', ALOFT_CALLBACK_TIMEOUT_MS: '30000' } });
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  const recorded = (dir: string): Recorded[] => {
    const f = join(dir, 'callbacks.jsonl');
    return existsSync(f)
      ? readFileSync(f, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Recorded)
      : [];
  };

  /** Triggers a run whose callbacks record into a fresh folder; waits for it to finish. */
  const triggerAndWait = async (dagId: string) => {
    const dir = join(TMP, `${dagId}-${Math.random().toString(36).slice(2, 8)}`);
    mkdirSync(dir, { recursive: true });
    const r = await sys.client.trigger(dagId, { conf: { dir } });
    const run = await sys.client.waitForRun(dagId, r.runId, { timeoutMs: 60_000, pollMs: 100 });
    return { dir, run };
  };

  /** Waits until `n` callbacks are recorded, then a little longer so that extra ones would show. */
  const settle = async (dir: string, n: number): Promise<Recorded[]> => {
    await waitFor(`${n} callbacks in ${dir}`, async () => recorded(dir).length >= n, 90_000);
    await new Promise((r) => setTimeout(r, 1500));
    return recorded(dir);
  };

  beforeAll(async () => {
    receiver = await startReceiver();
    mkdirSync(DAGS, { recursive: true });
    cpSync(join(ROOT, 'tests', 'fixtures', 'callback-dags'), DAGS, { recursive: true });
    const base = `http://127.0.0.1:${receiver.port}`;
    writeFileSync(
      join(DAGS, 'webhook.ts'),
      `import { dag, webhookNotifier } from '@aloft/core';
const d = dag({ id: 'cb_webhook' });
d.empty({ id: 'flaky_hook', onSuccess: webhookNotifier({ url: '${base}/flaky/${SECRET_PATH}', headers: { authorization: 'Bearer ${SECRET_TOKEN}' }, retries: 2, retryDelay: 100 }) });
d.empty({ id: 'dead_hook', onSuccess: webhookNotifier({ url: '${base}/slow/${SECRET_PATH}', timeout: 300, retries: 1, retryDelay: 50 }) });
`,
    );
    await sys.start();
    await sys.spawn('scheduler', 'scheduler-1');
    await sys.spawn('scheduler', 'scheduler-2');
    await sys.spawn('worker', 'worker-1');
    await sys.spawn('worker', 'worker-2');
    await waitFor('fixture DAGs stored', async () => (await sys.client.listDags()).length >= 5, 60_000);
  });
  afterAll(async () => {
    await sys.stop();
    receiver?.server.closeAllConnections();
    receiver?.server.close();
    rmSync(TMP, { recursive: true, force: true });
  });

  it('fires onExecute per try, onSuccess, onRetry and onFailure (with the reason) once each, and the DAG onFailure once', async () => {
    const { dir, run } = await triggerAndWait('cb_tasks');
    expect(run.state).toBe('failed');
    // ok: execute + success; flaky: 2 executes + retry + success; bad: execute + failure; run: failure.
    const got = await settle(dir, 9);
    const of = (task: string | null, callback: string) => got.filter((e) => e.task === task && e.callback === callback);
    expect(got).toHaveLength(9);
    expect(of('ok', 'onExecute')).toMatchObject([{ scope: 'task', try: 1, state: 'running' }]);
    expect(of('ok', 'onSuccess')).toMatchObject([{ scope: 'task', try: 1, state: 'success', reason: null }]);
    expect(
      of('flaky', 'onExecute')
        .map((e) => e.try)
        .sort(),
    ).toEqual([1, 2]);
    expect(of('flaky', 'onRetry')).toMatchObject([{ try: 1, state: 'up_for_retry', reason: 'exit code 3' }]);
    expect(of('flaky', 'onSuccess')).toMatchObject([{ try: 2, state: 'success' }]);
    expect(of('bad', 'onFailure')).toHaveLength(1);
    expect(of('bad', 'onFailure')[0]).toMatchObject({ try: 1, state: 'failed' });
    expect(of('bad', 'onFailure')[0]!.reason).toContain('the source is down');
    expect(of('bad', 'onSuccess')).toEqual([]);
    const runCb = got.filter((e) => e.scope === 'dag');
    expect(runCb).toMatchObject([{ callback: 'onFailure', task: null, try: null, state: 'failed', run: run.runId }]);
    expect(runCb[0]!.reason).toContain('task "bad" failed: Error: the source is down');
  });

  it('fires the DAG onSuccess once per successful run, not onFailure', async () => {
    const first = await triggerAndWait('cb_run_ok');
    const second = await triggerAndWait('cb_run_ok');
    expect([first.run.state, second.run.state]).toEqual(['success', 'success']);
    for (const { dir, run } of [first, second]) {
      expect(await settle(dir, 1)).toMatchObject([{ callback: 'onSuccess', scope: 'dag', run: run.runId, state: 'success', task: null }]);
    }
  });

  it('logs a throwing callback in the task log and the worker log, and leaves the task state alone', async () => {
    const { run } = await triggerAndWait('cb_throws');
    expect(run.state).toBe('success');
    const ti = await sys.client.getTaskInstance('cb_throws', run.runId, 't');
    expect(ti.state).toBe('success');
    expect(await sys.client.getOutput('cb_throws', run.runId, 't')).toEqual({ rows: 7 });
    const lines = await waitFor('both callback failures in the task log', async () => {
      const text = (await sys.client.getLog('cb_throws', run.runId, 't')).map((l) => l.line);
      return text.filter((l) => l.startsWith('callback ')).length >= 2 && text;
    });
    expect(lines).toContain("callback onExecute failed: Error: callback exploded; the task's state is unchanged");
    expect(lines).toContain("callback onSuccess failed: Error: callback exploded; the task's state is unchanged");
    // The DAG's onSuccess throws too: the run stays a success, and a worker logs the failure.
    const workerLogs = () =>
      ['worker-1', 'worker-2'].map((w) => readFileSync(join(ROOT, '.test-results', 'logs', `${sys.prefix}-${w}.log`), 'utf8')).join('\n');
    await waitFor(
      'the run callback failure in a worker log',
      async () => workerLogs().includes(`"run":"${run.runId}"`) && /"scope":"dag".*callback failed; state unchanged/.test(workerLogs()),
    );
    expect((await sys.client.getRun('cb_throws', run.runId)).state).toBe('success');
  });

  it('webhook notifier: retries after a 500 and succeeds; gives up after its timeout and retries without touching the task; logs no secret', async () => {
    const { run } = await triggerAndWait('cb_webhook');
    expect(run.state).toBe('success');
    const mine = () => receiver.hits.filter((h) => h.body['runId'] === run.runId);
    await waitFor('two flaky webhook attempts', async () => mine().filter((h) => h.path.startsWith('/flaky/')).length >= 2);
    const deadLog = await waitFor('the dead webhook given up in the task log', async () => {
      const text = (await sys.client.getLog('cb_webhook', run.runId, 'dead_hook')).map((l) => l.line);
      return text.some((l) => l.startsWith('callback onSuccess failed')) && text;
    });
    await new Promise((r) => setTimeout(r, 1000));

    const flaky = mine().filter((h) => h.path.startsWith('/flaky/'));
    expect(flaky).toHaveLength(2);
    expect(flaky[0]!.authorization).toBe(`Bearer ${SECRET_TOKEN}`);
    expect(flaky[1]!.body).toMatchObject({
      event: 'onSuccess',
      scope: 'task',
      dagId: 'cb_webhook',
      runId: run.runId,
      taskId: 'flaky_hook',
      tryNumber: 1,
      state: 'success',
      reason: null,
    });
    expect(flaky[1]!.body['logicalDate']).toBe(new Date(run.logicalDate).toISOString());
    // The dead webhook was tried twice (retries: 1), each attempt given up after 300 ms. Its
    // log says so; the receiver saw at most those two, and under a loaded machine an attempt
    // can be given up before the receiver's own event loop has read it, so not always both.
    expect(deadLog.join('\n')).toContain(`webhook to 127.0.0.1:${receiver.port}: attempt 1 failed (no answer within 300 ms); retrying in 50 ms`);
    expect(mine().filter((h) => h.path.startsWith('/slow/')).length).toBeLessThanOrEqual(2);

    const host = `127.0.0.1:${receiver.port}`;
    expect(deadLog).toContain(`callback onSuccess failed: Error: webhook to ${host} failed: no answer within 300 ms; the task's state is unchanged`);
    const tis = await sys.client.listTaskInstances('cb_webhook', run.runId);
    expect(tis.map((t) => [t.taskId, t.state]).sort()).toEqual([
      ['dead_hook', 'success'],
      ['flaky_hook', 'success'],
    ]);
    const flakyLog = (await sys.client.getLog('cb_webhook', run.runId, 'flaky_hook')).map((l) => l.line).join('\n');
    expect(flakyLog).toContain(`webhook to ${host}: attempt 1 failed (HTTP 500); retrying in 100 ms`);

    const everything = [
      flakyLog,
      deadLog.join('\n'),
      ...['scheduler-1', 'scheduler-2', 'worker-1', 'worker-2'].map((s) => readFileSync(join(ROOT, '.test-results', 'logs', `${sys.prefix}-${s}.log`), 'utf8')),
    ].join('\n');
    expect(everything).toContain(host);
    expect(everything).not.toContain(SECRET_PATH);
    expect(everything).not.toContain(SECRET_TOKEN);
  });

  it('fires onSlaMiss once for a task past its SLA and once for a run past its deadline', async () => {
    const { dir, run } = await triggerAndWait('cb_sla');
    expect(run.state).toBe('success');
    const got = await settle(dir, 2);
    expect(got).toHaveLength(2);
    const task = got.find((e) => e.scope === 'task');
    const dagMiss = got.find((e) => e.scope === 'dag');
    expect(task).toMatchObject({ callback: 'onSlaMiss', task: 'slow', sla: { kind: 'task', dueAt: run.logicalDate + 1000 } });
    expect(['queued', 'running']).toContain(task!.sla!.state);
    expect(dagMiss).toMatchObject({ callback: 'onSlaMiss', task: null, sla: { kind: 'run', dueAt: run.logicalDate + 2000, state: 'running' } });
    // `quick` met its SLA: no miss recorded for it.
    expect(got.some((e) => e.task === 'quick')).toBe(false);
  });
});
