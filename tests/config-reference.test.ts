import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_VARIABLES } from '@aloft/dashboard/config';
import { SCHEDULER_VARIABLES } from '@aloft/scheduler/config';
import { WORKER_VARIABLES } from '@aloft/worker/config';
import { ROOT } from './support/system.js';

/** The README's configuration reference against the variables the apps' config schemas read. */
describe('configuration reference', () => {
  it('the README lists exactly the variables the scheduler, worker and dashboard read', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('\n## Configuration\n'), readme.indexOf('\n## ', readme.indexOf('\n## Configuration\n') + 1));
    const listed = section
      .split('\n')
      .filter((l) => l.startsWith('| `'))
      .flatMap((l) => [...(l.split('|')[1] ?? '').matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1]!));
    const read = new Set([...SCHEDULER_VARIABLES, ...WORKER_VARIABLES, ...DASHBOARD_VARIABLES]);
    expect([...new Set(listed)].sort()).toEqual([...read].sort());
  });
});
