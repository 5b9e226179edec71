import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Who runs user code (DAG file imports, `fn` tasks, commands): a uid and gid other than the
 * services', so that it cannot read their environment (`/proc/<pid>/environ`), memory or
 * credential files. Only a service running as root can start processes as another user;
 * otherwise user code runs as the service's own user and the services must keep their
 * credentials out of their environment (the `*_FILE` settings).
 */
export interface UserCodeIdentity {
  uid: number;
  gid: number;
  /** The account's name, for messages. */
  name: string;
}

/** The variables user code inherits from a service (commands add their task's `env`). */
export const USER_CODE_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER', 'SHELL'] as const;

/**
 * The identity user code runs as, from ALOFT_USER_CODE_USER (a user name or numeric uid):
 * by default `nobody` when the service runs as root, and the service's own user otherwise
 * (`undefined`: spawn without uid/gid). `root` (or the service's own uid) turns it off.
 */
export function userCodeIdentity(setting: string | undefined, passwd = '/etc/passwd'): UserCodeIdentity | undefined {
  const self = process.getuid?.();
  if (self === undefined) return undefined;
  const wanted = setting?.trim() || (self === 0 ? 'nobody' : '');
  if (!wanted) return undefined;
  const found = lookupUser(wanted, passwd);
  if (!found) throw new Error(`ALOFT_USER_CODE_USER: no user "${wanted}" in ${passwd}`);
  if (found.uid === self) return undefined;
  if (self !== 0) throw new Error(`ALOFT_USER_CODE_USER: running user code as "${wanted}" needs the service to run as root (it runs as uid ${self})`);
  return found;
}

function lookupUser(nameOrUid: string, passwd: string): UserCodeIdentity | undefined {
  let lines: string[] = [];
  try {
    lines = readFileSync(passwd, 'utf8').split('\n');
  } catch {
    // No passwd file: only a numeric uid can be used, with the same gid.
  }
  for (const l of lines) {
    const [name, , uid, gid] = l.split(':');
    if (name === undefined || uid === undefined || gid === undefined) continue;
    if (name === nameOrUid || uid === nameOrUid) return { uid: Number(uid), gid: Number(gid), name };
  }
  if (/^\d+$/.test(nameOrUid)) return { uid: Number(nameOrUid), gid: Number(nameOrUid), name: nameOrUid };
  return undefined;
}

/**
 * Whether `who` may read `path` (and so traverse every folder above it), judged from the
 * mode bits the way the kernel does for a non-root user. `dir` asks for a folder it can list.
 */
export function canRead(who: UserCodeIdentity, path: string, kind: 'file' | 'dir' = 'file'): boolean {
  const full = resolve(path);
  for (let d = dirname(full); ; d = dirname(d)) {
    if (!allows(who, d, 1)) return false;
    if (d === dirname(d)) break;
  }
  return allows(who, full, kind === 'dir' ? 5 : 4);
}

/** A path user code must be able to read (a `dir` it can list) for running as another user to work. */
export interface UserCodeNeed {
  path: string;
  kind: 'file' | 'dir';
}

/**
 * Whether user code can run as `who` at all: only if that user can read every path in `needs`
 * (the DAG folder, the service's own code that a user-code process loads, …). The one decision
 * the scheduler's imports, the worker's commands and functions, and the pod stand-in share.
 * When it cannot, `identity` is undefined (user code runs as the service's own user) and
 * `blocked` names the first path in the way with its mode: `/tmp/abc (mode 0700)`.
 */
export function userCodeDecision(
  who: UserCodeIdentity | undefined,
  needs: readonly UserCodeNeed[],
): { identity: UserCodeIdentity | undefined; blocked?: string } {
  if (!who) return { identity: undefined };
  const need = needs.find((n) => !canRead(who, n.path, n.kind));
  return need ? { identity: undefined, blocked: firstBlocker(who, need.path) } : { identity: who };
}

/** The path in the way and its mode: the first folder above `path` that `who` cannot pass, or `path` itself. */
function firstBlocker(who: UserCodeIdentity, path: string): string {
  const full = resolve(path);
  const above: string[] = [];
  for (let d = dirname(full); ; d = dirname(d)) {
    above.unshift(d);
    if (d === dirname(d)) break;
  }
  const blocked = above.find((d) => !allows(who, d, 1)) ?? full;
  let mode = 'missing';
  try {
    mode = `mode ${(statSync(blocked).mode & 0o7777).toString(8).padStart(4, '0')}`;
  } catch {
    // Gone or unreadable to the service as well: said as missing.
  }
  return `${blocked} (${mode})`;
}

/** Whether the mode bits of `p` give `who` the `bit`s (4 read, 1 pass), as the kernel judges a non-root user. */
function allows(who: UserCodeIdentity, p: string, bit: number): boolean {
  let st;
  try {
    st = statSync(p);
  } catch {
    return false;
  }
  const shift = st.uid === who.uid ? 6 : st.gid === who.gid ? 3 : 0;
  return ((st.mode >> shift) & bit) === bit;
}

/**
 * The environment user code starts with: the allow-listed variables of `base` (never a
 * service's credential: those are not on the list) plus `extra`, which wins.
 */
export function userCodeEnv(base: NodeJS.ProcessEnv, extra: Record<string, string> = {}, who?: UserCodeIdentity): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of USER_CODE_ENV) if (base[k] !== undefined) env[k] = base[k]!;
  if (who) {
    env['USER'] = who.name;
    // The service's HOME is usually not the other user's to write.
    env['HOME'] = base['TMPDIR'] ?? '/tmp';
  }
  return { ...env, ...extra };
}
