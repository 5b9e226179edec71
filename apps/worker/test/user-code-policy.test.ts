import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserCodePolicy } from '../src/user-code-policy.js';

const nobody = { uid: 65534, gid: 65534, name: 'nobody' };
const base = { PATH: '/usr/bin:/bin', HOME: '/root', TMPDIR: '/var/tmp', REDIS_URL: 'redis://:pw@h:6379', ALOFT_REDIS_SENTINEL_PASSWORD: 'pw' };
const root = mkdtempSync(join(tmpdir(), 'aloft-policy-'));
const closed = mkdtempSync(join(tmpdir(), 'aloft-policy-closed-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(closed, { recursive: true, force: true });
});

function logger() {
  const warnings: string[] = [];
  return { warnings, logger: { warn: (_o: unknown, msg: string) => void warnings.push(msg) } as never };
}

describe('who runs user code', () => {
  chmodSync(root, 0o755);

  it("falls back to the worker's user with one warning naming the folder the user cannot read", () => {
    const l = logger();
    // mkdtemp makes 0700 folders, as the tests' DAG folders often are.
    const p = new UserCodePolicy({ identity: nobody, reads: [{ path: closed, kind: 'dir' }], baseEnv: base, logger: l.logger });
    expect(p.identity).toBeUndefined();
    expect(l.warnings).toHaveLength(1);
    expect(l.warnings[0]).toContain(`"nobody" cannot read ${closed}`);
    expect(p.forCwd(closed)).toEqual({ who: undefined });
  });

  it('runs as the user when it can read everything, except commands in a folder it cannot enter (said once)', () => {
    const l = logger();
    const p = new UserCodePolicy({ identity: nobody, reads: [{ path: root, kind: 'dir' }], baseEnv: base, logger: l.logger });
    expect(p.identity).toEqual(nobody);
    expect(l.warnings).toEqual([]);
    expect(p.forCwd(root)).toEqual({ who: nobody });
    expect(p.forCwd(undefined)).toEqual({ who: nobody });
    const why = `runs as the worker's own user: "nobody" cannot enter ${closed}`;
    expect(p.forCwd(closed)).toEqual({ who: undefined, why });
    expect(p.forCwd(closed)).toEqual({ who: undefined, why });
    expect(l.warnings).toHaveLength(1);
  });

  it('gives user code the allow-listed environment only, with a HOME the user can write', () => {
    const p = new UserCodePolicy({ identity: nobody, reads: [], baseEnv: base, logger: logger().logger });
    expect(p.env(nobody, { ALOFT_DAG_ID: 'd' })).toEqual({ PATH: '/usr/bin:/bin', TMPDIR: '/var/tmp', HOME: '/var/tmp', USER: 'nobody', ALOFT_DAG_ID: 'd' });
    expect(p.env(undefined)).toEqual({ PATH: '/usr/bin:/bin', TMPDIR: '/var/tmp', HOME: '/root' });
  });
});
