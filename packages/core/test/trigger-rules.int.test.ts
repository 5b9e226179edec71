import { describe, expect, it } from 'vitest';
import { TRIGGER_RULES } from '../src/model/trigger-rules.js';
import { buildScript } from '../src/store/script-loader.js';
import { useRedis } from './fixtures/use-redis.js';

/**
 * includes/trigger-rules: what a task in state none does given its upstreams' states, one row
 * per rule and upstream counts (plain and expanded mapped upstreams), decided by the include itself against a real redis-server.
 * 'wait' is the include's nil (keep waiting).
 */
const DECIDE = `${buildScript('includes/trigger-rules')}
local c = newCtx(ARGV[1], 'd', 'r', 0)
local ups, fields = {}, {}
rcall('DEL', c.tisKey, c.mapKey)
for i = 3, #ARGV do
  local u = 'u' .. i
  ups[#ups + 1] = u
  -- 'mapped n success skipped failed upstream_failed': an expanded mapped upstream's counts.
  local n, ok, sk, fa, uf = string.match(ARGV[i], '^mapped (%d+) (%d+) (%d+) (%d+) (%d+)$')
  -- 'setup:<state>': a setup task upstream (node() reads the graph; this table has none).
  local setupState = string.match(ARGV[i], '^setup:(.*)$')
  c.nodes[u] = { st = setupState and true or nil }
  if setupState then
    fields[#fields + 1] = u .. ':-1'
    fields[#fields + 1] = setupState
  elseif n then
    rcall('HSET', c.mapKey, u .. ':n', n, u .. ':success', ok, u .. ':skipped', sk, u .. ':failed', fa, u .. ':upstream_failed', uf)
  else
    fields[#fields + 1] = u .. ':-1'
    fields[#fields + 1] = ARGV[i]
  end
end
if #fields > 0 then rcall('HSET', c.tisKey, unpack(fields)) end
return decide(c, { u = ups, r = ARGV[2] }) or 'wait'`;

type Counts = Partial<Record<'success' | 'failed' | 'skipped' | 'upstream_failed' | 'none', number>> & {
  /** Expanded mapped upstreams: [instances, success, skipped, failed, upstream_failed]. */
  mapped?: [number, number, number, number, number][];
  /** Setup tasks upstream (all_done_setup_success), by state. */
  setups?: string[];
};
const states = ({ mapped = [], setups = [], ...c }: Counts) => [
  ...Object.entries(c).flatMap(([s, n]) => Array<string>(n).fill(s)),
  ...mapped.map((m) => `mapped ${m.join(' ')}`),
  ...setups.map((s) => `setup:${s}`),
];

