import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Keys } from '../src/index.js';
import { useRedis } from './fixtures/use-redis.js';

/** includes/keys.lua mirrors store/keys.ts: both build the same string for every key the scripts use. */
describe('the Lua keys include (real redis-server)', () => {
  const redis = useRedis();

  it('builds every key as keys.ts does', async () => {
    const k = new Keys('pfx');
    const rows: [string, string][] = [
      ["Keys.dag(p, 'd')", k.dag('d')],
      ["Keys.graph(p, 'd', 'v1')", k.graph('d', 'v1')],
      ["Keys.runs(p, 'd')", k.runs('d')],
      ["Keys.activeRuns(p, 'd')", k.activeRuns('d')],
      ["Keys.queuedRuns(p, 'd')", k.queuedRuns('d')],
      ['Keys.startingRuns(p)', k.startingRuns()],
      ["Keys.run(p, 'd', 'r')", k.run('d', 'r')],
      ["Keys.tiStates(p, 'd', 'r')", k.tiStates('d', 'r')],
      ["Keys.ti(p, 'd', 'r', 't', '-1')", k.ti('d', 'r', 't', -1)],
      ["Keys.log(p, 'd', 'r', 't', '3', 2)", k.log('d', 'r', 't', 3, 2)],
      ["Keys.outputs(p, 'd', 'r')", k.outputs('d', 'r')],
      ["Keys.mapCounts(p, 'd', 'r')", k.mapCounts('d', 'r')],
      ["Keys.running(p, 'd')", k.running('d')],
      ["Keys.slaMisses(p, 'd', 'r')", k.slaMisses('d', 'r')],
      ['Keys.events(p)', k.events],
      ['Keys.queues(p)', k.queues],
      ['Keys.pools(p)', k.pools],
      ["Keys.poolUsed(p, 'x')", k.poolUsed('x')],
      ["Keys.poolQueued(p, 'x')", k.poolQueued('x')],
      ['Keys.datasets(p)', k.datasets],
      ["Keys.dataset(p, 's3://b/k')", k.dataset('s3://b/k')],
      ["Keys.datasetConsumers(p, 's3://b/k')", k.datasetConsumers('s3://b/k')],
      ["Keys.datasetPending(p, 'd')", k.datasetPending('d')],
      ['Keys.datasetEvents(p)', k.datasetEvents],
      ["Keys.bullQueuePrefix(p, 'q')", k.bullQueuePrefix('q')],
      ["Keys.bullJob(p, 'q', 'j1')", `${k.bullQueuePrefix('q')}j1`],
      ["Keys.bullQueue(p, 'q').wait", `${k.bullQueuePrefix('q')}wait`],
    ];
    const lua = readFileSync(new URL('../src/store/lua/includes/keys.lua', import.meta.url), 'utf8');
    const got = await redis.conn().eval(`${lua}\nlocal p = ARGV[1]\nreturn { ${rows.map(([expr]) => expr).join(', ')} }`, 0, 'pfx');
    expect(got).toEqual(rows.map(([, key]) => key));
  });

  // A script called about a run gets these as KEYS; the scripts build the same lists for the runs they find themselves.
  it.each([
    ["Keys.runScript(p, 'd', 'r')", new Keys('pfx').runScriptKeys('d', 'r')],
    ["Keys.dagScript(p, 'd')", new Keys('pfx').dagScriptKeys('d')],
  ])('builds %s as keys.ts does', async (expr, keys) => {
    const lua = readFileSync(new URL('../src/store/lua/includes/keys.lua', import.meta.url), 'utf8');
    expect(await redis.conn().eval(`${lua}\nlocal p = ARGV[1]\nreturn ${expr}`, 0, 'pfx')).toEqual(keys);
  });
});
