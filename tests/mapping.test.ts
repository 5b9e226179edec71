import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskInstance } from '@aloft/core';
import { ROOT, System, waitFor } from './support/system.js';

describe('dynamic task mapping end to end (real redis-server, scheduler and two workers)', () => {
  const sys = new System({ dagsFolder: join(ROOT, 'tests', 'fixtures', 'mapping-dags'), env: { ALOFT_FN_RUNNERS_WARM: '2' } });

  const tis = async (dagId: string, runId: string): Promise<TaskInstance[]> => sys.client.listTaskInstances(dagId, runId);
  const whole = async (dagId: string, runId: string): Promise<Record<string, TaskInstance>> =>
    Object.fromEntries((await tis(dagId, runId)).filter((t) => t.mapIndex === -1).map((t) => [t.taskId, t]));
  const triggerAndWait = async (dagId: string) => {
    const r = await sys.client.trigger(dagId);
    return sys.client.waitForRun(dagId, r.runId, { timeoutMs: 120_000, pollMs: 100 });
  };

  beforeAll(async () => {
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker-1', { ALOFT_WORKER_CONCURRENCY: '16' });
    await sys.spawn('worker', 'worker-2', { ALOFT_WORKER_CONCURRENCY: '16' });
    await waitFor('mapping DAGs stored', async () => (await sys.client.listDags()).length === 7, 60_000);
  }, 90_000);
  afterAll(() => sys.stop());

  it('expands 1,000 instances over an upstream list and reduces them in element order', async () => {
    const run = await triggerAndWait('map_reduce');
    expect(run.state).toBe('success');
    const all = await tis('map_reduce', run.runId);
    const squares = all.filter((t) => t.taskId === 'square' && t.mapIndex >= 0);
    expect(squares).toHaveLength(1000);
    expect(squares.every((t) => t.state === 'success' && t.try === 1)).toBe(true);
    const head = all.find((t) => t.taskId === 'square' && t.mapIndex === -1)!;
    expect(head).toMatchObject({ state: 'success', mapped: { n: 1000, states: { success: 1000 } } });
    const sum = Array.from({ length: 1000 }, (_, i) => 2 * i * i).reduce((a, b) => a + b, 0);
    expect(await sys.client.getOutput('map_reduce', run.runId, 'total')).toEqual({ count: 1000, sum, head: [0, 2, 8, 18] });
    expect(await sys.client.getOutput('map_reduce', run.runId, 'square', 999)).toBe(2 * 999 * 999);
    expect(run.unfinished).toBe(0);
  }, 150_000);

  it('maps commands over literals with fixed args, cross products, and a mapped task over a mapped one', async () => {
    const run = await triggerAndWait('map_literal');
    expect(run.state).toBe('success');
    for (const [i, word] of ['alpha', 'beta', 'gamma'].entries()) {
      const log = await sys.client.getLog('map_literal', run.runId, 'echo', { mapIndex: i });
      expect(log.map((l) => l.line)).toContain(`p-${word}-${i}`);
    }
    expect(await sys.client.getOutput('map_literal', run.runId, 'joined')).toEqual({ pairs: ['1x', '1y', '2x', '2y'], shout: ['1X0', '1Y1', '2X2', '2Y3'] });
    expect((await whole('map_literal', run.runId))['echo']).toMatchObject({ state: 'success', mapped: { n: 3 } });
  });

  it('skips a task mapped over an empty list, with Airflow trigger-rule semantics downstream', async () => {
    const run = await triggerAndWait('map_empty');
    const t = await whole('map_empty', run.runId);
    expect(t['each']).toMatchObject({ state: 'skipped', reason: 'expanded over an empty list' });
    expect(t['after']!.state).toBe('skipped');
    expect(t['anyway']!.state).toBe('success');
    expect(await sys.client.getOutput('map_empty', run.runId, 'anyway')).toEqual({ got: [] });
    expect(run.state).toBe('success');
  });

  it('fails a task past its cap or mapped over something that is not a list, with the reason', async () => {
    const run = await triggerAndWait('map_bad');
    expect(run.state).toBe('failed');
    const t = await whole('map_bad', run.runId);
    expect(t['capped']).toMatchObject({ state: 'failed', reason: 'expands to 5 instances, over its limit of 3 (maxMapLength)' });
    expect(t['over_scalar']).toMatchObject({ state: 'failed', reason: 'the output of "scalar" is not a list, so "x" cannot expand over it' });
    expect((await tis('map_bad', run.runId)).filter((x) => x.mapIndex >= 0)).toHaveLength(0);
  });

  it('counts every mapped instance in downstream trigger rules; outputs keep element order with a gap', async () => {
    const run = await triggerAndWait('map_rules');
    expect(run.state).toBe('failed');
    const t = await whole('map_rules', run.runId);
    expect(t['some_fail']).toMatchObject({ state: 'failed', mapped: { n: 3, states: { success: 2, failed: 1 } } });
    expect(t['on_failure']!.state).toBe('success');
    expect(t['on_success']!.state).toBe('upstream_failed');
    expect(await sys.client.getOutput('map_rules', run.runId, 'collect')).toEqual([0, null, 4]);
    const failed = await sys.client.getTaskInstance('map_rules', run.runId, 'some_fail', 1);
    expect(failed.reason).toMatch(/one bad element/);
  });

  it('clears a mapped task as a whole and marks one instance, re-deriving the run', async () => {
    const first = await triggerAndWait('map_rules');
    await sys.client.markTask('map_rules', first.runId, 'some_fail', 'success', 1);
    const marked = await sys.client.getRun('map_rules', first.runId);
    // on_success was upstream_failed already; marking one instance does not re-run it, as in Airflow.
    expect((await whole('map_rules', first.runId))['some_fail']).toMatchObject({ state: 'success', mapped: { states: { success: 3 } } });
    expect(marked.unfinished).toBe(0);
    const cleared = await sys.client.clearTask('map_rules', first.runId, 'some_fail', { downstream: true });
    expect(cleared).toBe(4);
    const again = await sys.client.waitForRun('map_rules', first.runId, { timeoutMs: 60_000, pollMs: 100 });
    expect(again.state).toBe('failed');
    const inst = (await tis('map_rules', first.runId)).filter((x) => x.taskId === 'some_fail' && x.mapIndex >= 0);
    inst.sort((a, b) => a.mapIndex - b.mapIndex);
    expect(inst.map((x) => [x.mapIndex, x.state, x.try])).toEqual([
      [0, 'success', 2],
      [1, 'failed', 2],
      [2, 'success', 2],
    ]);
    expect(again.unfinished).toBe(0);
  });

  it('maps a task group: copy i waits only for copy i inside the group, and the group ends as lists', async () => {
    const run = await triggerAndWait('map_group');
    expect(run.state).toBe('success');
    const all = await tis('map_group', run.runId);
    const copy = (task: string, i: number) => all.find((t) => t.taskId === `per_file.${task}` && t.mapIndex === i)!;
    expect([0, 1, 2].map((i) => copy('download', i).state)).toEqual(['success', 'success', 'success']);
    expect([0, 1, 2].map((i) => copy('parse', i).state)).toEqual(['success', 'success', 'failed']);
    expect([0, 1, 2].map((i) => copy('report', i).state)).toEqual(['success', 'success', 'success']);
    // b.csv was parsed while a.csv was still downloading: no copy waited for the others.
    expect(copy('parse', 1).endDate!).toBeLessThan(copy('download', 0).endDate!);
    expect(copy('parse', 2).reason).toMatch(/cannot parse raw\/bad.csv/);
    const log = await sys.client.getLog('map_group', run.runId, 'per_file.report', { mapIndex: 1 });
    expect(log.map((l) => l.line)).toContain('report raw/b.csv copy 1');
    expect(await sys.client.getOutput('map_group', run.runId, 'summary')).toEqual([{ path: 'raw/a.csv', copy: 0 }, { path: 'raw/b.csv', copy: 1 }, null]);
    const dag = (await sys.client.getDag('map_group')).dag;
    expect(dag.groups).toEqual([expect.objectContaining({ id: 'per_file', mapped: true })]);
    expect(run.unfinished).toBe(0);
  });
});
