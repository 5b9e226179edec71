import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT, waitFor, type Service, type System } from './system.js';

/** The admin password a fresh dashboard generates and prints once in its log. */
export function adminPassword(sys: System, dashboard = 'dashboard'): Promise<string> {
  const log = join(ROOT, '.test-results', 'logs', `${sys.prefix}-${dashboard}.log`);
  return waitFor(
    'the generated admin password in the log',
    async () => /user \\"admin\\" with password (\S+) \(shown once/.exec(readFileSync(log, 'utf8'))?.[1],
  );
}

/** Signs in as admin and creates an API token with this role; returns the token. */
export async function createToken(base: string, password: string, name: string, role: 'viewer' | 'operator' | 'admin'): Promise<string> {
  const signIn = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: 'admin', password, next: '/' }),
  });
  if (signIn.status !== 303) throw new Error(`signing in as admin answered ${signIn.status}`);
  const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
  const r = await fetch(`${base}/api/v1/tokens`, {
    method: 'POST',
    headers: { origin: base, cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ name, role }),
  });
  if (r.status !== 201) throw new Error(`creating token ${name} answered ${r.status}`);
  return ((await r.json()) as { token: string }).token;
}

/**
 * Opens `path` in the browser, signs in on the form it is sent to, and waits until it is
 * back on `path` (the sign-in form returns where it was asked for).
 */
export async function signIn(page: Page, base: string, path: string, password: string): Promise<void> {
  await page.goto(`${base}${path}`);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}${path}`);
}

/** Debian's Chromium, never a downloaded browser. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/**
 * Starts the system with a scheduler, one worker and a dashboard; resolves to the
 * dashboard's base URL once it is ready and the DAG `dagId` is stored.
 */
export async function startWithDashboard(sys: System, dagId: string, workerEnv: Record<string, string> = {}): Promise<string> {
  await sys.start();
  await sys.spawn('scheduler', 'scheduler');
  await sys.spawn('worker', 'worker-1', workerEnv);
  const dash = await sys.spawn('dashboard', 'dashboard');
  const base = `http://127.0.0.1:${dash.port}`;
  await waitFor('the dashboard', async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.ok, 60_000);
  await waitFor(`DAG ${dagId} stored`, async () => (await sys.client.listDags()).some((d) => d.dag.id === dagId), 60_000);
  return base;
}

/**
 * Signs in to a dashboard the system spawned, with the admin password it printed once,
 * and creates an API token per role: what a team does on day one.
 */
export async function apiTokens(
  sys: System,
  dash: Service,
  roles: Record<string, 'viewer' | 'operator' | 'admin'>,
): Promise<{ base: string; tokens: Record<string, string> }> {
  const base = `http://127.0.0.1:${dash.port}`;
  await waitFor('the dashboard', async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.ok, 60_000);
  const password = await adminPassword(sys, dash.name);
  const tokens: Record<string, string> = {};
  for (const [name, role] of Object.entries(roles)) tokens[name] = await createToken(base, password, name, role);
  return { base, tokens };
}

/** What a sign-in POST answered: status, where it redirects, and the cookies it set (name=value). */
export interface SignInAnswer {
  status: number;
  location: string | undefined;
  cookies: string[];
  body: string;
}

/**
 * A browser's sign-in POST sent from a chosen local address. Linux routes all of
 * 127.0.0.0/8 to the loopback interface, so `127.0.0.N` are distinct clients to the server.
 */
export function signInFrom(base: string, from: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<SignInAnswer> {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}/login`,
      {
        method: 'POST',
        localAddress: from,
        headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            location: res.headers.location,
            cookies: (res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!),
            body: text,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
