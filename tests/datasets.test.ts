import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DagRun, DatasetInfo } from '@aloft/core';
import { AloftHttpClient } from '@aloft/sdk';
import { launchChromium, signIn } from './support/dashboard.js';
import { ROOT, System, waitFor } from './support/system.js';

const run = promisify(execFile);
const ADMIN_PASSWORD = 'datasets-test-password';

const sys = new System({ dagsFolder: join(ROOT, 'tests', 'fixtures', 'dataset-dags'), env: { ALOFT_DASHBOARD_ADMIN_PASSWORD: ADMIN_PASSWORD } });
const DAGS = [
  'produce_orders',
  'on_orders',
  'produce_x',
  'produce_y',
  'on_x_and_y',
  'produce_p',
  'on_p',
  'produce_fail',
  'child',
  'trigger_child',
  'trigger_wait_ok',
  'trigger_wait_fail',
  'trigger_unknown',
];

/** Long enough for several scheduler loops and a sweep to have happened. */
const settle = () => new Promise((r) => setTimeout(r, 1500));
const runsOf = (dagId: string) => sys.client.listRuns(dagId, { limit: 100 });
async function succeeded(dagId: string, runId: string): Promise<DagRun> {
  const run = await sys.client.waitForRun(dagId, runId, { timeoutMs: 30_000, pollMs: 50 });
  expect(run.state, `${dagId} ${runId}`).toBe('success');
  return run;
}

beforeAll(async () => {
  await sys.start();
  await sys.spawn('scheduler', 'scheduler');
  await sys.spawn('worker', 'worker-1');
  await waitFor(
    'every fixture DAG stored',
    async () => {
      const ids = new Set((await sys.client.listDags()).map((d) => d.dag.id));
      return DAGS.every((id) => ids.has(id));
    },
    60_000,
  );
});
afterAll(() => sys.stop());

