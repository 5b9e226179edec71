import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand, startFailure } from '../src/executors/command.js';
import type { TaskProcessWatch } from '../src/executors/types.js';
import type { TaskLog } from '../src/task-log.js';
import { TASK_TAG_ENV } from '../src/task-processes.mjs';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
/** A 0700 folder (mkdtemp's mode): another user may not search it. */
const privateDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'aloft-path-'));
  dirs.push(d);
  return d;
};
const errno = (code: string, message = `spawn x ${code}`) => Object.assign(new Error(message), { code });

/** What spawn reports for `file` run as `uid` with `path`. */
function spawnError(file: string, uid: number, path: string): Promise<NodeJS.ErrnoException> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [], { uid, gid: uid, env: { PATH: path }, stdio: 'ignore' });
    child.once('error', resolve);
    child.once('exit', () => reject(new Error(`${file} started`)));
  });
}

describe('why a command could not start', () => {
  it('says "command not found" for ENOENT, and for EACCES when no folder of PATH holds the name', () => {
    expect(startFailure('python-not-installed', errno('ENOENT'), '/usr/bin')).toBe('command not found: python-not-installed');
    expect(startFailure('python-not-installed', errno('EACCES'), `${privateDir()}:/usr/bin`)).toBe('command not found: python-not-installed');
  });

  it('names the file it found when EACCES is about that file, and passes other errors on', () => {
    const d = privateDir();
    writeFileSync(join(d, 'tool'), '#!/bin/sh\n');
    chmodSync(join(d, 'tool'), 0o600);
    expect(startFailure('tool', errno('EACCES'), `/usr/bin:${d}`)).toBe(
      `could not start tool: permission denied for ${join(d, 'tool')} (the task's user may not run it, or not search its folder)`,
    );
    expect(startFailure('./tool', errno('EACCES', 'spawn ./tool EACCES'), d)).toBe('could not start ./tool: spawn ./tool EACCES');
    expect(startFailure('tool', errno('E2BIG', 'spawn E2BIG'), d)).toBe('could not start tool: spawn E2BIG');
  });

  // As the quick start runs it: root's worker, user code as nobody, root's folders on PATH.
  it.runIf(process.getuid?.() === 0)('turns the EACCES that nobody gets for a missing command into "command not found"', async () => {
    const err = await spawnError('python-not-installed', 65534, `${privateDir()}:/usr/bin:/bin`);
    expect(err.code).toBe('EACCES');
    expect(startFailure('python-not-installed', err, `${privateDir()}:/usr/bin:/bin`)).toBe('command not found: python-not-installed');
  });
});

/** Pids of the processes whose environment holds the tag, read at once. */
function carrying(tag: string): number[] {
  const needle = `${TASK_TAG_ENV}=${tag}`;
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/environ`, 'latin1').split('\0').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('what ends a command if the worker dies: the reaper hears of it first', () => {
  /** A log that keeps nothing: these tests read only the calls. */
  const log = { write: () => undefined, system: () => undefined, safeCut: (t: string) => t.length } as unknown as TaskLog;
  const watch = () => {
    const calls: string[] = [];
    const processes: TaskProcessWatch = {
      starting: (tag) => calls.push(`starting ${tag} with ${carrying(tag).length} processes`),
      started: (pgid, t) => calls.push(`started ${pgid} ${t.tag}`),
      notStarted: (tag) => calls.push(`notStarted ${tag}`),
    };
    return { calls, processes };
  };

  it('gets the tag before any process carries it, then the group, before runCommand returns', async () => {
    const { calls, processes } = watch();
    const running = runCommand(
      { command: 'sleep 0.2', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, skipExitCode: 99 },
      { log, killGraceMs: 100, processes },
    );
    const tag = /^starting (\w+) /.exec(calls[0] ?? '')?.[1];
    expect(calls).toEqual([`starting ${tag} with 0 processes`, `started ${running.pgid} ${tag}`]);
    expect(carrying(tag!)).toContain(running.pgid);
    expect((await running.result).outcome).toBe('success');
  });

  it('takes the tag back when the command cannot start', async () => {
    const { calls, processes } = watch();
    const running = runCommand({ command: ['no-such-command-here'], env: { PATH: privateDir() }, skipExitCode: 99 }, { log, killGraceMs: 100, processes });
    const tag = /^starting (\w+) /.exec(calls[0] ?? '')?.[1];
    expect(calls).toEqual([`starting ${tag} with 0 processes`, `notStarted ${tag}`]);
    expect(await running.result).toEqual({ outcome: 'failed', reason: 'command not found: no-such-command-here' });
  });
});
