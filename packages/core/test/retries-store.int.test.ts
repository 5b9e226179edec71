import { describe, expect, it } from 'vitest';
import { dag, type CommandTaskOptions } from '../src/index.js';
import { claim, startRun } from './fixtures/store-run.js';
import { useRedis } from './fixtures/use-redis.js';

/**
 * Retries in the store's scripts (includes/finish-try): a failed try with tries left becomes
 * up_for_retry with the next try's delayed job, its delay growing with exponential backoff up
 * to maxRetryDelay; with none left, or a failure marked non-retryable (NonRetryableError, a
 * sensor's timeout), the instance fails.
 */
describe('retries in the store (real redis-server)', () => {
  const redis = useRedis();

  type Opts = Pick<CommandTaskOptions, 'retries' | 'retryDelay' | 'retryExponentialBackoff' | 'maxRetryDelay'>;
  /** One try's end, and what it must record: the state, the try it leaves, and the retry's delay (ms). */
  interface Step {
    outcome: 'success' | 'failed';
    noRetry?: boolean;
    expect: { state: string; try: number; delayMs?: number };
  }
  const fail = (state: string, tryNumber: number, delayMs?: number): Step => ({
    outcome: 'failed',
    expect: { state, try: tryNumber, ...(delayMs === undefined ? {} : { delayMs }) },
  });

  const CASES: [string, Opts, Step[]][] = [
    ['no retries: the first failure is final', { retries: 0 }, [fail('failed', 1)]],
    [
      'two retries at a fixed delay, then failed',
      { retries: 2, retryDelay: '10s' },
      [fail('up_for_retry', 2, 10_000), fail('up_for_retry', 3, 10_000), fail('failed', 3)],
    ],
    ['a retry that succeeds', { retries: 1, retryDelay: '5s' }, [fail('up_for_retry', 2, 5_000), { outcome: 'success', expect: { state: 'success', try: 2 } }]],
    [
      'exponential backoff, capped at maxRetryDelay',
      { retries: 4, retryDelay: '10s', retryExponentialBackoff: true, maxRetryDelay: '25s' },
      [fail('up_for_retry', 2, 10_000), fail('up_for_retry', 3, 20_000), fail('up_for_retry', 4, 25_000), fail('up_for_retry', 5, 25_000), fail('failed', 5)],
    ],
    [
      'a non-retryable failure with retries left',
      { retries: 3, retryDelay: '10s' },
      [{ outcome: 'failed', noRetry: true, expect: { state: 'failed', try: 1 } }],
    ],
    [
      'a non-retryable failure on a retry',
      { retries: 3, retryDelay: '10s' },
      [fail('up_for_retry', 2, 10_000), { outcome: 'failed', noRetry: true, expect: { state: 'failed', try: 2 } }],
    ],
  ];

  it.each(CASES)('%s', async (_, opts, steps) => {
    const d = dag({ id: 'retrying' });
    d.command({ id: 't', command: 'false', queue: 'retrying', ...opts }).then(d.command({ id: 'after', command: 'true', queue: 'retrying' }));
    const { store, ti } = await startRun(redis.conn(), d);
    const key = ti('t');
    const delayed = store.keys.bullQueuePrefix('retrying') + 'delayed';
    for (const [i, step] of steps.entries()) {
      const tryNumber = i + 1;
      expect((await claim(store, key, tryNumber)).status).toBe('ok');
      const before = Date.now();
      const state = await store.finishTi(key, tryNumber, { outcome: step.outcome, reason: 'exit 1', noRetry: step.noRetry });
      const after = Date.now();
      expect(state).toBe(step.expect.state);
      const got = await store.getTi(key);
      expect(got).toMatchObject({ state: step.expect.state, try: step.expect.try });
      if (step.expect.delayMs !== undefined) {
        // The next try waits as a delayed BullMQ job until nextTryAt.
        expect(got!.nextTryAt).toBeGreaterThanOrEqual(before + step.expect.delayMs);
        expect(got!.nextTryAt).toBeLessThanOrEqual(after + step.expect.delayMs);
        expect(await redis.conn().zscore(delayed, got!.jobId!)).not.toBeNull();
      }
    }
    const last = steps.at(-1)!.expect.state;
    expect((await store.getTi(ti('after')))?.state).toBe(last === 'success' ? 'queued' : 'upstream_failed');
    expect((await store.getRun('retrying', 'r1'))?.state).toBe(last === 'success' ? 'running' : 'failed');
  });
});
