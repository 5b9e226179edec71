import { readdirSync, readFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, System, waitFor } from './support/system.js';

// Fractional seconds make each sleep's command line this file's own, whoever else runs tests.
const tag = String(Math.floor(Math.random() * 9000) + 1000);
const SLEEP = {
  timeout: `779.${tag}`,
  exits: `781.${tag}`,
  quiet: `783.${tag}`,
  killed: `787.${tag}`,
  fn: `789.${tag}`,
  termCmd: `791.${tag}`,
  termEscaped: `793.${tag}`,
  termFn: `797.${tag}`,
};

/** Pids of processes whose command line is `sleep <arg>`. */
function sleeps(arg: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8') === `sleep\0${arg}\0`) out.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Running, not a zombie waiting for its parent. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const dags = join(ROOT, '.test-results', `dags-escape-${tag}`);
const sys = new System({ dagsFolder: dags, env: { ALOFT_KILL_GRACE_MS: '2000', ALOFT_LOCK_MS: '2000' } });

beforeAll(async () => {
  mkdirSync(dags, { recursive: true });
  writeFileSync(
    join(dags, 'escape.ts'),
    `import { dag } from '@aloft/core';
const d = dag({ id: 'escape_timeout' });
d.command({ id: 'held', command: 'setsid sleep ${SLEEP.timeout} & sleep 60', executionTimeout: '3s', retries: 0 });
const e = dag({ id: 'escape_exits' });
e.command({ id: 'left', command: 'setsid sleep ${SLEEP.exits} & echo started' });
const q = dag({ id: 'escape_killed' });
q.command({ id: 'quiet', command: 'setsid sleep ${SLEEP.quiet} >/dev/null 2>&1 < /dev/null & sleep ${SLEEP.killed}' });
const f = dag({ id: 'fn_killed' });
f.fn({ id: 'spawner', run: async () => {
  const { spawn } = await import('node:child_process');
  spawn('sleep', ['${SLEEP.fn}'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 60_000));
} });
const t = dag({ id: 'stopped' });
t.command({ id: 'cmd', command: 'setsid sleep ${SLEEP.termEscaped} >/dev/null 2>&1 < /dev/null & sleep ${SLEEP.termCmd}' });
t.fn({ id: 'fn', run: async () => {
  const { spawn } = await import('node:child_process');
  spawn('sleep', ['${SLEEP.termFn}'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 60_000));
} });
`,
  );
  await sys.start();
  await sys.spawn('scheduler', 'scheduler');
  await waitFor('DAGs stored', async () => (await sys.client.listDags()).length === 5, 90_000);
}, 120_000);
afterAll(async () => {
  await sys.stop();
  rmSync(dags, { recursive: true, force: true });
});

describe('a command whose child leaves its process group (setsid)', () => {
  it('fails within seconds of its execution timeout, and the escaped child is ended with it', async () => {
    const w = await sys.spawn('worker', 'worker-timeout');
    const run = await sys.client.trigger('escape_timeout');
    await waitFor('the escaped sleep', async () => sleeps(SLEEP.timeout).length === 1, 60_000);
    const ti = await waitFor(
      'the try recorded',
      async () => {
        const t = await sys.client.getTaskInstance('escape_timeout', run.runId, 'held');
        return t.state === 'failed' && t;
      },
      30_000,
    );
    expect(ti.reason).toBe('execution timeout: still running after 3000 ms');
    // The try did not wait for the escaped child: recorded long before its 779 s sleep would
    // end (about 3 s of timeout plus the kills; the bound is loose so a busy machine passes).
    expect(ti.endDate! - ti.startDate!).toBeLessThan(60_000);
    expect(sleeps(SLEEP.timeout)).toEqual([]);
    await w.kill();
  });

  it('that outlives a command that exits 0 at once: the task succeeds promptly and the child is ended', async () => {
    const w = await sys.spawn('worker', 'worker-exits');
    const run = await sys.client.trigger('escape_exits');
    const ti = await waitFor(
      'the try recorded',
      async () => {
        const t = await sys.client.getTaskInstance('escape_exits', run.runId, 'left');
        return t.state !== 'running' && t.state !== 'queued' && t.state !== 'none' && t;
      },
      30_000,
    );
    expect(ti.state).toBe('success');
    // It did not wait for the child's 781 s sleep (a loose bound: a busy machine passes too).
    expect(ti.endDate! - ti.startDate!).toBeLessThan(60_000);
    expect(sleeps(SLEEP.exits)).toEqual([]);
    const log = (await sys.client.getLog('escape_exits', run.runId, 'left')).map((l) => l.line);
    expect(log).toContain('started');
    expect(log.some((l) => /ended 1 process that left the command's process group/.test(l))).toBe(true);
    await w.kill();
  });

  it('that closed its output is still ended when the worker is killed with kill -9 mid-run', async () => {
    const w = await sys.spawn('worker', 'worker-killed');
    await sys.client.trigger('escape_killed');
    await waitFor('both sleeps', async () => sleeps(SLEEP.quiet).length === 1 && sleeps(SLEEP.killed).length === 1, 60_000);
    await w.kill('SIGKILL');
    // The reaper: the group at once, the escapee found by the try's tag in its environment.
    // On a loaded machine the kill can land between the command's start and the worker telling
    // the reaper its group (the CI of 2a5d01a saw both sleeps left): the tag, told first, covers it.
    const started = Date.now();
    await waitFor('no sleep left', async () => sleeps(SLEEP.quiet).length === 0 && sleeps(SLEEP.killed).length === 0, 10_000).catch(() => undefined);
    console.log(`[task-processes] the reaper ended both sleeps in ${Date.now() - started} ms`);
    expect({ inGroup: sleeps(SLEEP.killed), escaped: sleeps(SLEEP.quiet) }).toEqual({ inGroup: [], escaped: [] });
  });
});

describe('a worker killed with kill -9 while a function runs', () => {
  it('leaves neither its fn host nor what the function started', async () => {
    const w = await sys.spawn('worker', 'worker-fn');
    await sys.client.trigger('fn_killed');
    await waitFor("the function's sleep", async () => sleeps(SLEEP.fn).length === 1, 60_000);
    const host = readdirSync('/proc').find((p) => {
      try {
        return (
          readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('fn-host-boot.mjs') &&
          new RegExp(`^PPid:\\s+${w.child.pid}$`, 'm').test(readFileSync(`/proc/${p}/status`, 'utf8'))
        );
      } catch {
        return false;
      }
    });
    expect(host).toBeDefined();
    await w.kill('SIGKILL');
    await waitFor('no sleep and no host left', async () => sleeps(SLEEP.fn).length === 0 && !alive(Number(host)), 10_000);
  });
});

describe('a worker stopped with SIGTERM while a command and a function run', () => {
  it('exits after its grace period leaving nothing they started', async () => {
    const w = await sys.spawn('worker', 'worker-term', { ALOFT_WORKER_GRACE_MS: '1000' });
    await sys.client.trigger('stopped');
    const all = [SLEEP.termCmd, SLEEP.termEscaped, SLEEP.termFn];
    await waitFor('the three sleeps', async () => all.every((s) => sleeps(s).length === 1), 60_000);
    expect(await w.kill('SIGTERM')).toBe(0);
    expect(all.flatMap(sleeps)).toEqual([]);
  });
});
