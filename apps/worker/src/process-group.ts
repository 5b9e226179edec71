function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Whether any process of the group is alive. */
export function groupAlive(pgid: number): boolean {
  return signalGroup(pgid, 0);
}

/** Polls until no process of the group is left or `ms` have passed; whether it is gone. */
async function groupGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    if (!groupAlive(pgid)) return true;
  }
  return !groupAlive(pgid);
}

/**
 * Ends a whole process group: SIGTERM, then SIGKILL after `graceMs` if anything is left.
 * Resolves once the group is gone (a process in uninterruptible sleep can outlive SIGKILL
 * for a while: then after one more second).
 */
export async function killGroup(pgid: number, graceMs: number): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  if (await groupGone(pgid, graceMs)) return;
  signalGroup(pgid, 'SIGKILL');
  await groupGone(pgid, 1000);
}
