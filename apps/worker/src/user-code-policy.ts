import { resolve } from 'node:path';
import { canRead, userCodeDecision, userCodeEnv, type Logger, type UserCodeIdentity, type UserCodeNeed } from '@aloft/core';

export interface UserCodePolicyOptions {
  /** Who user code should run as (userCodeIdentity, ALOFT_USER_CODE_USER); unset: the worker's user. */
  identity: UserCodeIdentity | undefined;
  /** What user code must be able to read for the drop to work at all: the DAG folder, the worker's folder, the fn host's code. */
  reads: UserCodeNeed[];
  /** The worker's environment: only its allow-listed variables reach user code (USER_CODE_ENV). */
  baseEnv: NodeJS.ProcessEnv;
  logger: Logger;
}

/**
 * Who runs a worker's user code (commands, and the fn host that runs functions) and with
 * which environment: never with a service credential, and as the user-code identity when
 * the worker runs as root. When that user cannot read what user code needs (the DAG folder,
 * the folder commands start in, the worker's own code that the fn host loads), user code runs
 * as the worker's own user instead, and the worker says why once at startup; a command whose
 * own `cwd` that user cannot enter runs as the worker's user too (said once per folder, and
 * in the task's log each time).
 */
export class UserCodePolicy {
  /** The identity user code runs as by default; undefined: the worker's own user. */
  readonly identity: UserCodeIdentity | undefined;
  readonly #o: UserCodePolicyOptions;
  readonly #cwds = new Map<string, boolean>();

  constructor(o: UserCodePolicyOptions) {
    this.#o = o;
    const who = o.identity;
    const d = userCodeDecision(who, o.reads);
    if (who && d.blocked !== undefined) {
      o.logger.warn(
        { user: who.name, uid: who.uid, path: d.blocked, workerUid: process.getuid?.() },
        `user code runs as the worker's own user, not "${who.name}": "${who.name}" cannot read ${d.blocked}; its tasks can then read what the worker can (see README, "What user code can reach")`,
      );
    }
    this.identity = d.identity;
  }

  /** The identity a command starting in `cwd` runs as (undefined: the worker's user), and why not the default. */
  forCwd(cwd: string | undefined): { who: UserCodeIdentity | undefined; why?: string } {
    const who = this.identity;
    if (!who || cwd === undefined) return { who };
    const full = resolve(cwd);
    let ok = this.#cwds.get(full);
    if (ok === undefined) {
      ok = canRead(who, full, 'dir');
      if (this.#cwds.size >= 256) this.#cwds.clear();
      this.#cwds.set(full, ok);
      if (!ok) this.#o.logger.warn({ user: who.name, cwd: full }, `commands that start in ${full} run as the worker's own user: "${who.name}" cannot enter it`);
    }
    return ok ? { who } : { who: undefined, why: `runs as the worker's own user: "${who.name}" cannot enter ${full}` };
  }

  /** The environment user code run as `who` starts with: the allow-listed variables and `extra`. */
  env(who: UserCodeIdentity | undefined, extra: Record<string, string> = {}): Record<string, string> {
    return userCodeEnv(this.#o.baseEnv, extra, who);
  }
}
