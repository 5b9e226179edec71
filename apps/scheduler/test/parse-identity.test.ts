import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseIdentity } from '../src/parse-identity.js';

/** Who DAG files are imported as, when the scheduler runs as root. */
const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function folder(mode: number, parent = tmpdir()): string {
  const dir = mkdtempSync(join(parent, 'aloft-dags-'));
  chmodSync(dir, mode);
  made.push(dir);
  return dir;
}

describe.skipIf(process.getuid?.() !== 0)('parseIdentity (scheduler as root)', () => {
  it('is nobody when nobody can read the DAG folder and what the import needs', () => {
    expect(parseIdentity(undefined, folder(0o755), [process.execPath])).toEqual({ identity: expect.objectContaining({ name: 'nobody', uid: 65534 }) });
  });

  it('is the scheduler itself when the DAG folder is closed to nobody, saying which path and mode', () => {
    const closed = folder(0o700);
    expect(parseIdentity(undefined, closed, [])).toEqual({ identity: undefined, warning: `user code runs as root: nobody cannot read ${closed} (mode 0700)` });
  });

  it('names the closed folder above an open one', () => {
    const closed = folder(0o700);
    const open = join(closed, 'dags');
    mkdirSync(open, { mode: 0o755 });
    expect(parseIdentity('nobody', open, []).warning).toBe(`user code runs as root: nobody cannot read ${closed} (mode 0700)`);
  });

  it('is the scheduler itself when asked for root', () => {
    expect(parseIdentity('root', folder(0o755), [])).toEqual({ identity: undefined });
  });
});
