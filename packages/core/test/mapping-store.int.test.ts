import { describe, expect, it } from 'vitest';
import { dag, type TriggerRule } from '../src/index.js';
import { startRun, runTry } from './fixtures/store-run.js';
import { useRedis } from './fixtures/use-redis.js';

/**
 * Mapping in the store's scripts (includes/mapping): a mapped task expands into one instance
 * per element once its upstream finished, or is skipped or failed instead; its instances'
 * final states count for its downstream's trigger rule.
 */
describe('mapped tasks in the store (real redis-server)', () => {
  const redis = useRedis();

  interface Expansion {
    /** What `src` returned (undefined: no output). */
    output: unknown;
    /** A literal second mapped argument, crossed with `src`'s list. */
    also?: unknown[];
    maxMapLength?: number;
    /** Instances expanded, or the state and reason of the task when it did not expand. */
    expect: { n: number } | { state: 'skipped' | 'failed'; reason: string };
  }
  const EXPANSIONS: [string, Expansion][] = [
    ['a list of 3', { output: [1, 2, 3], expect: { n: 3 } }],
    ['a list of 1', { output: ['a'], expect: { n: 1 } }],
    ['a list of 2 crossed with a literal list of 3', { output: [1, 2], also: ['x', 'y', 'z'], expect: { n: 6 } }],
    ['a list at its maxMapLength', { output: [1, 2, 3, 4], maxMapLength: 4, expect: { n: 4 } }],
    ['an empty list', { output: [], expect: { state: 'skipped', reason: 'expanded over an empty list' } }],
    ['a list crossed with an empty literal list', { output: [1, 2], also: [], expect: { state: 'skipped', reason: 'expanded over an empty list' } }],
    [
      'a list over its maxMapLength',
      { output: [1, 2, 3, 4, 5], maxMapLength: 4, expect: { state: 'failed', reason: 'expands to 5 instances, over its limit of 4 (maxMapLength)' } },
    ],
    ['an object', { output: { a: 1 }, expect: { state: 'failed', reason: 'the output of "src" is not a list, so "x" cannot expand over it' } }],
    ['no output', { output: undefined, expect: { state: 'failed', reason: 'upstream "src" left no output to expand "x" over' } }],
  ];

  it.each(EXPANSIONS)('expands over %s', async (_, e) => {
    const d = dag({ id: 'expand' });
    const src = d.fn({ id: 'src', run: () => null });
    d.fn({ id: 'each', expand: e.also ? { x: src, y: e.also } : { x: src }, maxMapLength: e.maxMapLength ?? 10, run: () => null });
    const { store, ti } = await startRun(redis.conn(), d);
    await runTry(store, ti('src'), { outcome: 'success', output: e.output === undefined ? undefined : JSON.stringify(e.output) });

    const states = await store.getTiStates('expand', 'r1');
    if ('n' in e.expect) {
      const { n } = e.expect;
      expect((await store.getMapCounts('expand', 'r1'))['each']).toEqual({ n, success: 0, failed: 0, skipped: 0, upstream_failed: 0 });
      // Instance -1 gives way to instances 0..n-1, each queued with its own job.
      expect(
        Object.keys(states)
          .filter((f) => f.startsWith('each:'))
          .sort(),
      ).toEqual(Array.from({ length: n }, (_, i) => `each:${i}`).sort());
      expect(Array.from({ length: n }, (_, i) => states[`each:${i}`])).toEqual(Array<string>(n).fill('queued'));
      expect(await store.getTi(ti('each'))).toMatchObject({ mapped: { n, states: { queued: n } } });
    } else {
      expect(states['each:-1']).toBe(e.expect.state);
      expect(await store.getTi(ti('each'))).toMatchObject({ state: e.expect.state, reason: e.expect.reason });
      expect(await store.getMapCounts('expand', 'r1')).toEqual({});
    }
  });

  type Outcome = 'success' | 'failed' | 'skipped';
  // [instances' outcomes, downstream trigger rule, downstream state]
  const UPSTREAM_STATES: [Outcome[], TriggerRule, string][] = [
    [['success', 'success', 'success'], 'all_success', 'queued'],
    [['success', 'failed', 'success'], 'all_success', 'upstream_failed'],
    [['success', 'skipped', 'success'], 'all_success', 'skipped'],
    [['failed', 'failed', 'success'], 'all_done', 'queued'],
    [['failed', 'success', 'success'], 'one_failed', 'queued'],
    [['success', 'success', 'success'], 'one_failed', 'skipped'],
    [['skipped', 'skipped', 'skipped'], 'none_failed_min_one_success', 'skipped'],
    [['skipped', 'success', 'skipped'], 'none_failed_min_one_success', 'queued'],
    [['failed', 'failed', 'failed'], 'all_failed', 'queued'],
  ];

  it.each(UPSTREAM_STATES)('instances ending %j make a downstream with %s %s', async (outcomes, triggerRule, downstream) => {
    const d = dag({ id: 'fan_in' });
    const each = d.fn({ id: 'each', expand: { x: outcomes.map((_, i) => i) }, run: () => null });
    d.fn({ id: 'after', upstream: [each], triggerRule, run: () => null });
    const { store, ti } = await startRun(redis.conn(), d);
    for (const [i, outcome] of outcomes.entries()) await runTry(store, ti('each', i), { outcome });

    const count = (o: Outcome) => outcomes.filter((x) => x === o).length;
    expect((await store.getMapCounts('fan_in', 'r1'))['each']).toEqual({
      n: 3,
      success: count('success'),
      failed: count('failed'),
      skipped: count('skipped'),
      upstream_failed: 0,
    });
    expect((await store.getTi(ti('after')))?.state).toBe(downstream);
  });
});
