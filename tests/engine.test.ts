import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskInstance } from '@aloft/core';
import { ROOT, System, waitFor } from './support/system.js';

const run = promisify(execFile);
const TMP = join(ROOT, '.test-results', `engine-${process.pid}`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('engine semantics end to end (real redis-server, scheduler and two workers)', () => {
  const sys = new System({
    dagsFolder: join(ROOT, 'tests', 'fixtures', 'engine-dags'),
    env: { ALOFT_LOG_MAX_LINES: '50', ALOFT_KILL_GRACE_MS: '500', ALOFT_FN_RUNNERS_WARM: '1' },
  });

  const states = async (dagId: string, runId: string): Promise<Record<string, TaskInstance>> =>
    Object.fromEntries((await sys.client.listTaskInstances(dagId, runId)).map((t) => [t.taskId, t]));

  const triggerAndWait = async (dagId: string, conf: Record<string, unknown> = {}) => {
    const r = await sys.client.trigger(dagId, { conf });
    const done = await sys.client.waitForRun(dagId, r.runId, { timeoutMs: 60_000, pollMs: 100 });
    return { run: done, tis: await states(dagId, r.runId) };
  };

  beforeAll(async () => {
    mkdirSync(TMP, { recursive: true });
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker-1');
    await sys.spawn('worker', 'worker-2');
    await waitFor('fixture DAGs stored', async () => (await sys.client.listDags()).length >= 10, 60_000);
  });
  afterAll(async () => {
    await sys.stop();
    rmSync(TMP, { recursive: true, force: true });
  });

  it('applies every trigger rule to success, failure and skip, as Airflow does', async () => {
    const { run: r, tis } = await triggerAndWait('rules');
    const got = Object.fromEntries(Object.values(tis).map((t) => [t.taskId, t.state]));
    expect(got).toEqual({
      ok: 'success',
      bad: 'failed',
      skip: 'skipped',
      skip7: 'skipped',
      fn_skip: 'skipped',
      all_success_ok: 'success',
      all_success_bad: 'upstream_failed',
      all_success_skip: 'skipped',
      all_failed_bad: 'success',
      all_failed_mixed: 'skipped',
      all_done_mixed: 'success',
      one_success_mixed: 'success',
      one_success_none: 'upstream_failed',
      one_failed_mixed: 'success',
      one_failed_none: 'skipped',
      none_failed_ok_skip: 'success',
      none_failed_bad: 'upstream_failed',
      none_skipped_ok_bad: 'success',
      none_skipped_skip: 'skipped',
      always_bad: 'success',
      after_upstream_failed: 'upstream_failed',
      after_skipped: 'skipped',
    });
    expect(tis['bad']?.exitCode).toBe(3);
    expect(tis['skip']?.exitCode).toBe(99);
    expect(tis['fn_skip']?.reason).toBe('nothing to do today');
    // Leaves that failed or could not run make the run failed.
    expect(r.state).toBe('failed');
  });

  it('follows only the branch that the function picks, and a false short-circuit skips everything below', async () => {
    const { run: r, tis } = await triggerAndWait('branching', { way: 'left' });
    expect(tis['pick']?.state).toBe('success');
    expect(tis['left']?.state).toBe('success');
    expect(tis['right']?.state).toBe('skipped');
    expect(tis['after_right']?.state).toBe('skipped');
    expect(tis['join']?.state).toBe('success');
    expect(await sys.client.getOutput('branching', r.runId, 'pick')).toEqual(['left']);
    expect(tis['gate']?.state).toBe('success');
    expect(tis['below']?.state).toBe('skipped');
    // Short-circuit skips all descendants, whatever their trigger rule (Airflow's default).
    expect(tis['deeper']?.state).toBe('skipped');
    expect(r.state).toBe('success');

    const right = await triggerAndWait('branching', { way: 'right' });
    expect(right.tis['left']?.state).toBe('skipped');
    expect(right.tis['right']?.state).toBe('success');
    expect(right.tis['after_right']?.state).toBe('success');
    expect(right.tis['join']?.state).toBe('success');
  });

  it('retries a failing task with exponential backoff until its tries run out', async () => {
    const { run: r, tis } = await triggerAndWait('retrying');
    expect(r.state).toBe('failed');
    expect(tis['flaky']?.state).toBe('failed');
    expect(tis['flaky']?.try).toBe(3);
    const starts: number[] = [];
    const ends: number[] = [];
    for (const t of [1, 2, 3]) {
      const log = await sys.client.getLog('retrying', r.runId, 'flaky', { try: t });
      expect(log.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual([`try ${t}`]);
      starts.push(log[0]!.at);
      ends.push(log.at(-1)!.at);
    }
    // retryDelay 1s doubling: at least 1 s before try 2 and 2 s before try 3. A loaded machine
    // starts both late, so the doubling is judged by the difference, not by upper bounds:
    // a constant delay would make the two waits equal.
    const waits = [starts[1]! - ends[0]!, starts[2]! - ends[1]!];
    expect(waits[0]).toBeGreaterThanOrEqual(900);
    expect(waits[1]).toBeGreaterThanOrEqual(1900);
    expect(waits[1]! - waits[0]!).toBeGreaterThan(500);
  });

  it('fails a function that throws NonRetryableError, or an error marked nonRetryable, on try 1 whatever its retries', async () => {
    const { run: r, tis } = await triggerAndWait('refusing');
    expect(r.state).toBe('failed');
    expect(tis['refuse']).toMatchObject({ state: 'failed', try: 1, reason: 'NonRetryableError: the input file is malformed' });
    expect(tis['marked']).toMatchObject({ state: 'failed', try: 1, reason: 'Error: the quota is refused for good' });
  });

  it('ends a command that outlives its execution timeout with its whole process group, and a blocking function too', async () => {
    const pidfile = join(TMP, 'sleepy.pid');
    const { run: r, tis } = await triggerAndWait('timeouts', { pidfile });
    expect(r.state).toBe('failed');
    expect(tis['sleepy']?.state).toBe('failed');
    expect(tis['sleepy']?.reason).toMatch(/execution timeout/);
    // Far below the 60 s sleep: the timeout ended it (not a duration a loaded machine must meet).
    expect(tis['sleepy']?.duration).toBeLessThan(30_000);
    const pid = Number(readFileSync(pidfile, 'utf8').trim());
    expect(pid).toBeGreaterThan(1);
    await waitFor('the background sleep to be gone', async () => !alive(pid), 5_000);
    expect(tis['busy_fn']?.state).toBe('failed');
    expect(tis['busy_fn']?.reason).toMatch(/execution timeout/);
    expect(tis['busy_fn']?.duration).toBeLessThan(30_000);
    expect(tis['exits']?.state).toBe('failed');
    expect(tis['exits']?.reason).toBe("the function's runner ended (exit code 3)");
    // What a function prints reaches its log before the task is reported; a partial last
    // line waits for its newline until the function ends.
    expect(tis['prints']?.state).toBe('success');
    const printed = await sys.client.getLog('timeouts', r.runId, 'prints');
    expect(printed.filter((l) => l.stream !== 'system').map((l) => `${l.stream}:${l.line}`)).toEqual([
      'stdout:from console.log',
      'stderr:to stderr',
      'stdout:partial line without newline',
    ]);
    // The workers lived through all of it.
    expect(sys.services.filter((s) => s.child.exitCode === null).map((s) => s.name)).toEqual(['scheduler', 'worker-1', 'worker-2']);
  });

  it('hands a command output to a function and a function output to a template; rejects oversized outputs; caps logs', async () => {
    const { run: r, tis } = await triggerAndWait('outputs');
    expect(tis['produce']?.state).toBe('success');
    expect(await sys.client.getOutput('outputs', r.runId, 'produce')).toEqual({ n: 21, unit: 'apples' });
    expect(await sys.client.getOutput('outputs', r.runId, 'double')).toEqual({ n: 42, unit: 'apples' });
    const ds = new Date(r.logicalDate).toISOString().slice(0, 10);
    const show = await sys.client.getLog('outputs', r.runId, 'show');
    expect(show.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual([`42 apples on ${ds}`]);
    const produceLog = await sys.client.getLog('outputs', r.runId, 'produce');
    expect(produceLog.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['computing', '::aloft-output::{"n": 21, "unit": "apples"}']);

    expect(tis['too_big']?.state).toBe('failed');
    expect(tis['too_big']?.reason).toMatch(/is \d+ bytes, over the limit of 65536/);
    expect(await sys.client.getOutput('outputs', r.runId, 'too_big')).toBeUndefined();

    const chatty = await sys.client.getLog('outputs', r.runId, 'chatty', { count: 1000 });
    expect(chatty).toHaveLength(50);
    expect(chatty.at(-1)?.line).toBe('exit code 0');
    expect(chatty.at(-2)?.line).toBe('line 300');
  });

  it('never runs more task instances of a DAG at once than maxActiveTasks', async () => {
    const { run: r, tis } = await triggerAndWait('limited');
    expect(r.state).toBe('success');
    const spans = Object.values(tis).map((t) => [t.startDate!, t.endDate!] as const);
    expect(spans).toHaveLength(6);
    let most = 0;
    for (const [s] of spans) most = Math.max(most, spans.filter(([s2, e2]) => s2 <= s && s < e2).length);
    expect(most).toBe(2);
  });

  it('never runs more runs of a DAG at once than maxActiveRuns; the others wait queued', async () => {
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await sys.client.trigger('one_at_a_time'));
    const queued = await sys.client.listRuns('one_at_a_time');
    expect(queued.filter((x) => x.state === 'queued').length).toBeGreaterThanOrEqual(2);
    const done = [];
    for (const x of runs) done.push(await sys.client.waitForRun('one_at_a_time', x.runId, { timeoutMs: 30_000, pollMs: 100 }));
    expect(done.map((x) => x.state)).toEqual(['success', 'success', 'success']);
    const spans = done.map((x) => [x.startDate!, x.endDate!] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
  });

  it('holds a dependsOnPast task until the same task of the previous run succeeded', async () => {
    const first = await sys.client.trigger('past', { conf: { fail: true }, logicalDate: new Date('2026-01-01T00:00:00Z') });
    expect((await sys.client.waitForRun('past', first.runId, { timeoutMs: 30_000 })).state).toBe('failed');
    const second = await sys.client.trigger('past', { logicalDate: new Date('2026-01-02T00:00:00Z') });
    await new Promise((r) => setTimeout(r, 1500));
    expect((await sys.client.getTaskInstance('past', second.runId, 'step')).state).toBe('none');
    // Marking the past instance success releases the next run's instance.
    await sys.client.markTask('past', first.runId, 'step', 'success');
    const done = await sys.client.waitForRun('past', second.runId, { timeoutMs: 30_000 });
    expect(done.state).toBe('success');
    expect((await sys.client.getTaskInstance('past', second.runId, 'step')).try).toBe(1);
  });

  it('cancels a running run, ending its process, and clears a failed task to run it again', async () => {
    const r = await sys.client.trigger('long', { conf: { seconds: 30 } });
    await waitFor('the long task to start', async () => (await sys.client.getTaskInstance('long', r.runId, 'wait')).state === 'running');
    await sys.client.cancelRun('long', r.runId);
    const cancelled = await sys.client.waitForRun('long', r.runId, { timeoutMs: 15_000, pollMs: 100 });
    expect(cancelled.state).toBe('failed');
    const ti = await sys.client.getTaskInstance('long', r.runId, 'wait');
    expect(ti.state).toBe('failed');
    expect(ti.reason).toMatch(/cancel/);
    const log = await waitFor('the cancel to reach the log', async () => {
      const l = await sys.client.getLog('long', r.runId, 'wait');
      return l.some((x) => /stopping this try/.test(x.line)) && l;
    });
    expect(log.map((l) => l.line)).not.toContain('done');

    // Clearing it runs the task again, as try 2 (which the command does not make wait).
    await sys.client.clearTask('long', r.runId, 'wait');
    const again = await sys.client.waitForRun('long', r.runId, { timeoutMs: 60_000, pollMs: 100 });
    expect(again.state).toBe('success');
    const cleared = await sys.client.getTaskInstance('long', r.runId, 'wait');
    expect(cleared.state).toBe('success');
    expect(cleared.try).toBe(2);
  });

  it('runs an ad-hoc command without a DAG file, with retries', async () => {
    const marker = join(TMP, 'adhoc-once');
    const r = await sys.client.submitCommand({
      command: `if [ -e ${marker} ]; then echo second try; else touch ${marker}; echo first try; exit 1; fi`,
      retries: 1,
      retryDelayMs: 200,
    });
    const done = await sys.client.waitForRun(r.dagId, r.runId, { timeoutMs: 30_000, pollMs: 100 });
    expect(done.state).toBe('success');
    const ti = await sys.client.getTaskInstance(r.dagId, r.runId, 'command');
    expect(ti.try).toBe(2);
    const log = await sys.client.getLog(r.dagId, r.runId, 'command');
    expect(log.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['second try']);
    expect(existsSync(marker)).toBe(true);
  });

  it('answers the CLI with --json for scripts', async () => {
    const cli = (...args: string[]) =>
      run(process.execPath, ['--conditions=aloft-source', '--import', 'tsx', join(ROOT, 'packages', 'cli', 'src', 'main.ts'), ...args], {
        cwd: ROOT,
        env: sys.env(),
      });
    const { stdout } = await cli('dags', 'list', '--json');
    const dags = JSON.parse(stdout) as { id: string }[];
    expect(dags.map((d) => d.id)).toEqual(expect.arrayContaining(['rules', 'branching', 'outputs', 'past']));
    const trig = JSON.parse((await cli('trigger', 'branching', '--conf', '{"way":"right"}', '--wait', '--json')).stdout) as {
      run: { runId: string; state: string };
    };
    expect(trig.run.state).toBe('success');
    const tis = JSON.parse((await cli('tasks', 'branching', trig.run.runId, '--json')).stdout) as { taskId: string; state: string }[];
    expect(tis.find((t) => t.taskId === 'right')?.state).toBe('success');
    expect(tis.find((t) => t.taskId === 'left')?.state).toBe('skipped');
    // A failed run exits 1 with --wait, and still prints its JSON.
    const failed = await cli('trigger', 'outputs', '--wait', '--json').then(
      () => undefined,
      (err: { code: number; stdout: string }) => err,
    );
    expect(failed?.code).toBe(1);
    const out = JSON.parse(failed!.stdout) as { run: { state: string }; tasks: { taskId: string; state: string }[] };
    expect(out.run.state).toBe('failed');
    expect(out.tasks.find((t) => t.taskId === 'too_big')?.state).toBe('failed');
  });
});

describe('worker shutdown (SIGTERM)', () => {
  const sys = new System({
    dagsFolder: join(ROOT, 'tests', 'fixtures', 'engine-dags'),
    env: { ALOFT_KILL_GRACE_MS: '500', ALOFT_FN_RUNNERS_WARM: '0' },
  });
  beforeAll(async () => {
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
  });
  afterAll(() => sys.stop());

  it('finishes a short task within the grace period, and hands a long one back to another worker', async () => {
    const first = await sys.spawn('worker', 'leaving', { ALOFT_WORKER_GRACE_MS: '1500' });
    await waitFor('DAGs stored', async () => (await sys.client.listDags()).length >= 10, 60_000);
    const short = await sys.client.trigger('long', { conf: { seconds: 0.5 } });
    const long = await sys.client.trigger('long', { conf: { seconds: 4 } });
    await waitFor('both tasks running on the first worker', async () => {
      const a = await sys.client.getTaskInstance('long', short.runId, 'wait');
      const b = await sys.client.getTaskInstance('long', long.runId, 'wait');
      return a.state === 'running' && b.state === 'running';
    });
    const code = await first.kill('SIGTERM');
    expect(code).toBe(0);
    const s = await sys.client.getTaskInstance('long', short.runId, 'wait');
    expect(s.state).toBe('success');
    expect(s.worker).toBe('leaving');
    // The long one went back to the queue, same try, for the next worker.
    const handed = await sys.client.getTaskInstance('long', long.runId, 'wait');
    expect(handed.state).toBe('queued');
    expect(handed.try).toBe(1);

    await sys.spawn('worker', 'staying');
    const done = await sys.client.waitForRun('long', long.runId, { timeoutMs: 90_000, pollMs: 100 });
    expect(done.state).toBe('success');
    const ti = await sys.client.getTaskInstance('long', long.runId, 'wait');
    expect(ti.worker).toBe('staying');
    expect(ti.try).toBe(1);
    // One try, two workers: the log tells the whole story.
    const log = await sys.client.getLog('long', long.runId, 'wait');
    expect(log.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['started', 'started', 'done']);
    expect(log.some((l) => l.stream === 'system' && /worker shutting down/.test(l.line))).toBe(true);
  });
});
