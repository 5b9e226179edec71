// The worker's reaper: a tiny process that outlives a worker killed with kill -9 just long
// enough to end the process groups of the tasks it was running, so an orphaned command
// never keeps running beside the try another worker takes over.
// stdin lines: `+<pgid>` (task started) and `-<pgid>` (task ended). EOF = the worker is gone.
import { createInterface } from 'node:readline';

const groups = new Set();
const graceMs = Number(process.argv[2] ?? 5000);

createInterface({ input: process.stdin }).on('line', (line) => {
  const pgid = Number(line.slice(1));
  if (!Number.isInteger(pgid) || pgid <= 1) return;
  if (line[0] === '+') groups.add(pgid);
  else if (line[0] === '-') groups.delete(pgid);
});

process.stdin.on('end', () => {
  const signal = (sig) => {
    for (const g of groups) {
      try {
        process.kill(-g, sig);
      } catch {
        groups.delete(g);
      }
    }
  };
  signal('SIGTERM');
  if (groups.size === 0) process.exit(0);
  setTimeout(() => {
    signal('SIGKILL');
    process.exit(0);
  }, graceMs);
});
// Ignore the terminal's Ctrl-C: the worker handles it and closes our stdin when done.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
