// The worker's reaper: a tiny process that outlives a worker killed with kill -9 just long
// enough to end the process groups of the tasks it was running, so an orphaned command
// never keeps running beside the try another worker takes over.
// argv[2]: ms between SIGTERM and SIGKILL. stdin lines: `+<pgid>` (task started) and
// `-<pgid>` (task ended). EOF = the worker is gone (the kernel closes the write end however
// it died): SIGTERM every group left, SIGKILL what is still alive after the grace, then exit.
import { createInterface } from 'node:readline';

const groups = new Set();
const graceMs = Number(process.argv[2] ?? 5000);
process.title = 'aloft-reaper';

createInterface({ input: process.stdin }).on('line', (line) => {
  const pgid = Number(line.slice(1));
  if (!Number.isInteger(pgid) || pgid <= 1) return;
  if (line[0] === '+') groups.add(pgid);
  else if (line[0] === '-') groups.delete(pgid);
});

/** Signals every group still alive; forgets the ones that are gone. */
function signal(sig) {
  for (const g of groups) {
    try {
      process.kill(-g, sig);
    } catch {
      groups.delete(g);
    }
  }
}

process.stdin.on('end', () => {
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  const check = () => {
    signal(0);
    if (groups.size === 0) process.exit(0);
    if (Date.now() >= deadline) {
      signal('SIGKILL');
      process.exit(0);
    }
    setTimeout(check, Math.min(20, Math.max(1, deadline - Date.now())));
  };
  check();
});
// Ignore the terminal's Ctrl-C and a stop meant for the worker: the worker closes our stdin
// when it is done with its tasks.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
