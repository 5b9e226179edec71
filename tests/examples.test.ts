import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretCipher } from '@aloft/core';
import { ROOT, System, waitFor } from './support/system.js';

// warehouse_report's connections and variables, one of each from every backend, as up.mjs gives them.
const SECRETS = mkdtempSync(join(tmpdir(), 'aloft-example-secrets-'));
const KEYS = `k1:${Buffer.alloc(32, 3).toString('base64')}`;
const WAREHOUSE_PW = 'wh-example-8c1f';
const API_TOKEN = 'rpt-example-2b7d';
const NOTIFY_PW = 'ntf-example-5e9a';

describe('example DAGs end to end (real redis-server, scheduler and two workers)', () => {
  const sys = new System({
    dagsFolder: join(ROOT, 'examples', 'dags'),
    env: {
      ALOFT_SECRETS_DIR: SECRETS,
      ALOFT_SECRETS_KEYS: KEYS,
      ALOFT_CONN_WAREHOUSE: `postgres://report:${WAREHOUSE_PW}@warehouse.example.internal:5432/sales`,
      ALOFT_VAR_REGION: 'eu-west-1',
    },
  });

  beforeAll(async () => {
    for (const sub of ['connections', 'variables']) mkdirSync(join(SECRETS, sub));
    writeFileSync(join(SECRETS, 'connections', 'reporting_api'), JSON.stringify({ type: 'http', host: 'reports.example.internal', password: API_TOKEN }));
    writeFileSync(join(SECRETS, 'variables', 'report_title'), 'Daily sales report\n');
    await sys.start();
    const store = sys.client.secrets(SecretCipher.fromSetting(KEYS));
    await store.setConnection('notify', { type: 'smtp', host: 'mail.example.internal', port: 587, login: 'alerts', password: NOTIFY_PW, extra: {} }, 'test');
    await store.setVariable('alert_threshold', '0.05', {}, 'test');
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker-1');
    await sys.spawn('worker', 'worker-2');
    const all = ['etl_fan_out', 'grouped_pipeline', 'kubernetes_sample', 'kubernetes_sample_pod', 'partitions_mapped', 'pod_pipeline', 'warehouse_report'];
    await waitFor(
      'every example DAG stored',
      async () => {
        const ids = new Set((await sys.client.listDags()).map((d) => d.dag.id));
        return all.every((id) => ids.has(id));
      },
      60_000,
    );
  });
  afterAll(async () => {
    await sys.stop();
    rmSync(SECRETS, { recursive: true, force: true });
  });

  it('warehouse_report: a connection and a variable from each backend, every password masked', async () => {
    const run = await sys.client.trigger('warehouse_report');
    const done = await sys.client.waitForRun('warehouse_report', run.runId, { timeoutMs: 60_000 });
    expect(done.state).toBe('success');
    const log = async (task: string) => (await sys.client.getLog('warehouse_report', run.runId, task)).filter((l) => l.stream !== 'system').map((l) => l.line);
    expect(await log('extract')).toEqual([
      '[info] reading eu-west-1 sales from warehouse.example.internal (postgres://report:***@warehouse.example.internal:5432/sales)',
    ]);
    expect(await log('check')).toEqual(['[info] alert threshold 0.05; alerts would go to mail.example.internal as alerts']);
    expect(await log('publish')).toEqual(['Daily sales report for eu-west-1 to reports.example.internal', 'token set: yes, printed: ***']);
    expect(await sys.client.getOutput('warehouse_report', run.runId, 'extract')).toEqual({ region: 'eu-west-1', database: 'sales', rows: 3, total: 1234.5 });
    const all = (await Promise.all(['extract', 'check', 'publish'].map(log))).flat().join('\n');
    for (const secret of [WAREHOUSE_PW, API_TOKEN, NOTIFY_PW]) expect(all).not.toContain(secret);
  });

  it('kubernetes_sample: run_this_first, then passing succeeds and failing fails after one retry', async () => {
    const run = await sys.client.trigger('kubernetes_sample');
    const done = await sys.client.waitForRun('kubernetes_sample', run.runId, { timeoutMs: 60_000 });
    expect(done.state).toBe('failed');
    const tis = Object.fromEntries((await sys.client.listTaskInstances('kubernetes_sample', run.runId)).map((t) => [t.taskId, t]));
    expect(tis['run_this_first']?.state).toBe('success');
    expect(tis['passing']?.state).toBe('success');
    expect(tis['passing']?.exitCode).toBe(0);
    expect(tis['failing']?.state).toBe('failed');
    expect(tis['failing']?.try).toBe(2);
    expect(tis['failing']?.reason).toBe('command not found: python-not-installed');

    const passingLog = await sys.client.getLog('kubernetes_sample', run.runId, 'passing');
    expect(passingLog.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['hello world']);
    expect(passingLog.at(-1)?.line).toBe('exit code 0');
    for (const t of [1, 2]) {
      const log = await sys.client.getLog('kubernetes_sample', run.runId, 'failing', { try: t });
      expect(log.map((l) => l.line)).toContain('command not found: python-not-installed');
      expect(log[0]?.line).toContain(`try ${t}`);
    }
  });

  it('grouped_pipeline: task groups run as wholes, outputs cross group borders, nested ids', async () => {
    const rec = await sys.client.getDag('grouped_pipeline');
    expect(rec.dag.groups?.map((g) => g.id)).toEqual(['ingest', 'publish', 'publish.report']);
    const run = await sys.client.trigger('grouped_pipeline');
    const done = await sys.client.waitForRun('grouped_pipeline', run.runId, { timeoutMs: 60_000 });
    expect(done.state).toBe('success');
    const tis = (await sys.client.listTaskInstances('grouped_pipeline', run.runId)).map((t) => `${t.taskId}:${t.state}`).sort();
    expect(tis).toEqual([
      'check:success',
      'ingest.orders:success',
      'ingest.refunds:success',
      'publish.report.render:success',
      'publish.report.send:success',
      'publish.table:success',
      'start:success',
    ]);
    expect(await sys.client.getOutput('grouped_pipeline', run.runId, 'check')).toBe(230);
    const table = await sys.client.getLog('grouped_pipeline', run.runId, 'publish.table');
    expect(table.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual([`net=230 for ${new Date(done.logicalDate).toISOString().slice(0, 10)}`]);
    const send = await sys.client.getTaskInstance('grouped_pipeline', run.runId, 'publish.report.send');
    const render = await sys.client.getTaskInstance('grouped_pipeline', run.runId, 'publish.report.render');
    expect(send.startDate!).toBeGreaterThanOrEqual(render.endDate!);
  });

  it('etl_fan_out: outputs flow from extract through four transforms into load and a templated report', async () => {
    const run = await sys.client.trigger('etl_fan_out', { conf: { currency: 'USD' } });
    const done = await sys.client.waitForRun('etl_fan_out', run.runId, { timeoutMs: 60_000 });
    expect(done.state).toBe('success');
    const tis = await sys.client.listTaskInstances('etl_fan_out', run.runId);
    expect(tis.map((t) => `${t.taskId}=${t.state}`).sort()).toEqual(
      ['extract', 'load', 'report', 'transform_east', 'transform_north', 'transform_south', 'transform_west'].map((t) => `${t}=success`),
    );
    // Both workers took part or one did; either way every task ran exactly once.
    expect(tis.every((t) => t.try === 1)).toBe(true);
    expect(await sys.client.getOutput('etl_fan_out', run.runId, 'transform_south')).toEqual({ region: 'south', revenue: 251, orders: 20 });
    expect(await sys.client.getOutput('etl_fan_out', run.runId, 'load')).toEqual({ regions: 4, revenue: 1255, currency: 'USD' });
    const report = await sys.client.getLog('etl_fan_out', run.runId, 'report');
    const ds = new Date(run.logicalDate).toISOString().slice(0, 10);
    expect(report.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual([`report for ${ds}: revenue 1255 USD`]);
    const extractLog = await sys.client.getLog('etl_fan_out', run.runId, 'extract');
    expect(extractLog.map((l) => l.line)).toContain(`[info] extracting 4 regions for ${ds}`);
  });

  it('partitions_mapped: one copy of the group per listed partition, reported together', async () => {
    const run = await sys.client.trigger('partitions_mapped', { conf: { partitions: 3 } });
    const done = await sys.client.waitForRun('partitions_mapped', run.runId, { timeoutMs: 60_000 });
    expect(done.state).toBe('success');
    const tis = await sys.client.listTaskInstances('partitions_mapped', run.runId);
    const whole = Object.fromEntries(tis.filter((t) => t.mapIndex === -1).map((t) => [t.taskId, t]));
    expect(whole['per_partition.fetch']).toMatchObject({ state: 'success', mapped: { n: 3, states: { success: 3 } } });
    expect(whole['per_partition.count']).toMatchObject({ state: 'success', mapped: { n: 3 } });
    const ds = new Date(run.logicalDate).toISOString().slice(0, 10);
    const log = await sys.client.getLog('partitions_mapped', run.runId, 'per_partition.fetch', { mapIndex: 2 });
    expect(log.filter((l) => l.stream === 'stdout').map((l) => l.line)).toContain(`fetching ${ds}/part-2 (copy 2)`);
    // Each partition name is 17 characters: 170 rows each.
    expect(await sys.client.getOutput('partitions_mapped', run.runId, 'report')).toEqual({ partitions: 3, rows: 510 });
  });

  it('creates the scheduled run of the latest interval for each example DAG', async () => {
    const runs = await waitFor('scheduled runs', async () => {
      const k = (await sys.client.listRuns('kubernetes_sample')).filter((r) => r.runType === 'scheduled');
      const e = (await sys.client.listRuns('etl_fan_out')).filter((r) => r.runType === 'scheduled');
      return k.length && e.length ? { k, e } : undefined;
    });
    expect(runs.k).toHaveLength(1);
    const tenMin = 600_000;
    const expectedStart = Math.floor(Date.now() / tenMin) * tenMin - tenMin;
    expect(runs.k[0]!.logicalDate).toBe(expectedStart);
    expect(runs.k[0]!.runId).toBe(`scheduled__${new Date(expectedStart).toISOString()}`);
  });
});