// [rule, upstream states, decision]
const ROWS: [string, Counts, string][] = [
  ['all_success', { success: 2 }, 'run'],
  ['all_success', { success: 1, none: 1 }, 'wait'],
  ['all_success', { success: 1, failed: 1 }, 'upstream_failed'],
  ['all_success', { success: 1, upstream_failed: 1 }, 'upstream_failed'],
  ['all_success', { success: 1, skipped: 1 }, 'skipped'],
  ['all_failed', { failed: 1, upstream_failed: 1 }, 'run'],
  ['all_failed', { failed: 1, none: 1 }, 'wait'],
  ['all_failed', { failed: 1, success: 1 }, 'skipped'],
  ['all_failed', { skipped: 1, none: 1 }, 'skipped'],
  ['all_done', { success: 1, failed: 1, skipped: 1 }, 'run'],
  ['all_done', { success: 1, none: 1 }, 'wait'],
  ['all_done_min_one_success', { success: 1, failed: 1, upstream_failed: 1 }, 'run'],
  ['all_done_min_one_success', { success: 2 }, 'run'],
  ['all_done_min_one_success', { success: 1, none: 1 }, 'wait'],
  ['all_done_min_one_success', { failed: 1, upstream_failed: 1 }, 'upstream_failed'],
  ['all_done_min_one_success', { failed: 1, none: 1 }, 'wait'],
  ['all_done_min_one_success', { success: 1, skipped: 1 }, 'skipped'],
  ['all_done_min_one_success', { skipped: 1, none: 1 }, 'skipped'],
  ['all_skipped', { skipped: 2 }, 'run'],
  ['all_skipped', { skipped: 1, none: 1 }, 'wait'],
  ['all_skipped', { skipped: 1, success: 1 }, 'skipped'],
  ['all_skipped', { failed: 1, none: 1 }, 'skipped'],
  ['all_skipped', { upstream_failed: 1, skipped: 1 }, 'skipped'],
  ['one_success', { success: 1, none: 1 }, 'run'],
  ['one_success', { failed: 1, none: 1 }, 'wait'],
  ['one_success', { skipped: 2 }, 'skipped'],
  ['one_success', { skipped: 1, failed: 1 }, 'upstream_failed'],
  ['one_failed', { failed: 1, none: 1 }, 'run'],
  ['one_failed', { upstream_failed: 1, none: 1 }, 'run'],
  ['one_failed', { success: 1, none: 1 }, 'wait'],
  ['one_failed', { success: 2 }, 'skipped'],
  ['one_done', { success: 1, none: 1 }, 'run'],
  ['one_done', { failed: 1, none: 1 }, 'run'],
  ['one_done', { skipped: 1, none: 1 }, 'wait'],
  ['one_done', { skipped: 1, upstream_failed: 1 }, 'skipped'],
  ['none_failed', { success: 1, skipped: 1 }, 'run'],
  ['none_failed', { success: 1, none: 1 }, 'wait'],
  ['none_failed', { success: 1, failed: 1 }, 'upstream_failed'],
  ['none_failed', { upstream_failed: 1, none: 1 }, 'upstream_failed'],
  ['none_failed_min_one_success', { success: 1, skipped: 1 }, 'run'],
  ['none_failed_min_one_success', { skipped: 2 }, 'skipped'],
  ['none_failed_min_one_success', { skipped: 1, none: 1 }, 'wait'],
  ['none_failed_min_one_success', { failed: 1, none: 1 }, 'upstream_failed'],
  ['none_skipped', { success: 1, failed: 1 }, 'run'],
  ['none_skipped', { success: 1, none: 1 }, 'wait'],
  ['none_skipped', { skipped: 1, none: 1 }, 'skipped'],
  ['always', { none: 2 }, 'run'],
  ['always', {}, 'run'],
  // Every instance of an expanded mapped upstream counts, as in Airflow.
  ['all_success', { mapped: [[3, 3, 0, 0, 0]] }, 'run'],
  ['all_success', { mapped: [[3, 2, 0, 0, 0]] }, 'wait'],
  ['all_success', { success: 1, mapped: [[3, 2, 0, 1, 0]] }, 'upstream_failed'],
  ['all_done', { mapped: [[3, 1, 1, 1, 0]] }, 'run'],
  ['one_failed', { mapped: [[4, 3, 0, 0, 0]] }, 'wait'],
  ['one_failed', { mapped: [[4, 3, 0, 0, 1]] }, 'run'],
  ['none_failed_min_one_success', { mapped: [[2, 0, 2, 0, 0]] }, 'skipped'],
  ['all_failed', { failed: 1, mapped: [[2, 0, 0, 2, 0]] }, 'run'],
  ['all_skipped', { skipped: 1, mapped: [[2, 0, 2, 0, 0]] }, 'run'],
  ['all_skipped', { mapped: [[3, 0, 2, 0, 0]] }, 'wait'],
  ['all_skipped', { mapped: [[3, 1, 1, 0, 0]] }, 'skipped'],
  ['all_done_min_one_success', { failed: 1, mapped: [[3, 1, 0, 2, 0]] }, 'run'],
  ['all_done_min_one_success', { mapped: [[3, 0, 0, 3, 0]] }, 'upstream_failed'],
  ['all_done_min_one_success', { mapped: [[3, 2, 1, 0, 0]] }, 'skipped'],
  // A teardown: once all upstream are done, it runs unless every setup upstream of it failed or was skipped.
  ['all_done_setup_success', { success: 1, failed: 1 }, 'run'],
  ['all_done_setup_success', { success: 1, none: 1 }, 'wait'],
  ['all_done_setup_success', { failed: 1, setups: ['success'] }, 'run'],
  ['all_done_setup_success', { upstream_failed: 1, setups: ['failed'] }, 'skipped'],
  ['all_done_setup_success', { skipped: 1, setups: ['skipped'] }, 'skipped'],
  ['all_done_setup_success', { success: 1, setups: ['failed', 'success'] }, 'run'],
  ['all_done_setup_success', { none: 1, setups: ['success'] }, 'wait'],
];

describe('the table', () => {
  it('has a row for every trigger rule', () => {
    expect([...new Set(ROWS.map(([rule]) => rule))].sort()).toEqual([...TRIGGER_RULES].sort());
  });
});

describe('trigger rules (real redis-server)', () => {
  const redis = useRedis();

  it.each(ROWS)('%s with upstreams %j: %s', async (rule, counts, decision) => {
    expect(await redis.conn().eval(DECIDE, 0, 'tr', rule, ...states(counts))).toBe(decision);
  });
});
