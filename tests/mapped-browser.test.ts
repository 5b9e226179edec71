import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminPassword, launchChromium, signIn, startWithDashboard } from './support/dashboard.js';
import { ROOT, System } from './support/system.js';

// Screenshots of each view are kept as artifacts.
const SHOTS = join(ROOT, '.test-results', 'screenshots');

describe('web UI in Chromium: a mapped task in the grid, its instance list, one instance with its log', () => {
  const sys = new System({ dagsFolder: join(ROOT, 'tests', 'fixtures', 'mapping-dags') });
  let base = '';
  let password = '';
  let browser: Browser;
  let page: Page;
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    base = await startWithDashboard(sys, 'map_slow', { ALOFT_WORKER_CONCURRENCY: '8' });
    password = await adminPassword(sys);
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1366, height: 860 } })).newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await sys.stop();
  });

  it('shows the count in the grid cell live, the instance list, and instance 1 with its log; marks that instance', async () => {
    await signIn(page, base, '/dags/map_slow', password);
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    await page.getByRole('button', { name: 'Trigger' }).click();
    await page.locator('dialog[open]').getByRole('button', { name: 'Trigger run' }).click();
    await page.waitForURL(/[?&]run=manual__/);
    const runId = new URL(page.url()).searchParams.get('run')!;

    // The cell turns into the mapped task's summed-up state with its count, without a reload.
    const cell = page.locator(`a.cell[data-run="${runId}"][data-task="wait"]`);
    await page.locator(`a.cell[data-run="${runId}"][data-task="wait"][data-mapped="3"][data-state="success"]`).waitFor({ timeout: 30_000 });
    expect(await cell.textContent()).toBe('[3]');
    expect(await cell.getAttribute('title')).toContain('3 instances: 3 success');
    expect(await page.locator('th.task-col', { hasText: 'wait' }).textContent()).toBe('wait [ ]');
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    await shot('mapped-01-grid');

    // The mapped task's page lists its instances, each linking to its own page.
    await cell.click();
    await page.waitForURL(/\/tasks\/wait$/);
    await page.locator('h1', { hasText: 'wait [3]' }).waitFor();
    const rows = page.locator('table[aria-label="Mapped instances"] tbody tr');
    await expect.poll(() => rows.count()).toBe(3);
    expect(await rows.evaluateAll((trs) => trs.map((tr) => `${tr.getAttribute('data-map-index')}:${tr.getAttribute('data-state')}`))).toEqual([
      '0:success',
      '1:success',
      '2:success',
    ]);
    expect(await page.locator('[data-mapped-counts]').textContent()).toBe('3: 3 success');
    expect(await page.getByRole('log', { name: 'Task log' }).count()).toBe(0);
    await shot('mapped-02-instances');

    // Instance 1: its own fields and its log.
    await rows.nth(1).getByRole('link', { name: '[1]' }).click();
    await page.waitForURL(/\/tasks\/wait\?mapIndex=1$/);
    await page.locator('h1', { hasText: 'wait [1]' }).waitFor();
    const log = page.getByRole('log', { name: 'Task log' });
    await expect.poll(() => log.textContent(), { timeout: 10_000 }).toContain('end 1 b');
    expect(await log.textContent()).toContain('begin 1 b');
    expect(await log.textContent()).not.toContain('begin 0 a');
    expect(await page.locator('dl.facts').textContent()).toContain('Map index1');
    await page.locator('[data-log-status]').filter({ hasText: 'try ended: success' }).waitFor();
    // A mapped task is cleared as a whole, from its own page; one instance can be marked.
    expect(await page.getByRole('button', { name: 'Clear' }).count()).toBe(0);
    await shot('mapped-03-instance');

    await page.getByRole('button', { name: 'Mark failed' }).click();
    const confirm = page.locator('dialog[open]');
    await confirm.getByText('Mark instance 1 of wait failed?').waitFor();
    await confirm.getByRole('button', { name: 'Mark failed' }).click();
    await page.locator('h1 .badge.st-failed').waitFor({ timeout: 10_000 });
    expect((await sys.client.getTaskInstance('map_slow', runId, 'wait', 1)).state).toBe('failed');
    expect((await sys.client.getTaskInstance('map_slow', runId, 'wait', 0)).state).toBe('success');

    // Back on the whole task: summed up as failed, counted, and the grid says the same.
    await page.locator('nav.crumbs').getByRole('link', { name: 'wait' }).click();
    await page.waitForURL(/\/tasks\/wait$/);
    await expect.poll(() => page.locator('[data-mapped-counts]').textContent()).toBe('3: 1 failed, 2 success');
    expect(await page.locator('h1 .badge').textContent()).toBe('failed');
    await page.locator('nav.crumbs').getByRole('link', { name: runId }).click();
    await page.locator(`a.cell[data-run="${runId}"][data-task="wait"][data-state="failed"]`).waitFor();
  });
});
