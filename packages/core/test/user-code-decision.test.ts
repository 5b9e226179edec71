import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { userCodeDecision } from '../src/security/user-code.js';

// Judged from mode bits alone, so it needs no root: `nobody` owns none of these paths.
const nobody = { uid: 65534, gid: 65534, name: 'nobody' };
const top = mkdtempSync(join(tmpdir(), 'aloft-decision-'));
afterAll(() => rmSync(top, { recursive: true, force: true }));

function dir(name: string, mode: number, parent = top): string {
  const d = join(parent, name);
  mkdirSync(d);
  chmodSync(d, mode);
  return d;
}

describe('userCodeDecision', () => {
  chmodSync(top, 0o755);
  const open = dir('open', 0o755);
  const file = join(open, 'dag.ts');
  writeFileSync(file, '');
  chmodSync(file, 0o644);
  const closed = dir('closed', 0o700);
  const inner = dir('inner', 0o755, closed);
  const secret = join(open, 'secret.ts');
  writeFileSync(secret, '');
  chmodSync(secret, 0o600);

  it.each([
    { case: 'no identity asked for', who: undefined, needs: [{ path: closed, kind: 'dir' as const }], want: { identity: undefined } },
    {
      case: 'everything readable',
      who: nobody,
      needs: [
        { path: open, kind: 'dir' as const },
        { path: file, kind: 'file' as const },
      ],
      want: { identity: nobody },
    },
    { case: 'a closed folder', who: nobody, needs: [{ path: closed, kind: 'dir' as const }], want: { identity: undefined, blocked: `${closed} (mode 0700)` } },
    {
      case: 'an open folder under a closed one',
      who: nobody,
      needs: [
        { path: open, kind: 'dir' as const },
        { path: inner, kind: 'dir' as const },
      ],
      want: { identity: undefined, blocked: `${closed} (mode 0700)` },
    },
    { case: 'a private file', who: nobody, needs: [{ path: secret, kind: 'file' as const }], want: { identity: undefined, blocked: `${secret} (mode 0600)` } },
    {
      case: 'a missing file',
      who: nobody,
      needs: [{ path: join(open, 'gone.ts'), kind: 'file' as const }],
      want: { identity: undefined, blocked: `${join(open, 'gone.ts')} (missing)` },
    },
  ])('$case', ({ who, needs, want }) => {
    expect(userCodeDecision(who, needs)).toEqual(want);
  });
});
