import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aloftCli } from './support/cli.js';
import { ROOT, System, waitFor } from './support/system.js';

/**
 * What the CLI answers when a name is unknown or an answer is long: an unknown DAG, run,
 * task or try is named and exits 1; `dags errors` exits 1 when a file did not import; a
 * backfill's run ids are summarised (all of them with --json) and its progress is on stderr.
 */
describe('the CLI never leaves a user guessing (real scheduler, no worker)', () => {
  const sys = new System({ dagsFolder: join(ROOT, 'tests', 'fixtures', 'cli-dags') });
  const cli = (...args: string[]) => aloftCli(sys, ...args);

  beforeAll(async () => {
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    await waitFor(
      'the DAG and the import error stored',
      async () => (await sys.client.listDags()).length === 2 && (await sys.client.importErrors()).length === 1,
      60_000,
    );
  });
  afterAll(() => sys.stop());

  it('names an unknown DAG, run, task or try and exits 1', async () => {
    const runs = await cli('runs', 'list', 'nope');
    expect(runs).toMatchObject({ code: 1, out: '' });
    expect(runs.err).toContain('dag "nope" not found');

    const made = await sys.client.trigger('nightly', { runId: 'cli_known' });
    const run = made.runId;
    // A manual run of a daily DAG covers the last whole day before it was triggered.
    const midnight = Math.floor(made.logicalDate / 86_400_000) * 86_400_000;
    expect([made.dataIntervalStart, made.dataIntervalEnd]).toEqual([midnight - 86_400_000, midnight]);
    const tasks = await cli('tasks', 'nightly', 'no_such_run');
    expect(tasks.code).toBe(1);
    expect(tasks.err).toContain('run "nightly/no_such_run" not found');
    expect(await cli('tasks', 'nightly', run)).toMatchObject({ code: 0 });

    const task = await cli('logs', 'nightly', run, 'no_such_task');
    expect(task.code).toBe(1);
    expect(task.err).toContain('"nightly/cli_known/no_such_task" not found');
    const tryNo = await cli('logs', 'nightly', run, 'work', '--try', '7');
    expect(tryNo.code).toBe(1);
    expect(tryNo.err).toMatch(/task instance "nightly\/cli_known\/work" has no try 7: it (has not run yet|has had 1 try)/);
    expect((await cli('pause', 'nope')).code).toBe(1);
  });

  it('lists the task instances of a DAG named like a subcommand with `tasks list`', async () => {
    const { runId } = await sys.client.trigger('test', { runId: 'named_test' });
    const r = await cli('tasks', 'list', 'test', runId, '--json');
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as { taskId: string }[]).map((t) => t.taskId)).toEqual(['only']);
    expect((await cli('tasks', 'list', 'nope', runId)).code).toBe(1);
  });

  it('`dags errors` lists the file that did not import and exits 1', async () => {
    const r = await cli('dags', 'errors');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/broken\.ts:4: .*schedule/);
  });

  it("summarises a backfill's run ids, lists them all with --json, and shows progress on stderr", async () => {
    const r = await cli('backfill', 'nightly', '--from', '2026-01-01', '--to', '2026-03-31');
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      'created 90 run(s), skipped 0 existing, re-ran 0\n' +
        'created: scheduled__2026-01-01T00:00:00.000Z … scheduled__2026-03-31T00:00:00.000Z (90; --json lists every one)\n',
    );
    expect(r.err).toMatch(/(^|\n)90\/90 logical dates\n$/);

    const again = await cli('--json', 'backfill', 'nightly', '--from', '2026-03-29', '--to', '2026-04-01');
    expect(JSON.parse(again.out)).toEqual({
      created: ['scheduled__2026-04-01T00:00:00.000Z'],
      skipped: ['2026-03-29', '2026-03-30', '2026-03-31'].map((d) => `scheduled__${d}T00:00:00.000Z`),
      rerun: [],
    });
    expect(again.err).toBe('');
    const few = await cli('backfill', 'nightly', '--from', '2026-03-30', '--to', '2026-04-02');
    expect(few.out).toBe(
      'created 1 run(s), skipped 3 existing, re-ran 0\n' +
        'created: scheduled__2026-04-02T00:00:00.000Z\n' +
        `skipped: ${['2026-03-30', '2026-03-31', '2026-04-01'].map((d) => `scheduled__${d}T00:00:00.000Z`).join(', ')}\n`,
    );

    const cleared = await cli('clear', 'nightly', '--from', '2026-01-01', '--to', '2026-01-31');
    expect(cleared.code).toBe(0);
    expect(cleared.out).toBe('cleared 31 task instance(s) in 31 run(s)\n');
    expect(cleared.err).toMatch(/(^|\n)31\/31 runs\n$/);
  });
});
