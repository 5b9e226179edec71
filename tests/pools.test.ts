import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskInstance } from '@aloft/core';
import { AloftHttpClient } from '@aloft/sdk';
import { adminPassword, apiTokens, launchChromium, signIn } from './support/dashboard.js';
import { ROOT, System, waitFor, type Service } from './support/system.js';

/** The most slots in use at any instant, from the instances' own start and end times. */
function peakSlots(tis: TaskInstance[], slotsOf: (t: TaskInstance) => number): number {
  const edges = tis.flatMap((t) => [
    { at: t.startDate!, d: slotsOf(t) },
    { at: t.endDate!, d: -slotsOf(t) },
  ]);
  // Ends before starts at the same millisecond: a slot given back can be taken at once.
  edges.sort((a, b) => a.at - b.at || a.d - b.d);
  let now = 0;
  let peak = 0;
  for (const e of edges) peak = Math.max(peak, (now += e.d));
  return peak;
}

describe('pools (real redis-server, scheduler, two workers, dashboard)', () => {
  const sys = new System({ dagsFolder: join(ROOT, 'tests', 'fixtures', 'pool-dags'), env: { ALOFT_LOCK_MS: '2000', ALOFT_KILL_GRACE_MS: '500' } });
  const workers: Service[] = [];
  let http: AloftHttpClient;
  let base = '';

  const cli = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'scripts', 'aloft.mjs'), ...args], {
        cwd: ROOT,
        env: { ...process.env, REDIS_URL: sys.redis.url, ALOFT_KEY_PREFIX: sys.prefix },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });

  beforeAll(async () => {
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    workers.push(await sys.spawn('worker', 'worker-1', { ALOFT_WORKER_CONCURRENCY: '8' }));
    workers.push(await sys.spawn('worker', 'worker-2', { ALOFT_WORKER_CONCURRENCY: '8' }));
    const dash = await sys.spawn('dashboard', 'dashboard');
    const made = await apiTokens(sys, dash, { 'pool-op': 'operator' });
    base = made.base;
    http = new AloftHttpClient({ baseUrl: base, token: made.tokens['pool-op']! });
    await waitFor('pool DAGs stored', async () => (await sys.client.listDags()).length === 4, 60_000);
  }, 90_000);
  afterAll(() => sys.stop());

  it('sets pools through the CLI and the REST API, and rejects bad ones with the field', async () => {
    const set = await cli(['pools', 'set', 'warehouse', '3', '--description', 'the data warehouse']);
    expect(set.stderr).toBe('');
    expect(set.stdout).toContain('pool warehouse: 3 slots');
    expect(await http.setPool('small', 2)).toMatchObject({ name: 'small', slots: 2, used: 0, queued: 0, open: 2 });
    await expect(http.setPool('bad name', 2)).rejects.toMatchObject({ status: 400, field: 'name' });
    await expect(http.setPool('x', -1)).rejects.toMatchObject({ status: 400, field: 'slots' });
    const listed = JSON.parse((await cli(['--json', 'pools', 'list'])).stdout) as { name: string; slots: number | null }[];
    expect(listed.map((p) => [p.name, p.slots])).toEqual([
      ['default_pool', null],
      ['small', 2],
      ['warehouse', 3],
    ]);
    expect((await cli(['pools', 'list'])).stdout).toMatch(/warehouse\s+3\s+0\s+0\s+3\s+the data warehouse/);
    await expect(http.deletePool('nope')).rejects.toMatchObject({ status: 404 });
  });

  it('holds two DAGs to the pool cap under load, counting a two-slot task as two, and gives every slot back', async () => {
    const [a, b] = await Promise.all([sys.client.trigger('pool_load'), sys.client.trigger('pool_other')]);
    let peakUsed = 0;
    let sawQueued = 0;
    const done = await waitFor(
      'both runs',
      async () => {
        const w = (await sys.client.listPools()).find((p) => p.name === 'warehouse')!;
        peakUsed = Math.max(peakUsed, w.used);
        sawQueued = Math.max(sawQueued, w.queued);
        const runs = await Promise.all([sys.client.getRun('pool_load', a.runId), sys.client.getRun('pool_other', b.runId)]);
        return runs.every((r) => r.state === 'success' || r.state === 'failed') && runs;
      },
      60_000,
    );
    expect(done.map((r) => r.state)).toEqual(['success', 'success']);
    const tis = [...(await sys.client.listTaskInstances('pool_load', a.runId)), ...(await sys.client.listTaskInstances('pool_other', b.runId))];
    expect(tis).toHaveLength(17);
    // From the instances' own times: never more than 3 slots at once, and the cap was reached.
    expect(peakSlots(tis, (t) => (t.taskId === 'big' ? 2 : 1))).toBe(3);
    expect(peakUsed).toBeLessThanOrEqual(3);
    expect(peakUsed).toBeGreaterThanOrEqual(2);
    expect(sawQueued).toBeGreaterThan(0);
    expect((await http.listPools()).find((p) => p.name === 'warehouse')).toMatchObject({ used: 0, queued: 0, open: 3 });
  });

  it('fails a task whose pool does not exist or is too small for it, with the reason', async () => {
    const r = await sys.client.trigger('pool_missing');
    const done = await sys.client.waitForRun('pool_missing', r.runId, { timeoutMs: 30_000 });
    expect(done.state).toBe('failed');
    const t = Object.fromEntries((await sys.client.listTaskInstances('pool_missing', r.runId)).map((x) => [x.taskId, x]));
    expect(t['nowhere']).toMatchObject({ state: 'failed', reason: 'pool "nope" does not exist; create it with `aloft pools set nope <slots>`' });
    expect(t['too_big']).toMatchObject({ state: 'failed', reason: 'needs 5 slots of pool "warehouse", which has 3' });
  });

  it('a worker killed mid-task leaks no slot: the cap holds through the takeover and the pool ends empty', async () => {
    const r = await sys.client.trigger('pool_kill');
    const victim = await waitFor('a running pooled task', async () =>
      (await sys.client.listTaskInstances('pool_kill', r.runId)).find((t) => t.state === 'running' && t.worker),
    );
    expect((await sys.client.listPools()).find((p) => p.name === 'small')!.used).toBeGreaterThan(0);
    // Whichever worker has it: a worker that finishes a task takes the next job in the same
    // call, so one worker may well run all four.
    const [killed, survivor] = victim.worker === 'worker-1' ? [workers[0]!, 'worker-2'] : [workers[1]!, 'worker-1'];
    await killed.kill('SIGKILL');
    let peakUsed = 0;
    const done = await waitFor(
      'the run',
      async () => {
        peakUsed = Math.max(peakUsed, (await sys.client.listPools()).find((p) => p.name === 'small')!.used);
        const run = await sys.client.getRun('pool_kill', r.runId);
        return (run.state === 'success' || run.state === 'failed') && run;
      },
      60_000,
    );
    expect(done.state).toBe('success');
    const tis = await sys.client.listTaskInstances('pool_kill', r.runId);
    expect(tis.every((t) => t.state === 'success' && t.try === 1)).toBe(true);
    expect(tis.find((t) => t.taskId === victim.taskId)!.worker).toBe(survivor);
    expect(peakSlots(tis, () => 1)).toBeLessThanOrEqual(2);
    expect(peakUsed).toBeLessThanOrEqual(2);
    expect((await sys.client.listPools()).find((p) => p.name === 'small')).toMatchObject({ used: 0, queued: 0 });
    expect(await sys.client.store.reconcilePools()).toBe(0);
  }, 90_000);

  it('the dashboard Pools page shows each pool with its slots, held and wanted', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await signIn(page, base, '/pools', await adminPassword(sys));
      const row = page.locator('table.pools tr[data-pool="warehouse"]');
      await row.waitFor();
      expect(await row.locator('td').allTextContents()).toEqual(['warehouse', '3', '0', '0', '3', 'the data warehouse']);
      expect(await page.locator('table.pools tr[data-pool="default_pool"] td').nth(1).textContent()).toBe('unlimited');
      // The nav reaches it from any page.
      await page.getByRole('link', { name: 'DAGs' }).click();
      await page.getByRole('link', { name: 'Pools' }).click();
      await page.locator('table.pools tr[data-pool="small"]').waitFor();
    } finally {
      await browser.close();
    }
  });
});
