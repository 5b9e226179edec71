import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Ends every process a parse child left: its process group (the child leads one), then any
 * process that escaped it (a new session or group) but still carries the parse's marker in
 * its environment or holds one of the child's pipes. What is not covered: a process that
 * left the group, cleared its environment and closed the pipes (a double fork into a clean
 * daemon); README "Limits". Without /proc (not Linux) only the group is ended.
 */
export interface ParseProcesses {
  /** The child's pid, which is also its process group id. */
  pid: number;
  /** `NAME=value` in the child's environment, inherited by what it starts. */
  marker: string;
  /** What the child's fds 1–3 point to (`/proc/<pid>/fd/N`), read while it ran. */
  pipes: readonly string[];
}

/** The targets of a process's stdout, stderr and result fds, read at once after spawn. */
export function pipesOf(pid: number): string[] {
  const out: string[] = [];
  for (const fd of [1, 2, 3]) {
    try {
      out.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // Gone already, or not ours to read: the marker still finds its processes.
    }
  }
  return out;
}

/** Sends SIGKILL to the group and to every escaped process; returns how many escaped. */
export function endParseProcesses(p: ParseProcesses): number {
  kill(-p.pid);
  let escaped = 0;
  // A process killed while it forks can leave a child the next look finds.
  for (let round = 0; round < 5; round++) {
    const found = findEscaped(p);
    if (found.length === 0) break;
    escaped += found.length;
    for (const pid of found) kill(pid);
  }
  return escaped;
}

function findEscaped(p: ParseProcesses): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const marker = Buffer.from(`${p.marker}\0`);
  const pipes = new Set(p.pipes);
  const found: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (hasMarker(pid, marker) || holdsPipe(pid, pipes)) found.push(pid);
  }
  return found;
}

function hasMarker(pid: number, marker: Buffer): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`).includes(marker);
  } catch {
    return false;
  }
}

function holdsPipe(pid: number, pipes: Set<string>): boolean {
  if (pipes.size === 0) return false;
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return pipes.has(readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
