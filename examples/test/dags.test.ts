/**
 * The example DAGs' own tests, as a team keeps them next to its DAGs and runs them in CI:
 * each test runs one whole DAG run (or one task) in-process with `testDag`/`testTask`, which
 * start a throw-away redis-server and the real scheduler and worker, and stop them after.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testDag, testTask, UnknownTaskError } from '@aloft/testing';

const dags = (file: string) => new URL(`../dags/${file}`, import.meta.url).pathname;
const output = (r: { tasks: { taskId: string; output?: unknown }[] }, task: string) => r.tasks.find((t) => t.taskId === task)?.output;

describe('example DAGs under testDag', () => {
  it('etl_fan_out: four transforms feed load, and the report is templated with the run date', async () => {
    const r = await testDag(dags('etl_fan_out.ts'), { date: '2026-01-01T05:00:00Z', conf: { currency: 'USD' } });
    expect(r.state).toBe('success');
    expect(r.tasks.map((t) => `${t.taskId}=${t.state}`).sort()).toEqual(
      ['extract', 'load', 'report', 'transform_east', 'transform_north', 'transform_south', 'transform_west'].map((t) => `${t}=success`),
    );
    expect(output(r, 'load')).toEqual({ regions: 4, revenue: 1255, currency: 'USD' });
    expect(r.tasks.find((t) => t.taskId === 'report')?.log).toContain('report for 2026-01-01: revenue 1255 USD');
  });

  it('partitions_mapped: one mapped copy per partition the conf asks for', async () => {
    const r = await testDag(dags('partitions_mapped.ts'), { date: '2026-03-01', conf: { partitions: 2 } });
    expect(r.state).toBe('success');
    expect(r.tasks.filter((t) => t.taskId === 'per_partition.fetch').map((t) => t.mapIndex)).toEqual([0, 1]);
    expect(output(r, 'report')).toEqual({ partitions: 2, rows: 340 });
  });

  it('kubernetes_sample: the failing task fails after its retry, so the run fails', async () => {
    const r = await testDag(dags('kubernetes_sample.ts'));
    expect(r.state).toBe('failed');
    const failing = r.tasks.find((t) => t.taskId === 'failing');
    expect(failing).toMatchObject({ state: 'failed', try: 2 });
    expect(r.tasks.find((t) => t.taskId === 'passing')?.log).toContain('hello world');
  });

  describe('warehouse_report, with its connections and variables in the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aloft-example-secrets-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('reads each one and masks every password', async () => {
      for (const sub of ['connections', 'variables']) mkdirSync(join(dir, sub));
      writeFileSync(join(dir, 'connections', 'reporting_api'), JSON.stringify({ type: 'http', host: 'reports.example.internal', password: 'rpt-test-1' }));
      writeFileSync(join(dir, 'variables', 'report_title'), 'Daily sales report\n');
      const r = await testDag(dags('warehouse_report.ts'), {
        env: {
          ...process.env,
          ALOFT_SECRETS_DIR: dir,
          ALOFT_CONN_WAREHOUSE: 'postgres://report:wh-test-2@warehouse.example.internal:5432/sales',
          ALOFT_VAR_REGION: 'eu-west-1',
          ALOFT_CONN_NOTIFY: JSON.stringify({ type: 'smtp', host: 'mail.example.internal', port: 587, login: 'alerts', password: 'ntf-test-3' }),
          ALOFT_VAR_ALERT_THRESHOLD: '0.05',
        },
      });
      expect(r.state).toBe('success');
      expect(output(r, 'extract')).toEqual({ region: 'eu-west-1', database: 'sales', rows: 3, total: 1234.5 });
      const logs = r.tasks.flatMap((t) => t.log).join('\n');
      expect(logs).toContain('Daily sales report for eu-west-1 to reports.example.internal');
      for (const secret of ['rpt-test-1', 'wh-test-2', 'ntf-test-3']) expect(logs).not.toContain(secret);
    });
  });
});

describe('one task under testTask', () => {
  it('etl_fan_out.load: sums the upstream outputs it is given; nothing else runs', async () => {
    const part = (revenue: number) => ({ revenue, orders: 1 });
    const r = await testTask(dags('etl_fan_out.ts'), 'load', {
      upstream: { transform_north: part(1), transform_south: part(2), transform_east: part(3), transform_west: part(4) },
    });
    expect(r.state).toBe('success');
    expect(r.tasks).toHaveLength(1);
    expect(r.tasks[0]).toMatchObject({ taskId: 'load', state: 'success', try: 1, output: { regions: 4, revenue: 10, currency: 'EUR' } });
  });

  it('names the DAG and its tasks when the task does not exist', async () => {
    await expect(testTask(dags('etl_fan_out.ts'), 'lod')).rejects.toThrow(UnknownTaskError);
    await expect(testTask(dags('etl_fan_out.ts'), 'lod')).rejects.toThrow(/DAG "etl_fan_out" has no task "lod" \(its tasks: extract, transform_north/);
  });
});
