// Finds and ends the processes of a local task that left its process group (`setsid`,
// `nohup … &` under a shell that starts jobs in their own group, daemons that fork twice),
// which a signal to the group misses. Plain JavaScript: the reaper (reaper.mjs) runs it
// without the TypeScript loader. Types: task-processes.d.mts.
//
// A process belongs to the task when it started no earlier than the task's first process
// and either
//   - carries the task's tag (TASK_TAG_ENV=<tag>) in its initial environment, which every
//     descendant inherits unless it is started with a scrubbed environment, or
//   - holds one of the task's stdout/stderr sockets open, which is what keeps a command's
//     output from ending, whatever its environment.
// Reading another user's /proc/<pid>/environ and fd needs root or the same user: a worker
// running as root sees every task process, one running as the task's user sees its own.
import { readdir, readFile, readlink } from 'node:fs/promises';
import { readFileSync, readlinkSync } from 'node:fs';

export const TASK_TAG_ENV = 'ALOFT_TASK_TAG';

/** When `pid` started, in clock ticks since boot (/proc/<pid>/stat field 22); undefined when gone. */
export function startTicks(pid) {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1')).start;
  } catch {
    return undefined;
  }
}

/** The sockets (`socket:[inode]`) or pipes a process has as stdout and stderr. */
export function outputEnds(pid) {
  const ends = [];
  for (const fd of [1, 2]) {
    try {
      ends.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // exited already, or closed
    }
  }
  return ends;
}

function parseStat(text) {
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: f[0], pgrp: Number(f[2]), start: Number(f[19]) };
}

/**
 * Pids of live processes started at or after `since` (startTicks) that carry one of `tags`
 * or hold one of `ends` (from outputEnds) open, outside the process group `exceptGroup`
 * (which a signal to the group reaches). Never this process.
 */
export async function findTaskProcesses({ since, tags = [], ends = [], exceptGroup = 0 }) {
  if (tags.length === 0 && ends.length === 0) return [];
  const first = tags.map((t) => Buffer.from(`${TASK_TAG_ENV}=${t}\0`));
  const inner = tags.map((t) => Buffer.from(`\0${TASK_TAG_ENV}=${t}\0`));
  const wanted = new Set(ends);
  const pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid);
  const found = [];
  const check = async (pid) => {
    let stat;
    try {
      stat = parseStat(await readFile(`/proc/${pid}/stat`, 'latin1'));
    } catch {
      return;
    }
    if (stat.state === 'Z' || stat.start < since || stat.pgrp === exceptGroup) return;
    if (tags.length) {
      try {
        const env = await readFile(`/proc/${pid}/environ`);
        if (first.some((n) => env.indexOf(n) === 0) || inner.some((n) => env.indexOf(n) >= 0)) return void found.push(Number(pid));
      } catch {
        // another user's, or gone
      }
    }
    if (wanted.size) {
      try {
        for (const fd of await readdir(`/proc/${pid}/fd`)) {
          if (wanted.has(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''))) return void found.push(Number(pid));
        }
      } catch {
        // another user's, or gone
      }
    }
  };
  // A few at a time: the scan shares the worker's event loop and libuv's thread pool.
  for (let i = 0; i < pids.length; i += 16) await Promise.all(pids.slice(i, i + 16).map(check));
  return found;
}

function alive(pid) {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1')).state !== 'Z';
  } catch {
    return false;
  }
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

/**
 * SIGTERM to each of `pids`, SIGKILL to those still alive after `graceMs`; resolves once
 * they are gone (or a second after the SIGKILL). A zombie counts as gone.
 */
export async function endProcesses(pids, graceMs) {
  if (pids.length === 0) return;
  for (const p of pids) signal(p, 'SIGTERM');
  const wait = async (ms) => {
    const deadline = Date.now() + ms;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  };
  await wait(graceMs);
  const left = pids.filter(alive);
  for (const p of left) signal(p, 'SIGKILL');
  if (left.length) await wait(1000);
}
