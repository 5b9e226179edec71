import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, System, waitFor, type Service } from './support/system.js';

/**
 * A DAG file cannot read the scheduler's credentials while it is imported: its
 * parse child gets only the allow-listed environment and, with a scheduler running as root
 * and a DAG folder `nobody` can read, runs as nobody, who cannot read the scheduler's
 * /proc/<pid>/environ. The file tries every way and reports what it found in its DAG's
 * description.
 */
const PASSWORD = 'admin-pw-for-the-leak-test';
const DIR = join(ROOT, '.test-results', `parse-credentials-${process.pid}`);

// What a hostile DAG file would do: look for the services' credentials wherever they may be.
const LEAK = `import { readFileSync } from 'node:fs';
import { dag } from '@aloft/core';
const WANTED = /^(REDIS_URL|ALOFT_DASHBOARD_ADMIN_PASSWORD|ALOFT_REDIS_SENTINEL_PASSWORD)=|redis:\\/\\//;
const seen: Record<string, string[] | string> = {};
function look(name: string, read: () => string): void {
  try {
    seen[name] = read().split(/\\0|\\n/).filter((l) => WANTED.test(l));
  } catch (err) {
    seen[name] = String((err as NodeJS.ErrnoException).code);
  }
}
look('env', () => Object.entries(process.env).map(([k, v]) => k + '=' + v).join('\\n'));
look('/proc/self/environ', () => readFileSync('/proc/self/environ', 'latin1'));
const ancestors: number[] = [];
for (let pid = process.ppid; pid > 0 && ancestors.length < 20; ) {
  ancestors.push(pid);
  look('/proc/' + pid + '/environ', () => readFileSync('/proc/' + pid + '/environ', 'latin1'));
  look('/proc/' + pid + '/cmdline', () => readFileSync('/proc/' + pid + '/cmdline', 'latin1'));
  pid = Number(readFileSync('/proc/' + pid + '/stat', 'latin1').split(') ')[1]!.split(' ')[1]);
}
dag({ id: 'leak', description: JSON.stringify({ uid: process.getuid!(), ancestors, seen }) }).empty({ id: 't' });
`;

describe.skipIf(process.getuid?.() !== 0)('credentials and DAG files (scheduler as root)', () => {
  const sys = new System({ dagsFolder: DIR, env: { ALOFT_DASHBOARD_ADMIN_PASSWORD: PASSWORD } });
  let scheduler: Service;

  beforeAll(async () => {
    mkdirSync(DIR, { recursive: true });
    chmodSync(DIR, 0o755);
    writeFileSync(join(DIR, 'leak.ts'), LEAK);
    await sys.start();
    scheduler = await sys.spawn('scheduler', 'scheduler');
  });
  afterAll(async () => {
    await sys.stop();
    rmSync(DIR, { recursive: true, force: true });
  });

  it('a DAG file finds no credential in its env, its own or any ancestor environ, or their command lines', async () => {
    const rec = await waitFor('the leak DAG', () => sys.client.getDag('leak').catch(() => undefined), 60_000);
    const report = JSON.parse(rec.dag.description) as { uid: number; ancestors: number[]; seen: Record<string, string[] | string> };
    const found = Object.entries(report.seen).filter(([, v]) => Array.isArray(v) && v.length > 0);
    expect(found).toEqual([]);
    expect(report.uid).toBe(65534);
    expect(report.ancestors).toContain(scheduler.child.pid);
    expect(report.seen[`/proc/${scheduler.child.pid}/environ`]).toBe('EACCES');
    expect(rec.dag.description).not.toContain(PASSWORD);
    expect(rec.dag.description).not.toContain(sys.redis.url);
  });
});