describe('dataset-scheduled DAGs (real scheduler and worker)', () => {
  it('fires a dataset-scheduled DAG exactly once per upstream update', async () => {
    const producers = await Promise.all([1, 2, 3].map(() => sys.client.trigger('produce_orders')));
    for (const p of producers) await succeeded('produce_orders', p.runId);
    await waitFor('3 consumer runs', async () => (await runsOf('on_orders')).length >= 3);
    await settle();
    const runs = await runsOf('on_orders');
    expect(runs).toHaveLength(3);
    for (const r of runs) {
      expect(r.runType).toBe('dataset_triggered');
      expect(r.runId).toMatch(/^dataset_triggered__\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z__\d+$/);
      expect(r.runId.split('__')[1]).toBe(new Date(r.logicalDate).toISOString());
      await succeeded('on_orders', r.runId);
    }
    // Each consumer run names the one producer run whose update made it.
    const sources = runs.map((r) => {
      expect(r.datasetEvents).toHaveLength(1);
      expect(r.datasetEvents![0]).toMatchObject({ uri: 'warehouse.orders', dagId: 'produce_orders', taskId: 'write' });
      return r.datasetEvents![0]!.runId;
    });
    expect(sources.sort()).toEqual(producers.map((p) => p.runId).sort());
    expect(await sys.client.store.datasets.pending('on_orders')).toEqual([]);
  });

  it('runs a DAG on two datasets only once both were updated since its last run', async () => {
    const x1 = await sys.client.trigger('produce_x');
    await succeeded('produce_x', x1.runId);
    const x2 = await sys.client.trigger('produce_x');
    await succeeded('produce_x', x2.runId);
    await settle();
    expect(await runsOf('on_x_and_y')).toHaveLength(0);
    expect(await sys.client.store.datasets.pending('on_x_and_y')).toEqual(['s3://bucket/x.csv']);

    const y1 = await sys.client.trigger('produce_y');
    await succeeded('produce_y', y1.runId);
    const [first] = await waitFor('the first consumer run', async () => {
      const r = await runsOf('on_x_and_y');
      return r.length > 0 && r;
    });
    await succeeded('on_x_and_y', first!.runId);
    // The latest update of each dataset, the x one from the second producer run.
    expect(first!.datasetEvents?.map((e) => [e.uri, e.runId])).toEqual([
      ['s3://bucket/x.csv', x2.runId],
      ['warehouse.y', y1.runId],
    ]);
    expect(first!.dataIntervalStart).toBeLessThan(first!.dataIntervalEnd);

    // y again: only one of the two since the last run, so nothing yet; then x completes it.
    const y2 = await sys.client.trigger('produce_y');
    await succeeded('produce_y', y2.runId);
    await settle();
    expect(await runsOf('on_x_and_y')).toHaveLength(1);
    const x3 = await sys.client.trigger('produce_x');
    await succeeded('produce_x', x3.runId);
    await waitFor('the second consumer run', async () => (await runsOf('on_x_and_y')).length === 2);
    await settle();
    expect(await runsOf('on_x_and_y')).toHaveLength(2);
  });

  it('counts updates while the consumer is paused and runs it once when unpaused', async () => {
    await sys.client.setPaused('on_p', true);
    for (let i = 0; i < 2; i++) await succeeded('produce_p', (await sys.client.trigger('produce_p')).runId);
    await settle();
    expect(await runsOf('on_p')).toHaveLength(0);
    expect(await sys.client.store.datasets.pending('on_p')).toEqual(['warehouse.p']);
    await sys.client.setPaused('on_p', false);
    const runs = await runsOf('on_p');
    expect(runs).toHaveLength(1);
    await succeeded('on_p', runs[0]!.runId);
    await settle();
    expect(await runsOf('on_p')).toHaveLength(1);
  });

  it('records no update when the producing task fails', async () => {
    const run = await sys.client.trigger('produce_fail');
    expect((await sys.client.waitForRun('produce_fail', run.runId, { timeoutMs: 30_000 })).state).toBe('failed');
    const all = await sys.client.listDatasets();
    expect(all.find((d) => d.uri === 'warehouse.never')).toMatchObject({ updates: 0, lastUpdateAt: null, producers: ['produce_fail'], consumers: [] });
  });

  it('lists datasets with their last update, producers and consumers', async () => {
    const before = Date.now();
    const p = await sys.client.trigger('produce_orders');
    await succeeded('produce_orders', p.runId);
    const orders = (await sys.client.listDatasets()).find((d) => d.uri === 'warehouse.orders');
    expect(orders).toMatchObject({
      producers: ['produce_orders'],
      consumers: ['on_orders'],
      lastUpdate: { uri: 'warehouse.orders', dagId: 'produce_orders', runId: p.runId, taskId: 'write' },
    });
    expect(orders!.lastUpdateAt).toBeGreaterThanOrEqual(before);
    expect(orders!.updates).toBeGreaterThanOrEqual(4);
    const xy = (await sys.client.listDatasets()).filter((d) => d.consumers.includes('on_x_and_y')).map((d) => d.uri);
    expect(xy).toEqual(['s3://bucket/x.csv', 'warehouse.y']);
    const events = await sys.client.listDatasetEvents({ uri: 'warehouse.orders', limit: 1 });
    expect(events).toEqual([orders!.lastUpdate]);
  });

  it('shows the same datasets through `aloft datasets list` (Redis and --server) and GET /api/v1/datasets', async () => {
    const dash = await sys.spawn('dashboard', 'dashboard');
    const base = `http://127.0.0.1:${dash.port}`;
    await waitFor('the dashboard', async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.ok);
    const session = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'admin', password: ADMIN_PASSWORD, next: '/' }),
    });
    expect(session.status).toBe(303);
    const created = await fetch(`${base}/api/v1/tokens`, {
      method: 'POST',
      headers: { origin: base, cookie: (session.headers.get('set-cookie') ?? '').split(';')[0]!, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'datasets-viewer', role: 'viewer' }),
    });
    const { token } = (await created.json()) as { token: string };
    const expected = await sys.client.listDatasets();
    expect(expected.length).toBeGreaterThanOrEqual(5);

    const http = new AloftHttpClient({ baseUrl: base, token });
    expect(await http.listDatasets()).toEqual(expected);
    const dags = await http.listDags();
    expect(dags.find((d) => d.id === 'on_x_and_y')).toMatchObject({ scheduleText: 'On datasets s3://bucket/x.csv, warehouse.y', nextRunAt: null });

    const cli = (...args: string[]) =>
      run(process.execPath, ['--conditions=aloft-source', '--import', 'tsx', join(ROOT, 'packages', 'cli', 'src', 'main.ts'), ...args], {
        cwd: ROOT,
        env: sys.env(),
      });
    expect(JSON.parse((await cli('datasets', 'list', '--json')).stdout) as DatasetInfo[]).toEqual(expected);
    expect(JSON.parse((await cli('--server', base, '--token', token, 'datasets', 'list', '--json')).stdout) as DatasetInfo[]).toEqual(expected);
    const text = (await cli('datasets', 'list')).stdout;
    expect(text).toMatch(/^DATASET\s+LAST UPDATE\s+UPDATES\s+PRODUCERS\s+CONSUMERS/);
    expect(text).toMatch(/warehouse\.never\s+never\s+0\s+produce_fail/);
    expect(text).toMatch(/warehouse\.orders\s+\S+ by produce_orders\/manual__\S+\/write\s+\d+\s+produce_orders\s+on_orders/);

    // The dashboard's Datasets page: producers, consumers, the last update.
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await signIn(page, base, '/datasets', ADMIN_PASSWORD);
      const row = page.locator('table.datasets tr[data-dataset="warehouse.orders"]');
      await row.waitFor();
      const cells = await row.locator('td').allTextContents();
      expect(cells.slice(0, 3)).toEqual(['warehouse.orders', 'produce_orders', 'on_orders']);
      expect(cells[3]).toContain('by produce_orders.write');
      expect(await page.locator('table.datasets tbody tr').count()).toBe(expected.length);
    } finally {
      await browser.close();
    }
  });
});

