import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/system.js';

/**
 * `pnpm lint` keeps the architecture: each file of tests/fixtures/lint breaks one rule of
 * eslint.config.js (which leaves that folder out of the real run) and must be reported for
 * it, with types where the rule needs them; clean.ts breaks none.
 */
interface Report {
  filePath: string;
  messages: { ruleId: string | null; message: string }[];
}

const FIXTURES = join(ROOT, 'tests', 'fixtures', 'lint');

describe('the lint rules', () => {
  it('report a floating promise, a misused one, a non-exhaustive switch, a value import of a type, another package’s src and an import cycle', () => {
    const run = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'eslint', 'bin', 'eslint.js'), '--no-ignore', '--format', 'json', FIXTURES], {
      cwd: ROOT,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(run.stderr).toBe('');
    const reports = JSON.parse(run.stdout) as Report[];
    const rules = Object.fromEntries(reports.map((r) => [r.filePath.slice(FIXTURES.length + 1), r.messages.map((m) => m.ruleId ?? m.message)]));
    expect(rules).toEqual({
      'clean.ts': [],
      'cross-package-src.ts': ['no-restricted-imports'],
      'cycle-a.ts': ['import-x/no-cycle'],
      'cycle-b.ts': ['import-x/no-cycle'],
      'floating-promise.ts': ['@typescript-eslint/no-floating-promises'],
      'misused-promise.ts': ['@typescript-eslint/no-misused-promises'],
      'non-exhaustive-switch.ts': ['@typescript-eslint/switch-exhaustiveness-check'],
      'value-import-of-a-type.ts': ['@typescript-eslint/consistent-type-imports'],
    });
    expect(run.status).toBe(1);
  });
});
