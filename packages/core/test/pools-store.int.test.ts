import { describe, expect, it } from 'vitest';
import { dag, type Store } from '../src/index.js';
import { claim, startRun } from './fixtures/store-run.js';
import { useRedis } from './fixtures/use-redis.js';

/**
 * Pools in the store's scripts (includes/pools): a queued instance waits for its slots, a
 * claim takes them when that many are open, a finish gives them back; an instance that needs
 * more than the pool has, or a pool that does not exist, fails; reconcilePools drops what no
 * instance holds any longer.
 */
describe('pools in the store (real redis-server)', () => {
  const redis = useRedis();

  interface PoolCase {
    /** The pool's slots; null: never created. */
    slots: number | null;
    /** poolSlots of tasks a, b, c…, claimed in that order. */
    needs: number[];
    claims: string[];
    /** The pool's slots used and wanted after the claims. */
    after: { used: number; queued: number };
    /** After the instances claimed finish: the claims again of those that were held back. */
    reclaims?: string[];
    /** A task failed by its claim, with its reason. */
    failed?: { task: string; reason: string };
  }
  const CASES: [string, PoolCase][] = [
    ['slots for two of three', { slots: 2, needs: [1, 1, 1], claims: ['ok', 'ok', 'pool'], after: { used: 2, queued: 1 }, reclaims: ['ok'] }],
    ['slots for all', { slots: 5, needs: [2, 1, 2], claims: ['ok', 'ok', 'ok'], after: { used: 5, queued: 0 } }],
    ['two slots wanted where one is open', { slots: 3, needs: [2, 2], claims: ['ok', 'pool'], after: { used: 2, queued: 2 }, reclaims: ['ok'] }],
    [
      'a smaller one fits beside a bigger one held back',
      { slots: 3, needs: [2, 2, 1], claims: ['ok', 'pool', 'ok'], after: { used: 3, queued: 2 }, reclaims: ['ok'] },
    ],
    ['a pool of zero slots', { slots: 0, needs: [1], claims: ['pool'], after: { used: 0, queued: 1 } }],
    [
      'more slots needed than the pool has',
      {
        slots: 1,
        needs: [2, 1],
        claims: ['stale', 'ok'],
        after: { used: 1, queued: 0 },
        failed: { task: 'a', reason: 'needs 2 slots of pool "p", which has 1' },
      },
    ],
    [
      'a pool that does not exist',
      {
        slots: null,
        needs: [1],
        claims: ['stale'],
        after: { used: 0, queued: 0 },
        failed: { task: 'a', reason: 'pool "p" does not exist; create it with `aloft pools set p <slots>`' },
      },
    ],
  ];

  /** Slots held and wanted in pool `p`, from its own hashes. */
  const slotsOf = async (store: Store) => {
    const sum = async (key: string) => (await redis.conn().hvals(key)).reduce((a, v) => a + Number(v), 0);
    return { used: await sum(store.keys.poolUsed('p')), queued: await sum(store.keys.poolQueued('p')) };
  };

  it.each(CASES)('%s', async (_, c) => {
    const d = dag({ id: 'pooled' });
    const ids = c.needs.map((_, i) => String.fromCharCode(97 + i));
    ids.forEach((id, i) => d.command({ id, command: 'true', pool: 'p', poolSlots: c.needs[i]! }));
    const { store, ti } = await startRun(redis.conn(), d);
    if (c.slots !== null) await store.setPool('p', c.slots);
    const pool = () => slotsOf(store);
    // Queued, every instance waits for its slots.
    expect(await pool()).toEqual({ used: 0, queued: c.needs.reduce((a, b) => a + b, 0) });

    const statuses: string[] = [];
    for (const id of ids) statuses.push((await claim(store, ti(id))).status);
    expect(statuses).toEqual(c.claims);
    expect(await pool()).toEqual(c.after);
    if (c.failed) expect(await store.getTi(ti(c.failed.task))).toMatchObject({ state: 'failed', reason: c.failed.reason });

    // The finishes give the slots back; what was held back is claimed then.
    const held = ids.filter((_, i) => c.claims[i] === 'pool');
    for (const [i, id] of ids.entries()) if (c.claims[i] === 'ok') await store.finishTi(ti(id), 1, { outcome: 'success' });
    const wanted = held.reduce((a, id) => a + c.needs[ids.indexOf(id)]!, 0);
    expect(await pool()).toEqual({ used: 0, queued: wanted });
    const again: string[] = [];
    for (const id of held) again.push((await claim(store, ti(id))).status);
    expect(again).toEqual(c.reclaims ?? held.map(() => 'pool'));
  });

  it('reconcilePools drops every slot held by an instance not running and every wait by one not queued', async () => {
    const d = dag({ id: 'recon' });
    for (const id of ['a', 'b', 'c']) d.command({ id, command: 'true', pool: 'p' });
    const { store, ti } = await startRun(redis.conn(), d);
    await store.setPool('p', 5);
    // a running (holds a slot), b queued (waits), c finished.
    expect((await claim(store, ti('a'))).status).toBe('ok');
    expect((await claim(store, ti('c'))).status).toBe('ok');
    await store.finishTi(ti('c'), 1, { outcome: 'success' });

    // [hash, occupant, kept]: entries a lost key or a crash could leave, and the real ones.
    const ROWS: ['used' | 'queued', string, boolean][] = [
      ['used', 'recon|r1|a:-1', true],
      ['queued', 'recon|r1|b:-1', true],
      ['queued', 'recon|r1|a:-1', false],
      ['used', 'recon|r1|b:-1', false],
      ['used', 'recon|r1|c:-1', false],
      ['queued', 'recon|r1|c:-1', false],
      ['used', 'recon|gone|a:-1', false],
      ['queued', 'other|r9|x:-1', false],
    ];
    const keyOf = (h: 'used' | 'queued') => (h === 'used' ? store.keys.poolUsed('p') : store.keys.poolQueued('p'));
    const conn = redis.conn();
    for (const [h, o] of ROWS) await conn.hsetnx(keyOf(h), o, '1');
    expect(await store.reconcilePools()).toBe(ROWS.filter(([, , kept]) => !kept).length);
    const left = await Promise.all(ROWS.map(async ([h, o]) => (await conn.hexists(keyOf(h), o)) === 1));
    expect(left).toEqual(ROWS.map(([, , kept]) => kept));
    // Repairing again finds nothing.
    expect(await store.reconcilePools()).toBe(0);
  });
});