describe('triggerDagRun (real scheduler and worker)', () => {
  it('starts the target with a templated conf; its output is the run id', async () => {
    const parent = await sys.client.trigger('trigger_child');
    await succeeded('trigger_child', parent.runId);
    const childRunId = (await sys.client.getOutput('trigger_child', parent.runId, 'kick')) as string;
    expect(childRunId).toBe(`triggered__trigger_child.kick__${parent.runId}__try1`);
    const child = await succeeded('child', childRunId);
    const ds = new Date(parent.logicalDate).toISOString().slice(0, 10);
    expect(child.runType).toBe('manual');
    expect(child.triggeredBy).toBe(`trigger_child/${parent.runId}/kick/1`);
    expect(child.conf).toEqual({ day: ds, from: `trigger_child/${parent.runId}`, nested: { task: 'kick', n: 3 } });
    const log = (await sys.client.getLog('child', childRunId, 'work')).map((l) => l.line);
    expect(log).toContain(`day=${ds}`);
    const after = (await sys.client.getLog('trigger_child', parent.runId, 'after')).map((l) => l.line);
    expect(after).toContain(`started ${childRunId}`);
  });

  it('waitForCompletion succeeds when the target run succeeds', async () => {
    const parent = await sys.client.trigger('trigger_wait_ok');
    await succeeded('trigger_wait_ok', parent.runId);
    const childRunId = (await sys.client.getOutput('trigger_wait_ok', parent.runId, 'kick')) as string;
    const child = await sys.client.getRun('child', childRunId);
    expect(child.state).toBe('success');
    // The parent task ended after the child run did.
    const ti = await sys.client.getTaskInstance('trigger_wait_ok', parent.runId, 'kick');
    expect(ti.endDate).toBeGreaterThanOrEqual(child.endDate!);
  });

  it('waitForCompletion fails when the target run fails, naming the run', async () => {
    const parent = await sys.client.trigger('trigger_wait_fail');
    expect((await sys.client.waitForRun('trigger_wait_fail', parent.runId, { timeoutMs: 30_000 })).state).toBe('failed');
    const ti = await sys.client.getTaskInstance('trigger_wait_fail', parent.runId, 'kick');
    const childRunId = `triggered__trigger_wait_fail.kick__${parent.runId}__try1`;
    expect(ti.state).toBe('failed');
    expect(ti.reason).toBe(`the triggered run "${childRunId}" of DAG "child" ended failed`);
    expect((await sys.client.getRun('child', childRunId)).state).toBe('failed');
  });

  it('fails with a clear reason when the target DAG does not exist', async () => {
    const parent = await sys.client.trigger('trigger_unknown');
    expect((await sys.client.waitForRun('trigger_unknown', parent.runId, { timeoutMs: 30_000 })).state).toBe('failed');
    const ti = await sys.client.getTaskInstance('trigger_unknown', parent.runId, 'kick');
    expect(ti.reason).toMatch(/^cannot trigger DAG "no_such_dag": no such DAG is stored/);
  });
});
