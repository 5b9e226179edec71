import { userInfo } from 'node:os';
import { userCodeDecision, userCodeIdentity, type UserCodeIdentity } from '@aloft/core';

/**
 * Who imports DAG files: the user-code identity (ALOFT_USER_CODE_USER; `nobody` when the
 * scheduler runs as root), but only if that user can read everything an import needs
 * (userCodeDecision). If not, the import runs as the scheduler's own user and `warning` says
 * why, naming the first path in the way and its mode: "user code runs as root: nobody cannot
 * read /tmp/abc (mode 0700)".
 */
export function parseIdentity(
  setting: string | undefined,
  folder: string,
  files: readonly string[],
): { identity: UserCodeIdentity | undefined; warning?: string } {
  const who = userCodeIdentity(setting);
  const d = userCodeDecision(who, [{ path: folder, kind: 'dir' }, ...files.map((path) => ({ path, kind: 'file' as const }))]);
  if (d.blocked === undefined) return { identity: d.identity };
  return { identity: undefined, warning: `user code runs as ${self()}: ${who!.name} cannot read ${d.blocked}` };
}

function self(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}
