import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AloftApiError, AloftHttpClient } from '@aloft/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiTokens, adminPassword, launchChromium, signIn } from './support/dashboard.js';
import { aloftCli } from './support/cli.js';
import { ROOT, System, waitFor, type Service } from './support/system.js';

/**
 * A DAG whose file is gone can be deleted with its history, as Airflow's `dags delete`: from
 * the CLI, the REST API and the DAG page. A DAG a file still defines is refused (the
 * scheduler would store it again), and so is a viewer.
 */
describe('deleting a DAG whose file is gone (CLI, API, web UI; real services)', () => {
  const folder = join(ROOT, '.test-results', `delete-dags-${process.pid}`);
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  const ids = ['gone_cli', 'gone_api', 'gone_ui'];
  for (const id of ['kept', ...ids]) {
    writeFileSync(
      join(folder, `${id}.ts`),
      `import { dag } from '@aloft/core/dag';\nconst d = dag({ id: '${id}' });\nd.command({ id: 'say', command: 'echo ${id} ran' });\n`,
    );
  }
  const sys = new System({ dagsFolder: folder });
  let dash: Service;
  let base = '';
  let op: AloftHttpClient;
  let viewer: AloftHttpClient;
  const cli = (...args: string[]) => aloftCli(sys, ...args);

  beforeAll(async () => {
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker-1');
    dash = await sys.spawn('dashboard', 'dashboard');
    await waitFor('four DAGs stored', async () => (await sys.client.listDags()).length === 4, 60_000);
    const made = await apiTokens(sys, dash, { 'del-operator': 'operator', 'del-viewer': 'viewer' });
    base = made.base;
    op = new AloftHttpClient({ baseUrl: base, token: made.tokens['del-operator']! });
    viewer = new AloftHttpClient({ baseUrl: base, token: made.tokens['del-viewer']! });
    // Each DAG gets a finished run with a log: the history that goes with it.
    for (const id of ids) {
      const run = await sys.client.trigger(id);
      expect((await sys.client.waitForRun(id, run.runId, { timeoutMs: 60_000 })).state).toBe('success');
    }
    for (const id of ids) rmSync(join(folder, `${id}.ts`));
    await waitFor('the three DAGs marked missing', async () => (await sys.client.listDags()).filter((d) => d.missing).length === 3, 60_000);
  }, 240_000);
  afterAll(async () => {
    await sys.stop();
    rmSync(folder, { recursive: true, force: true });
  });

  /** Keys under the system's prefix that name the DAG (BullMQ's own finished jobs aside). */
  const keysNaming = async (id: string) => (await sys.client.store.redis.keys(`${sys.prefix}:*${id}*`)).filter((k) => !k.includes(':bull:'));

  it('CLI: refuses a DAG a file still defines, asks for --yes, then deletes the DAG with its runs and logs', async () => {
    const kept = await cli('dags', 'delete', 'kept', '--yes');
    expect(kept.code).toBe(1);
    expect(kept.err).toMatch(/DAG "kept" is still defined by .*kept\.ts: remove it from that file first/);
    expect((await cli('dags', 'delete', 'gone_cli')).code).toBe(2);
    expect((await keysNaming('gone_cli')).length).toBeGreaterThan(0);

    expect(await cli('dags', 'delete', 'gone_cli', '--yes')).toMatchObject({ code: 0, out: 'deleted DAG gone_cli and its 1 run(s)\n' });
    expect(await keysNaming('gone_cli')).toEqual([]);
    expect((await cli('dags', 'list')).out).not.toContain('gone_cli');
    const again = await cli('dags', 'delete', 'gone_cli', '--yes');
    expect(again.code).toBe(1);
    expect(again.err).toContain('dag "gone_cli" not found');
  });

  it('API: a viewer may not delete; an operator deletes; a DAG a file defines is a 409', async () => {
    const denied = await viewer.deleteDag('gone_api').catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(AloftApiError);
    expect((denied as AloftApiError).status).toBe(403);
    const conflict = (await op.deleteDag('kept').catch((e: unknown) => e)) as AloftApiError;
    expect([conflict.status, conflict.field]).toEqual([409, 'dagId']);
    expect(await op.deleteDag('gone_api')).toEqual({ dagId: 'gone_api', runs: 1 });
    expect(await keysNaming('gone_api')).toEqual([]);
    expect(((await op.deleteDag('gone_api').catch((e: unknown) => e)) as AloftApiError).status).toBe(404);
  });

  it('web UI: a missing DAG says so and has a Delete button that asks, deletes and goes back to the list', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await signIn(page, base, '/dags/gone_ui', await adminPassword(sys));
      await page.getByRole('note').filter({ hasText: 'The file that defined this DAG is gone' }).waitFor();
      await page.screenshot({ path: join(ROOT, '.test-results', 'delete-dag-page.png'), fullPage: true });
      await page.getByRole('button', { name: 'Delete DAG' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Delete DAG' }).click();
      await page.waitForURL(`${base}/`);
      await waitFor('gone_ui deleted', async () => !(await sys.client.listDags()).some((d) => d.dag.id === 'gone_ui'));
      expect(await keysNaming('gone_ui')).toEqual([]);
      // A DAG with its file has no Delete button.
      await page.goto(`${base}/dags/kept`);
      await page.getByRole('button', { name: 'Trigger' }).waitFor();
      expect(await page.getByRole('button', { name: 'Delete DAG' }).count()).toBe(0);
    } finally {
      await browser.close();
    }
  });
});
