import { statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { canRead, userCodeIdentity, type UserCodeIdentity } from '@aloft/core';

/**
 * Who imports DAG files: the user-code identity (ALOFT_USER_CODE_USER; `nobody` when the
 * scheduler runs as root), but only if that user can read everything an import needs. If not,
 * the import runs as the scheduler's own user and `warning` says why, naming the first path
 * in the way and its mode: "user code runs as root: nobody cannot read /tmp/abc (mode 0700)".
 */
export function parseIdentity(setting: string | undefined, folder: string, files: readonly string[]): { identity: UserCodeIdentity | undefined; warning?: string } {
  const who = userCodeIdentity(setting);
  if (!who) return { identity: undefined };
  const needs: [string, 'dir' | 'file'][] = [[folder, 'dir'], ...files.map((f): [string, 'file'] => [f, 'file'])];
  for (const [path, kind] of needs) {
    if (canRead(who, path, kind)) continue;
    const blocker = firstBlocker(who, path);
    return { identity: undefined, warning: `user code runs as ${self()}: ${who.name} cannot read ${blocker}` };
  }
  return { identity: who };
}

/** The path in the way and its mode: the first folder above `path` that `who` cannot pass, or `path` itself. */
function firstBlocker(who: UserCodeIdentity, path: string): string {
  const full = resolve(path);
  const above: string[] = [];
  for (let d = dirname(full); ; d = dirname(d)) {
    above.unshift(d);
    if (d === dirname(d)) break;
  }
  const blocked = above.find((d) => !traversable(who, d)) ?? full;
  return `${blocked} (${modeOf(blocked)})`;
}

function traversable(who: UserCodeIdentity, dir: string): boolean {
  try {
    const st = statSync(dir);
    const shift = st.uid === who.uid ? 6 : st.gid === who.gid ? 3 : 0;
    return ((st.mode >> shift) & 1) === 1;
  } catch {
    return false;
  }
}

function modeOf(path: string): string {
  try {
    return `mode ${(statSync(path).mode & 0o7777).toString(8).padStart(4, '0')}`;
  } catch {
    return 'missing';
  }
}

function self(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}
