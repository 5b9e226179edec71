// The worker's reaper: a tiny process that outlives a worker killed with kill -9 just long
// enough to end the processes of the tasks it was running, so an orphaned command never
// keeps running beside the try another worker takes over.
// argv[2]: ms between SIGTERM and SIGKILL. stdin lines: `?<tag>` (a command is about to
// start with this tag), `!<tag>` (it could not start), `+<pgid> [<since> <tag>]` (task
// started: its process group, and the tag its processes carry, task-processes.mjs) and
// `-<pgid>` (task ended). EOF = the worker is gone (the kernel closes the write end however
// it died): SIGTERM every group left and every process that left one of them, or of a
// command whose group never came, but carries its tag; SIGKILL what is still alive after the
// grace, then exit.
import { createInterface } from 'node:readline';
import { endProcesses, findTaskProcesses } from './task-processes.mjs';

/** pgid → { since, tag } (both undefined for a group without a tag). */
const groups = new Map();
/** Tags of commands that started or are starting, whose group has not come. */
const starting = new Set();
const graceMs = Number(process.argv[2] ?? 5000);
process.title = 'aloft-reaper';

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line[0] === '?') return void starting.add(line.slice(1));
  if (line[0] === '!') return void starting.delete(line.slice(1));
  const [head, since, tag] = line.split(' ');
  const pgid = Number(head.slice(1));
  if (!Number.isInteger(pgid) || pgid <= 1) return;
  if (head[0] === '+') {
    groups.set(pgid, { since: Number(since) || 0, tag });
    if (tag) starting.delete(tag);
  } else if (head[0] === '-') groups.delete(pgid);
});

/** Signals every group still alive; forgets the ones that are gone. */
function signal(sig) {
  for (const g of groups.keys()) {
    try {
      process.kill(-g, sig);
    } catch {
      groups.delete(g);
    }
  }
}

process.stdin.on('end', () => {
  // A command whose group never came: its tag alone decides (since 0).
  const tagged = [...[...groups.values()].filter((g) => g.tag), ...[...starting].map((tag) => ({ since: 0, tag }))];
  const deadline = Date.now() + graceMs;
  signal('SIGTERM');
  // The processes that left their task's group, or whose group never came, ended alongside
  // the groups (same deadline).
  const escaped = tagged.length
    ? findTaskProcesses({ since: Math.min(...tagged.map((g) => g.since)), tags: tagged.map((g) => g.tag) }).then(
        (pids) => endProcesses(pids, graceMs),
        () => undefined,
      )
    : Promise.resolve();
  const check = () => {
    signal(0);
    if (groups.size === 0) return void escaped.then(() => process.exit(0));
    if (Date.now() >= deadline) {
      signal('SIGKILL');
      return void escaped.then(() => process.exit(0));
    }
    setTimeout(check, Math.min(20, Math.max(1, deadline - Date.now())));
  };
  check();
});
// Ignore the terminal's Ctrl-C and a stop meant for the worker: the worker closes our stdin
// when it is done with its tasks.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
