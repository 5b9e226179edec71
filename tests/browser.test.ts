import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminPassword, launchChromium, startWithDashboard } from './support/dashboard.js';
import { ROOT, System } from './support/system.js';

// Screenshots of each view are kept as artifacts.
const SHOTS = join(ROOT, '.test-results', 'screenshots');

describe('web UI in Chromium: sign in, DAG list, trigger kubernetes_sample and watch it live, failing log, clear', () => {
  const sys = new System({ dagsFolder: join(ROOT, 'examples', 'dags') });
  let base = '';
  let password = '';
  let browser: Browser;
  let page: Page;
  const shot = (name: string, p: Page = page) => p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    base = await startWithDashboard(sys, 'kubernetes_sample');
    password = await adminPassword(sys);
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1366, height: 860 } })).newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await sys.stop();
  });

  it('signs in and shows the DAG list with schedules in words, next runs and no import errors', async () => {
    await page.goto(`${base}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', 'wrong-password');
    await page.click('button[type=submit]');
    await page.getByRole('alert').filter({ hasText: 'Wrong username or password.' }).waitFor();
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', password);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/`);
    const row = page.locator('tr[data-dag=kubernetes_sample]');
    await row.waitFor();
    await expect.poll(() => row.textContent()).toContain('Every 10 minutes');
    expect(await page.locator('tr[data-dag=etl_fan_out]').count()).toBe(1);
    expect(await page.locator('.import-errors').count()).toBe(0);
    expect(await row.getByRole('switch').isChecked()).toBe(true);
    await shot('01-dag-list');

    // Pausing asks first, and another open page shows it at once (live, no reload).
    const other = await page.context().newPage();
    await other.goto(`${base}/`);
    const otherSwitch = other.locator('tr[data-dag=etl_fan_out]').getByRole('switch');
    await expect.poll(() => otherSwitch.isChecked()).toBe(true);
    await page.locator('tr[data-dag=etl_fan_out]').getByRole('switch').click();
    const confirm = page.locator('dialog[open]');
    await confirm.getByText('No new scheduled runs start').waitFor();
    await confirm.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => otherSwitch.isChecked(), { timeout: 10_000 }).toBe(false);
    expect((await sys.client.getDag('etl_fan_out')).paused).toBe(true);
    await other.close();
  });

  it('triggers kubernetes_sample and shows its tasks turn green and red live, without reloading', async () => {
    await page.click('a.dag-id:text-is("kubernetes_sample")');
    await page.waitForURL(/\/dags\/kubernetes_sample/);
    // A mark on the window survives only if the page is never reloaded.
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    await page.getByRole('button', { name: 'Trigger' }).click();
    const dialog = page.locator('dialog[open]');
    await dialog.getByRole('button', { name: 'Trigger run' }).click();
    await page.waitForURL(/[?&]run=manual__/);
    const runId = new URL(page.url()).searchParams.get('run')!;
    const cell = (task: string, state: string) => page.locator(`a.cell[data-run="${runId}"][data-task="${task}"][data-state="${state}"]`);
    await cell('run_this_first', 'success').waitFor({ timeout: 30_000 });
    await cell('passing', 'success').waitFor({ timeout: 30_000 });
    await cell('failing', 'failed').waitFor({ timeout: 30_000 });
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect((await sys.client.getRun('kubernetes_sample', runId)).state).toBe('failed');
    await page.locator(`.panel`).getByText('failed').first().waitFor();
    await shot('02-dag-grid');
    await page.getByRole('tab', { name: 'Graph' }).click();
    await page.locator('svg.graph g.node[data-task=failing][data-state=failed]').waitFor();
    expect(await page.locator('svg.graph g.node[data-task=passing][data-state=success]').count()).toBe(1);
    expect(await page.locator('svg.graph path.edge').count()).toBe(2);
    await shot('03-dag-graph');
    await page.getByRole('tab', { name: 'Timeline' }).click();
    await page.locator('.gantt-row').nth(2).waitFor();
    await shot('04-dag-timeline');
    await page.getByRole('tab', { name: 'Grid' }).click();
  });

  it("opens the failing task's log, searches it, and clears the task", async () => {
    const runId = new URL(page.url()).searchParams.get('run')!;
    await page.locator(`a.cell[data-run="${runId}"][data-task="failing"]`).click();
    await page.waitForURL(/\/tasks\/failing$/);
    await page.locator('[data-log-status]').filter({ hasText: 'try ended: failed' }).waitFor();
    const log = page.getByRole('log', { name: 'Task log' });
    await expect.poll(() => log.textContent()).toContain('python-not-installed');
    expect(await page.locator('dl.facts').textContent()).toContain('2 of 2');
    await page.getByLabel('Search the log').fill('python-not-installed');
    expect(await log.locator('mark').count()).toBeGreaterThan(0);
    await shot('05-task-log');

    await page.getByRole('button', { name: 'Clear' }).click();
    const confirm = page.locator('dialog[open]');
    await confirm.getByText('The task runs again as a new try.').waitFor();
    await confirm.getByRole('button', { name: 'Clear' }).click();
    // Cleared, the task runs again with its retries (tries 3 and 4); the page follows live.
    await expect.poll(async () => page.locator('dl.facts').textContent(), { timeout: 30_000 }).toMatch(/Try4 of 4/);
    await page.locator('[data-log-status]').filter({ hasText: 'try ended: failed' }).waitFor({ timeout: 30_000 });
    // The new try's lines arrive by the live stream after its end is shown; on a loaded
    // machine that took longer than expect.poll's default second once.
    await expect.poll(() => log.textContent(), { timeout: 30_000 }).toContain('python-not-installed');
    await shot('06-task-cleared');
    const ti = await sys.client.getTaskInstance('kubernetes_sample', runId, 'failing');
    expect(ti.state).toBe('failed');

    // Mark it success, after confirming; the page follows (the finished run keeps its state, as in Airflow).
    await page.getByRole('button', { name: 'Mark success' }).click();
    await page.locator('dialog[open]').getByRole('button', { name: 'Mark success' }).click();
    await page.locator('h1 .badge.st-success').waitFor({ timeout: 10_000 });
    expect((await sys.client.getTaskInstance('kubernetes_sample', runId, 'failing')).state).toBe('success');
    expect(ti.try).toBe(4);
  });

  it('draws task groups as boxes around their tasks in the graph', async () => {
    await page.goto(`${base}/dags/grouped_pipeline?tab=graph`);
    const inner = page.locator('svg.graph g.group[data-group="publish.report"] rect');
    await inner.waitFor();
    const outer = await page.locator('svg.graph g.group[data-group="publish"] rect').boundingBox();
    const box = (await inner.boundingBox())!;
    const render = (await page.locator('svg.graph g.node[data-task="publish.report.render"] rect').boundingBox())!;
    // Nested: render inside publish.report inside publish.
    expect(render.x).toBeGreaterThanOrEqual(box.x);
    expect(render.x + render.width).toBeLessThanOrEqual(box.x + box.width);
    expect(box.x).toBeGreaterThanOrEqual(outer!.x);
    expect(box.y + box.height).toBeLessThanOrEqual(outer!.y + outer!.height + 0.5);
    expect(await page.locator('svg.graph g.node').count()).toBe(7);
    await shot('07-graph-groups');
  });

  it('reads on a phone and in the dark theme', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', deviceScaleFactor: 2 });
    await phone.context().addCookies(await page.context().cookies());
    await phone.goto(`${base}/`);
    await phone.locator('tr[data-dag=kubernetes_sample]').waitFor();
    const bg = await phone.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).toBe('rgb(14, 17, 22)');
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot('08-phone-dark-list', phone);
    await phone.goto(`${base}/dags/kubernetes_sample`);
    await phone.locator('a.cell').first().waitFor();
    await shot('09-phone-dark-grid', phone);
    await phone.close();
  });
});
