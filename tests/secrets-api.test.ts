import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminPassword, apiTokens, launchChromium, signIn } from './support/dashboard.js';
import { ROOT, System, waitFor } from './support/system.js';

const TMP = join(ROOT, '.test-results', `secrets-api-${process.pid}`);
const DAGS = join(TMP, 'dags');
const KEYS = `k1:${Buffer.alloc(32, 8).toString('base64')}`;
const PASSWORD = 'api-hunter2-4d1c';
const UI_PASSWORD = 'ui-hunter2-7a2e';
const TOKEN = 'api-token-secret-93b0';

/**
 * Connections and variables through the dashboard: its REST API and its Connections page.
 * Secrets are write-only (no answer carries them), viewers see names only, changes are the
 * operator's and audited, and a task reads what the API stored.
 */
describe('connections and variables through the dashboard (real redis-server, worker, Chromium)', () => {
  const sys = new System({ dagsFolder: DAGS, env: { ALOFT_SECRETS_KEYS: KEYS } });
  let base = '';
  let tokens: Record<string, string> = {};
  const call = async (who: string, method: string, path: string, body?: unknown) => {
    const r = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${tokens[who]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };

  beforeAll(async () => {
    rmSync(TMP, { recursive: true, force: true });
    mkdirSync(DAGS, { recursive: true });
    writeFileSync(
      join(DAGS, 'reads_store.ts'),
      `import { dag } from '@aloft/core/dag';
const d = dag({ id: 'reads_store' });
d.fn({ id: 'use', run: async (ctx) => { const c = await ctx.conn('billing'); console.log('billing at', c.host, 'with', c.password); return { host: c.host, token: await ctx.variable('billing_token') }; } });
`,
    );
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker');
    const dash = await sys.spawn('dashboard', 'dashboard');
    ({ base, tokens } = await apiTokens(sys, dash, { viewer: 'viewer', operator: 'operator' }));
  }, 120_000);
  afterAll(async () => {
    await sys.stop();
    rmSync(TMP, { recursive: true, force: true });
  });

  it('stores a connection and variables for the operator and never answers with a secret', async () => {
    const put = await call('operator', 'PUT', '/connections/billing', {
      uri: 'postgres://billing@db.billing.internal:5432/ledger?sslmode=require',
      password: PASSWORD,
      description: 'ledger',
    });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({
      id: 'billing',
      type: 'postgres',
      host: 'db.billing.internal',
      login: 'billing',
      hasPassword: true,
      extraKeys: ['sslmode'],
      updatedBy: 'token:operator',
    });
    expect((await call('operator', 'PUT', '/variables/billing_token', { value: TOKEN })).json).toMatchObject({ key: 'billing_token', secret: true });
    expect((await call('operator', 'PUT', '/variables/region', { value: 'eu-west-1' })).json).toMatchObject({ key: 'region', secret: false });
    const reads = [
      await call('operator', 'GET', '/connections'),
      await call('operator', 'GET', '/connections/billing'),
      await call('operator', 'GET', '/variables'),
      await call('viewer', 'GET', '/connections'),
      await call('viewer', 'GET', '/variables'),
    ];
    for (const r of reads) {
      expect(r.status).toBe(200);
      expect(r.text).not.toContain(PASSWORD);
      expect(r.text).not.toContain(TOKEN);
      expect(r.text).not.toContain('require');
    }
    expect((reads[2]!.json['variables'] as { key: string; value?: string }[]).map((v) => [v.key, v.value])).toEqual([
      ['billing_token', undefined],
      ['region', 'eu-west-1'],
    ]);
    // A viewer sees names only.
    expect(reads[3]!.json).toEqual({ connections: [{ id: 'billing' }] });
    expect(reads[4]!.json).toEqual({ variables: [{ key: 'billing_token' }, { key: 'region' }] });
  });

  it('refuses a viewer’s change, a bad body and an unknown name with a 4xx naming why', async () => {
    expect(await call('viewer', 'PUT', '/variables/x', { value: '1' })).toMatchObject({ status: 403, json: { field: 'role' } });
    expect(await call('viewer', 'GET', '/connections/billing')).toMatchObject({ status: 403 });
    expect(await call('operator', 'PUT', '/connections/bad', { uri: 'postgres://h', host: 'x' })).toMatchObject({ status: 400, json: { field: 'uri' } });
    expect(await call('operator', 'PUT', '/connections/bad', { host: 'x' })).toMatchObject({ status: 400, json: { field: 'type' } });
    expect(await call('operator', 'PUT', '/connections/bad', { type: 'pg', colour: 'red' })).toMatchObject({ status: 400 });
    expect(await call('operator', 'PUT', '/connections/..%2Fetc', { type: 'pg' })).toMatchObject({ status: 400, json: { field: 'id' } });
    expect(await call('operator', 'DELETE', '/variables/never_set')).toMatchObject({ status: 404, json: { error: 'variable "never_set" not found' } });
    expect(await call('operator', 'PUT', '/variables/x', { value: 5 })).toMatchObject({ status: 400, json: { field: 'value' } });
  });

  it('hands a task what the API stored, masked in its log and output', async () => {
    const run = await sys.client.trigger('reads_store');
    const done = await sys.client.waitForRun('reads_store', run.runId, { timeoutMs: 60_000 });
    expect(done.state).toBe('success');
    const log = (await sys.client.getLog('reads_store', run.runId, 'use')).map((l) => l.line);
    expect(log).toContain('billing at db.billing.internal with ***');
    expect(await sys.client.getOutput('reads_store', run.runId, 'use')).toEqual({ host: 'db.billing.internal', token: '***' });
  });

  it('takes the CLI’s changes through the API with --server, the token’s name as who', async () => {
    const cli = (args: string[], stdin = '') =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const env: NodeJS.ProcessEnv = { ...process.env, ALOFT_SERVER: base, ALOFT_TOKEN: tokens['operator'] };
        delete env['REDIS_URL'];
        const child = spawn(process.execPath, [join(ROOT, 'scripts', 'aloft.mjs'), ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d));
        child.stderr.on('data', (d: Buffer) => (stderr += d));
        child.stdin.end(stdin);
        child.on('exit', (code) => resolve({ code, stdout, stderr }));
      });
    expect(await cli(['connections', 'add', 'crm', '--stdin'], '{"type":"http","host":"crm.internal","password":"crm-secret-61f0"}')).toMatchObject({
      code: 0,
      stdout: 'connection "crm" saved (http crm.internal, password sealed)\n',
    });
    const list = await cli(['--json', 'connections', 'list']);
    expect(JSON.parse(list.stdout).map((c: { id: string; updatedBy: string }) => `${c.id} ${c.updatedBy}`)).toContain('crm token:operator');
    expect(list.stdout).not.toContain('crm-secret-61f0');
    await call('operator', 'PUT', '/variables/cli_region', { value: 'eu-central-1' });
    expect((await cli(['variables', 'get', 'cli_region'])).stdout).toBe('eu-central-1\n');
    expect(await cli(['secrets', 'rotate'])).toMatchObject({
      code: 2,
      stderr: 'aloft: secrets rotate runs where the keyring is, straight in Redis: leave out --server\n',
    });
  }, 180_000);

  it('shows the Connections page: the operator adds one, its password never comes back', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const bodies: string[] = [];
      page.on('response', (r) => {
        if (r.url().includes('/api/v1/'))
          void r.text().then(
            (t) => bodies.push(t),
            () => undefined,
          );
      });
      await signIn(page, base, '/connections', await adminPassword(sys));
      await page.waitForSelector('tr[data-connection=billing]');
      await page.fill('form[data-form=connection] input[name=id]', 'warehouse');
      await page.fill('form[data-form=connection] input[name=type]', 'postgres');
      await page.fill('form[data-form=connection] input[name=host]', 'wh.internal');
      await page.fill('form[data-form=connection] input[name=password]', UI_PASSWORD);
      await page.click('form[data-form=connection] button[type=submit]');
      const row = await page.waitForSelector('tr[data-connection=warehouse]');
      expect(await row.innerText()).toContain('wh.internal');
      expect(await row.innerText()).toContain('set');
      await page.waitForSelector('.audit li');
      expect(await page.locator('.audit').innerText()).toContain('admin created connection warehouse');
      await page.screenshot({ path: join(ROOT, '.test-results', 'connections-page.png'), fullPage: true });
      expect(await page.content()).not.toContain(UI_PASSWORD);
      await waitFor('the responses read', async () => bodies.length >= 3);
      for (const b of bodies) expect(b).not.toContain(UI_PASSWORD);
      expect((await call('operator', 'GET', '/secrets/audit')).json['audit']).toEqual(
        expect.arrayContaining([expect.objectContaining({ actor: 'token:operator', action: 'created', kind: 'connection', id: 'billing' })]),
      );
    } finally {
      await browser.close();
    }
  }, 60_000);
});
