import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ROOT, System, waitFor } from './support/system.js';

function dagFolder(name: string): string {
  const dir = join(ROOT, '.test-results', `dags-${name}-${Math.random().toString(36).slice(2, 7)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

const systems: System[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.stop()));
});
const folders: string[] = [];
afterAll(() => {
  for (const f of folders) rmSync(f, { recursive: true, force: true });
});

describe('a worker killed with kill -9 mid-task', () => {
  it('loses nothing: another worker takes the try over, ends what is left of the first, and the run finishes', async () => {
    const dags = dagFolder('kill');
    folders.push(dags);
    const events = join(dags, 'events');
    // Each task records its start (and whether an earlier process of the same task was still
    // alive), sleeps, and records its end.
    const step = (name: string, seconds: number) =>
      `for p in $(cat ${events}.${name}.pids 2>/dev/null); do kill -0 $p 2>/dev/null && echo "${name} overlap" >> ${events}; done; ` +
      `echo $$ >> ${events}.${name}.pids; echo "${name} start" >> ${events}; sleep ${seconds}; echo "${name} end" >> ${events}`;
    writeFileSync(
      join(dags, 'chain.ts'),
      `import { dag } from '@aloft/core';
const d = dag({ id: 'chain' });
const a = d.command({ id: 'a', command: ${JSON.stringify(step('a', 0.2))} });
const b = d.command({ id: 'b', command: ${JSON.stringify(step('b', 4))} });
const c = d.command({ id: 'c', command: ${JSON.stringify(step('c', 0.2))} });
a.then(b).then(c);
`,
    );
    const sys = await new System({ dagsFolder: dags, env: { ALOFT_LOCK_MS: '2000' } }).start();
    systems.push(sys);
    await sys.spawn('scheduler', 'scheduler');
    const w1 = await sys.spawn('worker', 'worker-1', { ALOFT_WORKER_CONCURRENCY: '1' });
    await waitFor('DAG stored', async () => (await sys.client.listDags()).length === 1);
    const run = await sys.client.trigger('chain');
    await waitFor('b running on worker-1', async () => {
      const ti = await sys.client.getTaskInstance('chain', run.runId, 'b');
      return ti.state === 'running' && existsSync(`${events}.b.pids`);
    });
    await w1.kill('SIGKILL');
    await sys.spawn('worker', 'worker-2', { ALOFT_WORKER_CONCURRENCY: '1' });
    const done = await sys.client.waitForRun('chain', run.runId, { timeoutMs: 60_000 });
    expect(done.state).toBe('success');

    const lines = readFileSync(events, 'utf8').trim().split('\n');
    expect(lines).not.toContain('b overlap');
    expect(lines.filter((l) => l === 'b end')).toHaveLength(1);
    expect(lines.filter((l) => l === 'b start')).toHaveLength(2);
    expect(lines.filter((l) => l === 'a end')).toHaveLength(1);
    expect(lines.filter((l) => l === 'c end')).toHaveLength(1);
    // c started only after b's single completion.
    expect(lines.indexOf('c start')).toBeGreaterThan(lines.indexOf('b end'));
    const b = await sys.client.getTaskInstance('chain', run.runId, 'b');
    expect(b.worker).toBe('worker-2');
    expect(b.try).toBe(1);
    const log = await sys.client.getLog('chain', run.runId, 'b');
    expect(log.some((l) => l.line.includes('worker-1 stopped answering; worker-2 takes this try over'))).toBe(true);
  });
});

describe('two schedulers at once', () => {
  it('create each scheduled run once and enqueue each task instance once', async () => {
    const dags = dagFolder('ha');
    folders.push(dags);
    const ran = join(dags, 'ran');
    const start = new Date(Date.now() - 20_000).toISOString();
    writeFileSync(
      join(dags, 'ticker.ts'),
      `import { dag } from '@aloft/core';
const d = dag({ id: 'ticker', schedule: { every: '2s' }, startDate: '${start}', catchup: true, maxActiveRuns: 50 });
d.command({ id: 'tick', command: 'echo "{{ run_id }}" >> ${ran}' }).then(d.command({ id: 'tock', command: 'echo "{{ run_id }} tock" >> ${ran}' }));
`,
    );
    const sys = await new System({ dagsFolder: dags, env: { ALOFT_SCHEDULER_LOOP_MS: '100', ALOFT_SWEEP_MS: '300' } }).start();
    systems.push(sys);
    await sys.spawn('scheduler', 'scheduler-1');
    await sys.spawn('scheduler', 'scheduler-2');
    await sys.spawn('worker', 'worker-1');
    await sys.spawn('worker', 'worker-2');
    const runs = await waitFor(
      'at least 12 finished runs',
      async () => {
        const r = await sys.client.listRuns('ticker', { limit: 1000 });
        return r.filter((x) => x.state === 'success').length >= 12 ? r : undefined;
      },
      60_000,
    );
    const ids = runs.map((r) => r.runId);
    expect(new Set(ids).size).toBe(ids.length);
    const dates = runs.map((r) => r.logicalDate);
    expect(new Set(dates).size).toBe(dates.length);
    // Consecutive logical dates, 2 s apart: nothing skipped, nothing doubled.
    const sorted = [...dates].sort((x, y) => x - y);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBe(2000);
    await waitFor('all runs finished', async () => (await sys.client.listRuns('ticker', { limit: 1000 })).filter((r) => r.state !== 'success').length <= 2);
    const finished = (await sys.client.listRuns('ticker', { limit: 1000 })).filter((r) => r.state === 'success');
    const lines = readFileSync(ran, 'utf8').trim().split('\n');
    for (const r of finished) {
      expect(lines.filter((l) => l === r.runId)).toHaveLength(1);
      expect(lines.filter((l) => l === `${r.runId} tock`)).toHaveLength(1);
      for (const ti of await sys.client.listTaskInstances('ticker', r.runId)) expect(ti.try).toBe(1);
    }
  });
});

describe('a broken DAG file', () => {
  it('is reported with file, line and message while the other DAGs keep loading and running', async () => {
    const dags = dagFolder('broken');
    folders.push(dags);
    writeFileSync(
      join(dags, 'good.ts'),
      `import { dag } from '@aloft/core';
const d = dag({ id: 'good' });
d.command({ id: 'hello', command: 'echo good' });
`,
    );
    const sys = await new System({ dagsFolder: dags }).start();
    systems.push(sys);
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker-1');
    await waitFor('good stored', async () => (await sys.client.listDags()).some((d) => d.dag.id === 'good'));

    writeFileSync(join(dags, 'syntax.ts'), `import { dag } from '@aloft/core';\nconst d = dag({ id: 'syntax' ;\n`);
    writeFileSync(
      join(dags, 'cycle.ts'),
      `import { dag } from '@aloft/core';
const d = dag({ id: 'cycle' });
const a = d.empty({ id: 'a' });
const b = d.empty({ id: 'b' });
a.then(b);
b.then(a);
`,
    );
    writeFileSync(
      join(dags, 'badschedule.ts'),
      `import { dag } from '@aloft/core';
const d = dag({
  id: 'badschedule',
  schedule: '*/61 * * * *',
  startDate: '2026-01-01',
});
d.empty({ id: 'a' });
`,
    );
    writeFileSync(join(dags, 'throws.ts'), `import { dag } from '@aloft/core';\ndag({ id: 'x' });\nthrow new Error('boom at import');\n`);
    const errors = await waitFor('four import errors', async () => {
      const e = await sys.client.importErrors();
      return e.length === 4 ? e : undefined;
    });
    const byFile = Object.fromEntries(errors.map((e) => [e.file.split('/').pop(), e]));
    // The file is the error's own field; the message names it no more, and the line is the error's.
    expect(byFile['syntax.ts']?.message).toMatch(/^TransformError: Transform failed with 1 error:\nERROR: /);
    expect(byFile['syntax.ts']?.message).not.toContain('syntax.ts');
    expect(byFile['syntax.ts']?.line).toBe(2);
    expect(byFile['cycle.ts']?.message).toContain('cycle a → b → a');
    expect(byFile['cycle.ts']?.field).toBe('upstream');
    expect(byFile['badschedule.ts']?.message).toContain('"*/61 * * * *" is not a valid cron expression');
    expect(byFile['badschedule.ts']?.field).toBe('schedule');
    expect(byFile['badschedule.ts']?.line).toBe(2);
    expect(byFile['throws.ts']?.message).toContain('boom at import');
    expect(byFile['throws.ts']?.line).toBe(3);
    expect((await sys.client.listDags()).map((d) => d.dag.id)).toEqual(['good']);

    const run = await sys.client.trigger('good');
    expect((await sys.client.waitForRun('good', run.runId, { timeoutMs: 30_000 })).state).toBe('success');

    // Fixing a file clears its error and loads its DAG without a restart.
    writeFileSync(join(dags, 'syntax.ts'), `import { dag } from '@aloft/core';\nconst d = dag({ id: 'syntax' });\nd.empty({ id: 'ok' });\n`);
    await waitFor('syntax fixed', async () => (await sys.client.listDags()).some((d) => d.dag.id === 'syntax'));
    expect((await sys.client.importErrors()).map((e) => e.file.split('/').pop()).sort()).toEqual(['badschedule.ts', 'cycle.ts', 'throws.ts']);
  });

  it('keeps scheduling when the lease holder is killed: the standby takes over within the lease TTL, nothing duplicated or skipped', async () => {
    const dags = dagFolder('lease');
    folders.push(dags);
    const start = new Date(Date.now() - 5_000).toISOString();
    writeFileSync(
      join(dags, 'beat.ts'),
      `import { dag } from '@aloft/core';
const d = dag({ id: 'beat', schedule: { every: '1s' }, startDate: '${start}', catchup: true, maxActiveRuns: 100 });
d.empty({ id: 'noop' });
`,
    );
    const sys = await new System({ dagsFolder: dags, env: { ALOFT_SCHEDULER_LOOP_MS: '200', ALOFT_SWEEP_MS: '500' } }).start();
    systems.push(sys);
    const a = await sys.spawn('scheduler', 'scheduler-a');
    const b = await sys.spawn('scheduler', 'scheduler-b');
    await sys.spawn('worker', 'worker-1');
    await waitFor('a few runs', async () => (await sys.client.listRuns('beat', { limit: 1000 })).length >= 5, 60_000);
    const leaderOf = async () => {
      for (const s of [a, b]) {
        const text = await fetch(`http://127.0.0.1:${s.port}/metrics`).then(
          (r) => r.text(),
          () => '',
        );
        if (/^aloft_scheduler_is_leader 1$/m.test(text)) return s;
      }
      return undefined;
    };
    const leader = await waitFor('the lease holder', leaderOf);
    const standby = leader === a ? b : a;
    // The leader reports its lag (a duration: how much is a loaded machine's business, not this test's).
    const lag = /^aloft_scheduler_loop_lag_seconds (\S+)$/m.exec(await (await fetch(`http://127.0.0.1:${leader.port}/metrics`)).text());
    expect(Number(lag?.[1])).toBeGreaterThanOrEqual(0);
    leader.child.kill('SIGKILL');
    await leader.exited;
    const killedAt = Date.now();
    // The lease lives 3 loop periods, at least 5 s; the standby takes over after it lapses
    // (the wait's 20 s bound is for a loaded machine, not a figure this test asserts).
    await waitFor(
      'a run created by the standby',
      async () => {
        const runs = await sys.client.listRuns('beat', { limit: 1000 });
        return runs.some((r) => r.queuedAt > killedAt + 200);
      },
      20_000,
    );
    expect(await leaderOf()).toBe(standby);
    await waitFor(
      'runs up to now',
      async () => {
        const runs = await sys.client.listRuns('beat', { limit: 1000 });
        return Math.max(...runs.map((r) => r.logicalDate)) >= killedAt + 2_000;
      },
      20_000,
    );
    const dates = (await sys.client.listRuns('beat', { limit: 1000 })).map((r) => r.logicalDate).sort((x, y) => x - y);
    expect(new Set(dates).size).toBe(dates.length);
    for (let i = 1; i < dates.length; i++) expect(dates[i]! - dates[i - 1]!).toBe(1000);
  });
});
