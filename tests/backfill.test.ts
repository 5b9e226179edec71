import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, System, waitFor } from './support/system.js';

const exec = promisify(execFile);
const DAY = 86_400_000;
const at = (d: string) => Date.parse(`${d}T00:00:00Z`);

describe('backfill and clear over a range (CLI and API, real scheduler and worker)', () => {
  const sys = new System({ dagsFolder: join(ROOT, 'tests', 'fixtures', 'backfill-dags') });
  const cli = async (...args: string[]) => {
    const r = await exec(
      process.execPath,
      ['--conditions=aloft-source', '--import', 'tsx', join(ROOT, 'packages', 'cli', 'src', 'main.ts'), '--json', ...args],
      { cwd: ROOT, env: sys.env() },
    ).catch((e: { stdout: string; stderr: string; code: number }) => e);
    return { out: r.stdout ? JSON.parse(r.stdout) : undefined, err: r.stderr, code: (r as { code?: number }).code ?? 0 };
  };
  /** Runs of `daily` in January 2026 (the scheduler also makes today's), by logical date. */
  const january = async () =>
    (await sys.client.listRuns('daily', { limit: 100 })).filter((r) => r.logicalDate < at('2026-02-01')).sort((a, b) => a.logicalDate - b.logicalDate);

  beforeAll(async () => {
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker-1', { ALOFT_WORKER_CONCURRENCY: '8' });
    await waitFor('DAGs stored', async () => (await sys.client.listDags()).length === 2, 60_000);
  });
  afterAll(() => sys.stop());

  it('creates one run per logical date in the range, at most maxActiveRuns at once, and skips existing ones', async () => {
    const made = await cli('backfill', 'daily', '--from', '2026-01-01', '--to', '2026-01-05');
    expect(made.code).toBe(0);
    expect(made.out.created).toEqual(['2026-01-01', '2026-01-02', '2026-01-03', '2026-01-04', '2026-01-05'].map((d) => `scheduled__${d}T00:00:00.000Z`));
    let most = 0;
    const runs = await waitFor(
      'five finished runs',
      async () => {
        const rs = await january();
        most = Math.max(most, rs.filter((r) => r.state === 'running').length);
        return rs.length === 5 && rs.every((r) => r.state === 'success' || r.state === 'failed') ? rs : undefined;
      },
      60_000,
    );
    expect(most).toBeLessThanOrEqual(2);
    expect(runs.map((r) => [new Date(r.logicalDate).toISOString().slice(0, 10), r.runType, r.state])).toEqual([
      ['2026-01-01', 'backfill', 'success'],
      ['2026-01-02', 'backfill', 'success'],
      ['2026-01-03', 'backfill', 'failed'],
      ['2026-01-04', 'backfill', 'success'],
      ['2026-01-05', 'backfill', 'success'],
    ]);
    expect(runs.map((r) => r.dataIntervalEnd - r.dataIntervalStart)).toEqual([DAY, DAY, DAY, DAY, DAY]);

    const again = await cli('backfill', 'daily', '--from', '2026-01-01', '--to', '2026-01-06');
    expect(again.out.skipped).toHaveLength(5);
    expect(again.out.created).toEqual(['scheduled__2026-01-06T00:00:00.000Z']);
    await waitFor('the 6th run', async () => (await sys.client.getRun('daily', 'scheduled__2026-01-06T00:00:00.000Z')).state === 'success', 30_000);
  });

  it('clears only failed task instances of a range, or tasks matching a regex, and re-runs existing runs on request', async () => {
    const failed = await cli('clear', 'daily', '--from', '2026-01-01', '--to', '2026-01-06', '--failed-only');
    expect(failed.out).toEqual({ runs: 1, cleared: 2 });
    const third = 'scheduled__2026-01-03T00:00:00.000Z';
    await waitFor(
      'the 3rd run to fail again',
      async () => {
        const ti = await sys.client.getTaskInstance('daily', third, 'work');
        return ti.try === 2 && ti.state === 'failed';
      },
      30_000,
    );
    expect((await sys.client.getTaskInstance('daily', 'scheduled__2026-01-02T00:00:00.000Z', 'work')).try).toBe(1);

    const byRegex = await cli('clear', 'daily', '--from', '2026-01-04', '--to', '2026-01-05', '--task', '^aft');
    expect(byRegex.out).toEqual({ runs: 2, cleared: 2 });
    const rerun = await cli('backfill', 'daily', '--from', '2026-01-05', '--to', '2026-01-05', '--rerun');
    expect(rerun.out).toEqual({ created: [], skipped: [], rerun: ['scheduled__2026-01-05T00:00:00.000Z'] });
    await waitFor(
      'the 5th run again',
      async () => {
        const ti = await sys.client.getTaskInstance('daily', 'scheduled__2026-01-05T00:00:00.000Z', 'work');
        return ti.try === 2 && ti.state === 'success';
      },
      30_000,
    );
    expect(await january()).toHaveLength(6);
  });

  it('says what is wrong: a manual-only DAG, a bad date, a bad regex, both a run and a range', async () => {
    expect((await cli('backfill', 'manual_only', '--from', '2026-01-01', '--to', '2026-01-02')).err).toContain('has no schedule');
    const bad = await cli('backfill', 'daily', '--from', 'yesterday', '--to', '2026-01-02');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--from must be a date such as 2026-01-01');
    expect((await cli('clear', 'daily', '--from', '2026-01-01', '--to', '2026-01-02', '--task', '(')).err).toContain(
      '--task is not a valid regular expression',
    );
    expect((await cli('clear', 'daily', 'some-run', '--from', '2026-01-01', '--to', '2026-01-02')).err).toContain('not both');
    expect((await cli('backfill', 'daily', '--from', '2026-01-09', '--to', '2026-01-02')).err).toContain('--from must not be after --to');
  });
});
