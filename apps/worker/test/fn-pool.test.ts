import { afterEach, describe, expect, it } from 'vitest';
import { FnPool } from '../src/executors/fn-pool.js';
import { message, sink } from './fixtures/pool-tasks.js';

let pool: FnPool;
afterEach(async () => {
  await pool.close();
});

describe('function runner pool', () => {
  it('runs a burst of short tasks on a few threads, each output to its own task', async () => {
    // No task is moved here: loading the DAG file in a new runner takes longer than 10 ms.
    pool = new FnPool({ PATH: process.env['PATH'] }, { warm: 1, idleMs: 60_000, holdMs: 60_000 });
    await pool.prewarm();
    const runs = Array.from({ length: 16 }, (_, i) => {
      const s = sink();
      return { s, running: pool.run(message('echo', i), { log: s.log, killGraceMs: 500 }) };
    });
    const results = await Promise.all(runs.map((r) => r.running.result));
    const threads = new Set<number>();
    results.forEach((r, i) => {
      expect(r.outcome).toBe('success');
      const out = JSON.parse(r.outputJson!) as { i: number; thread: number };
      expect(out.i).toBe(i);
      threads.add(out.thread);
      expect(runs[i]!.s.lines).toEqual([`stdout line from ${i}`]);
    });
    // Depth 8: two runners take the sixteen tasks.
    expect(threads.size).toBe(2);
    expect(pool.size).toBe(2);
  });

  it('moves tasks queued behind a blocked function to other runners, then ends the blocked one', async () => {
    pool = new FnPool({ PATH: process.env['PATH'] }, { warm: 1, idleMs: 60_000 });
    await pool.prewarm();
    const blocked = pool.run(message('block'), { log: sink().log, killGraceMs: 200 });
    const started = Date.now();
    const quick = await Promise.all(Array.from({ length: 5 }, (_, i) => pool.run(message('echo', i), { log: sink().log, killGraceMs: 200 }).result));
    expect(quick.map((r) => r.outcome)).toEqual(['success', 'success', 'success', 'success', 'success']);
    // The blocked function still runs; the others did not wait for it (it blocks for 60 s).
    expect(Date.now() - started).toBeLessThan(30_000);
    let settled = false;
    void blocked.result.then(() => (settled = true));
    expect(settled).toBe(false);
    await blocked.cancel('timed out');
    expect(await blocked.result).toEqual({ outcome: 'failed', reason: 'timed out' });
    // The pool goes on with a new runner in its place.
    expect((await pool.run(message('echo', 9), { log: sink().log, killGraceMs: 200 }).result).outcome).toBe('success');
  });

  it('cancels a queued task before it starts: it fails at once and never runs', async () => {
    pool = new FnPool({ PATH: process.env['PATH'] }, { warm: 1, idleMs: 60_000, holdMs: 60_000 });
    await pool.prewarm();
    const slow = pool.run(message('slow'), { log: sink().log, killGraceMs: 200 });
    const s = sink();
    const queued = pool.run(message('echo', 1), { log: s.log, killGraceMs: 200 });
    await queued.cancel('run cancelled');
    expect(await queued.result).toEqual({ outcome: 'failed', reason: 'run cancelled' });
    expect((await slow.result).outcome).toBe('success');
    // The runner served the slow task only: the cancelled one printed nothing.
    expect((await pool.run(message('echo', 2), { log: sink().log, killGraceMs: 200 }).result).outcome).toBe('success');
    expect(s.lines).toEqual([]);
  });

  it('fails the task whose function ends its runner and runs the ones queued behind it elsewhere', async () => {
    pool = new FnPool({ PATH: process.env['PATH'] }, { warm: 1, idleMs: 60_000, holdMs: 60_000 });
    await pool.prewarm();
    // The 'slow' task keeps the queue behind 'exit' until the runner ends.
    const slow = pool.run(message('slow'), { log: sink().log, killGraceMs: 200 });
    const exit = pool.run(message('exit'), { log: sink().log, killGraceMs: 200 });
    const after = Array.from({ length: 3 }, (_, i) => pool.run(message('echo', i), { log: sink().log, killGraceMs: 200 }).result);
    expect((await slow.result).outcome).toBe('success');
    const ended = await exit.result;
    expect(ended.outcome).toBe('failed');
    expect(ended.reason).toMatch(/runner ended \(exit code 3\)/);
    expect((await Promise.all(after)).map((r) => r.outcome)).toEqual(['success', 'success', 'success']);
  });
});
