import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, waitFor, type Service, type System } from './system.js';

/**
 * Signs in to a dashboard the system spawned, with the admin password it printed once,
 * and creates an API token per role: what a team does on day one.
 */
export async function apiTokens(sys: System, dash: Service, roles: Record<string, 'viewer' | 'operator' | 'admin'>): Promise<{ base: string; tokens: Record<string, string> }> {
  const base = `http://127.0.0.1:${dash.port}`;
  await waitFor('the dashboard', async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.ok);
  const log = join(ROOT, '.test-results', 'logs', `${sys.prefix}-${dash.name}.log`);
  const password = await waitFor('the generated admin password in the log', async () => /user \\"admin\\" with password (\S+) \(shown once/.exec(readFileSync(log, 'utf8'))?.[1]);
  const signIn = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: 'admin', password, next: '/' }),
  });
  if (signIn.status !== 303) throw new Error(`sign-in answered ${signIn.status}`);
  const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
  const tokens: Record<string, string> = {};
  for (const [name, role] of Object.entries(roles)) {
    const r = await fetch(`${base}/api/v1/tokens`, {
      method: 'POST',
      headers: { origin: base, cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ name, role }),
    });
    if (r.status !== 201) throw new Error(`creating token ${name} answered ${r.status}`);
    tokens[name] = ((await r.json()) as { token: string }).token;
  }
  return { base, tokens };
}
