import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, System, waitFor } from './support/system.js';

const dags = join(ROOT, '.test-results', `dags-reaper-${Math.random().toString(36).slice(2, 7)}`);
const marks = join(dags, 'marks');
let sys: System | undefined;
afterAll(async () => {
  await sys?.stop();
  rmSync(dags, { recursive: true, force: true });
});

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('a worker killed with kill -9 while its command runs', () => {
  it('has the command process group ended before a worker on another host takes the try over; the two runs never overlap', async () => {
    mkdirSync(dags, { recursive: true });
    // A command that keeps beating through SIGTERM (its cleanup takes long) and through a
    // broken stdout (SIGPIPE ignored), as many real programs do: only SIGKILL ends it. Every
    // mark carries the shell's pid (= its process group) and the time in ms. The first run
    // would beat for 15 s or more; a later one for about a second.
    const now = '$(date +%s%3N)';
    const command =
      `if [ -e ${marks} ]; then n=10; else n=150; fi; echo "start $$ ${now}" >> ${marks}; ` +
      `trap 'echo "term $$ ${now}" >> ${marks}' TERM; trap '' PIPE; ` +
      `i=0; while [ $i -lt $n ]; do echo "beat $$ ${now}" >> ${marks}; echo beat; sleep 0.1; i=$((i+1)); done; echo "end $$ ${now}" >> ${marks}`;
    writeFileSync(
      join(dags, 'hold.ts'),
      `import { dag } from '@aloft/core';
const d = dag({ id: 'hold' });
d.command({ id: 'hold', command: ${JSON.stringify(command)} });
`,
    );
    // A command's grace (20 s) far longer than the lock (2 s): the reaper must not wait it out.
    sys = await new System({ dagsFolder: dags, env: { ALOFT_LOCK_MS: '2000', ALOFT_KILL_GRACE_MS: '20000' } }).start();
    await sys.spawn('scheduler', 'scheduler');
    const w1 = await sys.spawn('worker', 'worker-1', { ALOFT_WORKER_CONCURRENCY: '1' });
    await waitFor('DAG stored', async () => (await sys!.client.listDags()).length === 1, 90_000);
    const run = await sys.client.trigger('hold');
    await waitFor('the command beating on worker-1', async () => existsSync(marks) && readFileSync(marks, 'utf8').includes('beat'), 90_000);
    const first = Number(/^start (\d+) /m.exec(readFileSync(marks, 'utf8'))![1]);
    expect(groupAlive(first)).toBe(true);

    await w1.kill('SIGKILL');
    // Not this host: the takeover cannot end the old group itself; only the reaper can.
    await sys.spawn('worker', 'worker-2', { ALOFT_WORKER_CONCURRENCY: '1', ALOFT_WORKER_HOST: 'another-host' });
    const done = await sys.client.waitForRun('hold', run.runId, { timeoutMs: 60_000 });
    expect(done.state).toBe('success');

    const lines = readFileSync(marks, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '));
    const starts = lines.filter(([kind]) => kind === 'start').map(([, pid]) => Number(pid));
    expect(starts).toHaveLength(2);
    expect(starts[0]).toBe(first);
    const second = starts[1]!;
    const of = (pid: number) => lines.filter(([, p]) => Number(p) === pid).map(([kind, , at]) => ({ kind, at: Number(at) }));
    // The first run never ended by itself, and its group is gone.
    expect(of(first).map((m) => m.kind)).not.toContain('end');
    expect(groupAlive(first)).toBe(false);
    expect(of(second).filter((m) => m.kind === 'end')).toHaveLength(1);

    // Its last sign of life came before worker-2 claimed the try, so before the second run
    // started: the two never ran at the same time.
    const log = await sys.client.getLog('hold', run.runId, 'hold');
    const claimedAt = log.find((l) => l.stream === 'system' && l.line.endsWith('on worker-2'))?.at;
    expect(claimedAt).toBeDefined();
    const lastOfFirst = Math.max(...of(first).map((m) => m.at));
    expect(lastOfFirst).toBeLessThan(claimedAt!);
    expect(lastOfFirst).toBeLessThan(of(second)[0]!.at);
    expect(log.some((l) => l.line.includes('worker-1 stopped answering; worker-2 takes this try over'))).toBe(true);
    const ti = await sys.client.getTaskInstance('hold', run.runId, 'hold');
    expect(ti.worker).toBe('worker-2');
    expect(ti.try).toBe(1);
  });
});

/**
 * A stand-in worker: a Reaper (`reaper`) and one command started by `start`, which prints
 * `group <pid>` (`groupPid()`); its output so far is `out()`.
 */
function standInWorker(start: string) {
  const script = `
    import { spawn } from 'node:child_process';
    import { Reaper } from ${JSON.stringify(join(ROOT, 'apps/worker/src/reaper.ts'))};
    const reaper = new Reaper({ graceMs: 200, env: process.env, logger: { error: (o, msg) => console.log('error', msg) } });
    ${start}
    setInterval(() => undefined, 1000);
  `;
  const worker = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  worker.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise((r) => worker.once('exit', r));
  const groupPid = async () => Number((await waitFor('the group', async () => /group (\d+)/.exec(out) ?? undefined))[1]);
  return { worker, exited, groupPid, out: () => out };
}

describe('a reaper killed while its worker lives', () => {
  it('is started again with the groups it watched, and still ends them when the worker dies', async () => {
    const { worker, exited, groupPid, out } = standInWorker(`
      const cmd = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
      reaper.watch(cmd.pid);
      console.log('group', cmd.pid);
    `);
    const reaperOf = () =>
      execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(worker.pid)], { encoding: 'utf8' })
        .split('\n')
        .find((l) => l.includes('aloft-reaper'));
    try {
      const group = await groupPid();
      const first = Number((await waitFor('the reaper', async () => reaperOf()))!.trim().split(' ')[0]);
      process.kill(first, 'SIGKILL');
      await waitFor('the reaper restarted', async () => out().includes('the reaper exited while the worker runs; starting another'));
      const second = Number((await waitFor('another reaper', async () => reaperOf()))!.trim().split(' ')[0]);
      expect(second).not.toBe(first);
      expect(groupAlive(group)).toBe(true);
      worker.kill('SIGKILL');
      await exited;
      await waitFor('the group ended by the second reaper', async () => !groupAlive(group), 10_000);
    } finally {
      worker.kill('SIGKILL');
    }
  });
});

describe('a worker killed after starting a command and before telling the reaper its group', () => {
  it('still has the command ended: the reaper knew its tag first', async () => {
    // A stand-in worker that dies in the gap runCommand leaves: the tag told, the process
    // started, its group never told.
    const tag = `gap${Math.random().toString(36).slice(2, 10)}`;
    const { worker, exited, groupPid } = standInWorker(`
      reaper.starting(${JSON.stringify(tag)});
      const cmd = spawn('sleep', ['60'], { detached: true, stdio: 'ignore', env: { ...process.env, ALOFT_TASK_TAG: ${JSON.stringify(tag)} } });
      console.log('group', cmd.pid);
    `);
    try {
      const group = await groupPid();
      expect(groupAlive(group)).toBe(true);
      worker.kill('SIGKILL');
      await exited;
      await waitFor('the command ended by the reaper', async () => !groupAlive(group), 30_000);
    } finally {
      worker.kill('SIGKILL');
    }
  });
});
