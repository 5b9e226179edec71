import { endProcesses, findTaskProcesses } from './task-processes.mjs';

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

/**
 * Ends a task's process group and every process that left it but carries the task's `tag`
 * or holds one of its output `ends` (task-processes.mjs), each with `graceMs` between
 * SIGTERM and SIGKILL. Resolves with how many had left the group.
 */
export async function killTaskProcesses(t: { pgid: number; since: number; tag: string; ends?: string[] }, graceMs: number): Promise<number> {
  const group = killGroup(t.pgid, graceMs);
  const look = { since: t.since, tags: [t.tag], ends: t.ends ?? [], exceptGroup: t.pgid };
  let found = await findTaskProcesses(look);
  const ended = new Set(found);
  // A process that forked while the first ones were being ended is found the second time.
  for (let round = 0; round < 3 && found.length > 0; round++) {
    await endProcesses(found, graceMs);
    found = (await findTaskProcesses(look)).filter((p) => !ended.has(p));
    for (const p of found) ended.add(p);
  }
  await group;
  return ended.size;
}
