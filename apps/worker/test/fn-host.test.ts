import { afterEach, describe, expect, it } from 'vitest';
import { FnHost } from '../src/executors/fn-host.js';
import { message, sink } from './fixtures/pool-tasks.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined } as never;

let host: FnHost;
afterEach(async () => {
  await host.close();
});

describe('the fn host: functions in a process apart from the worker', () => {
  it('runs functions in another process with only the environment it was given, output and log lines to each task', async () => {
    host = new FnHost({ pool: { warm: 1, idleMs: 60_000 }, env: { PATH: process.env['PATH']! }, logger: quiet, killGraceMs: 500 });
    await host.prewarm();
    const runs = Array.from({ length: 4 }, (_, i) => {
      const s = sink();
      return { s, running: host.run(message('echo', i), { log: s.log, killGraceMs: 500 }) };
    });
    const results = await Promise.all(runs.map((r) => r.running.result));
    results.forEach((r, i) => {
      expect(r.outcome).toBe('success');
      expect((JSON.parse(r.outputJson!) as { i: number }).i).toBe(i);
      expect(runs[i]!.s.lines).toEqual([`stdout line from ${i}`]);
    });
    expect(host.stats.pid).not.toBe(process.pid);
    // The variables given, and the tag the reaper finds the host's processes by.
    const env = await host.run(message('env'), { log: sink().log, killGraceMs: 500 }).result;
    expect(JSON.parse(env.outputJson!)).toEqual(['ALOFT_TASK_TAG', 'PATH']);
  });

  it('reports a NonRetryableError thrown in the host as a failure no retry can help', async () => {
    host = new FnHost({ pool: { warm: 1, idleMs: 60_000 }, env: { PATH: process.env['PATH']! }, logger: quiet, killGraceMs: 500 });
    const r = await host.run(message('refuse'), { log: sink().log, killGraceMs: 500 }).result;
    expect(r).toEqual({ outcome: 'failed', reason: 'NonRetryableError: the input file is malformed', noRetry: true, errorName: 'NonRetryableError' });
  });

  it('cancels a blocked function: the task fails with the reason and the host runs the next one', async () => {
    host = new FnHost({ pool: { warm: 1, idleMs: 60_000 }, env: { PATH: process.env['PATH']! }, logger: quiet, killGraceMs: 500 });
    await host.prewarm();
    const blocked = host.run(message('block'), { log: sink().log, killGraceMs: 200 });
    await new Promise((r) => setTimeout(r, 300));
    await blocked.cancel('timed out');
    expect(await blocked.result).toEqual({ outcome: 'failed', reason: 'timed out' });
    expect((await host.run(message('echo', 1), { log: sink().log, killGraceMs: 200 }).result).outcome).toBe('success');
    expect(host.stats.started).toBe(1);
  });

  it('fails the running task with the reason when the host dies, and starts another host', async () => {
    host = new FnHost({ pool: { warm: 1, idleMs: 60_000 }, env: { PATH: process.env['PATH']! }, logger: quiet, killGraceMs: 500 });
    await host.prewarm();
    const first = host.stats.pid!;
    const running = host.run(message('block'), { log: sink().log, killGraceMs: 200 });
    await new Promise((r) => setTimeout(r, 300));
    process.kill(first, 'SIGKILL');
    expect(await running.result).toEqual({ outcome: 'failed', reason: 'the function host ended (killed by SIGKILL)' });
    expect((await host.run(message('echo', 2), { log: sink().log, killGraceMs: 200 }).result).outcome).toBe('success');
    expect(host.stats.started).toBe(2);
    expect(host.stats.pid).not.toBe(first);
  });
});
