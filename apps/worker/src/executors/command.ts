import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { NonRetryableError, podEnvSecrets } from '@aloft/core';
import { groupAlive, killTaskProcesses } from '../process-group.js';
import { outputEnds, startTicks, TASK_TAG_ENV } from '../task-processes.mjs';
import { LineSplitter } from '../task-log.js';
import { renderParts } from '../template-renderer.js';
import type { UserCodePolicy } from '../user-code-policy.js';
import type { Executor, TaskRequest } from './executor.js';
import type { TaskPods } from './kubernetes/task-pods.js';
import { aloftEnv } from './task-env.js';
import { OUTPUT_MARKER, type ExecEnv, type ExecResult, type RunningTask } from './types.js';

export interface CommandRun {
  /** Already templated: a shell string (run by /bin/sh -c) or argv. */
  command: string | string[];
  env: Record<string, string>;
  cwd?: string | undefined;
  skipExitCode: number;
  /** Who runs it (security/user-code.ts); unset: the worker's own user. */
  uid?: number | undefined;
  gid?: number | undefined;
}

/**
 * How long the output may stay open after the command's main process exits before the
 * processes holding it are ended: what a process writes just before it exits arrives well
 * within this.
 */
export const DRAIN_MS = 500;
/** Once every writer is ended, the output's end can only be a matter of reading what is left. */
const CLOSE_AFTER_KILL_MS = 5000;

/**
 * Why a command could not start, in words. A name looked up on PATH fails with EACCES, not
 * ENOENT, when some folder of PATH is one the task's user may not search (root's folders,
 * for `nobody`), whether or not the command is there: it is "not found" unless it is.
 */
export function startFailure(file: string, err: NodeJS.ErrnoException, path: string | undefined): string {
  if (err.code === 'ENOENT') return `command not found: ${file}`;
  if (err.code === 'EACCES' && !file.includes('/')) {
    const found = (path ?? '')
      .split(':')
      .filter(Boolean)
      .map((dir) => join(dir, file))
      .find((f) => existsSync(f));
    if (!found) return `command not found: ${file}`;
    return `could not start ${file}: permission denied for ${found} (the task's user may not run it, or not search its folder)`;
  }
  return `could not start ${file}: ${err.message}`;
}

/**
 * Runs a command in its own process group, stdout and stderr line by line into the task's
 * log. A stdout line `::aloft-output::<json>` sets the task's output (the last one wins).
 *
 * A task's processes end with it, as a container's do when its main process exits: once
 * the main process has exited, or the task is cancelled or timed out, whatever the command
 * started and left running is ended (SIGTERM, then SIGKILL after the kill grace), its process
 * group and the processes that left it (task-processes.mjs). The result waits for the output
 * to end for at most DRAIN_MS after the main process exits, so a background process holding
 * stdout open no longer holds the task, its slot and its timeout with it.
 */
export function runCommand(spec: CommandRun, env: ExecEnv): RunningTask {
  const [file, args] = typeof spec.command === 'string' ? ['/bin/sh', ['-c', spec.command]] : [spec.command[0]!, spec.command.slice(1)];
  const tag = randomBytes(12).toString('hex');
  // Before the first process exists: the command runs at once, and a worker killed before
  // `started` must still leave none of it running (tests/reaper.test.ts).
  env.processes?.starting(tag);
  let child: ChildProcessByStdio<null, Readable, Readable>;
  try {
    child = spawn(file, args, {
      cwd: spec.cwd,
      env: { ...spec.env, [TASK_TAG_ENV]: tag },
      uid: spec.uid,
      gid: spec.gid,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    env.processes?.notStarted(tag);
    throw err;
  }
  // Read while the shell surely still has them: its stdout and stderr, whose holders are the
  // task's processes whatever their environment.
  const pid = child.pid;
  const since = pid === undefined ? 0 : (startTicks(pid) ?? 0);
  if (pid === undefined) env.processes?.notStarted(tag);
  else env.processes?.started(pid, { tag, since });
  const ends = pid === undefined ? [] : outputEnds(pid);
  let outputJson: string | undefined;
  let badOutput: string | undefined;
  let cancelled: string | undefined;
  const cut = (text: string): number => env.log.safeCut(text);
  const out = new LineSplitter((line) => {
    if (line.startsWith(OUTPUT_MARKER)) {
      const raw = line.slice(OUTPUT_MARKER.length).trim();
      try {
        outputJson = JSON.stringify(JSON.parse(raw));
        badOutput = undefined;
      } catch {
        badOutput = `the output line is not JSON: ${raw.slice(0, 200)}`;
      }
    }
    env.log.write('stdout', line);
  }, cut);
  const err = new LineSplitter((line) => env.log.write('stderr', line), cut);
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const closed = new Promise<true>((resolve) => child.once('close', () => resolve(true)));

  /** Ends the group and every process of the task that left it; how many left it. */
  let leftovers: Promise<number> | undefined;
  const endLeftovers = (): Promise<number> =>
    (leftovers ??= pid === undefined ? Promise.resolve(0) : killTaskProcesses({ pgid: pid, since, tag, ends }, env.killGraceMs));

  const result = (async (): Promise<ExecResult> => {
    const ended = await Promise.race([exited, spawnError]);
    if (ended instanceof Error) {
      out.end();
      err.end();
      const reason = startFailure(file, ended, spec.env['PATH']);
      env.log.system(reason);
      return { outcome: 'failed', reason };
    }
    const drained = await Promise.race([closed, delay(DRAIN_MS)]);
    const group = pid !== undefined && groupAlive(pid);
    if (cancelled || !drained || group) {
      const n = await endLeftovers();
      if (group && !cancelled) env.log.system('ended the processes the command left running in its process group');
      if (n > 0) env.log.system(`ended ${n} process${n === 1 ? '' : 'es'} that left the command's process group`);
      if (!(await Promise.race([closed, delay(CLOSE_AFTER_KILL_MS)]))) {
        env.log.system(`the output stayed open ${CLOSE_AFTER_KILL_MS} ms after the command's processes were ended; stopped reading it`);
        child.stdout.destroy();
        child.stderr.destroy();
      }
    }
    out.end();
    err.end();
    const { code, signal } = ended;
    if (cancelled) return { outcome: 'failed', reason: cancelled, exitCode: code ?? undefined };
    if (signal) return { outcome: 'failed', reason: `killed by ${signal}` };
    env.log.system(`exit code ${code}`);
    if (code === spec.skipExitCode) return { outcome: 'skipped', reason: `exit code ${code} means skipped`, exitCode: code };
    if (code !== 0) {
      const hint = code === 127 ? ' (command not found)' : code === 126 ? ' (not executable)' : '';
      return { outcome: 'failed', reason: `exit code ${code}${hint}`, exitCode: code ?? undefined };
    }
    if (badOutput) return { outcome: 'failed', reason: badOutput, exitCode: 0 };
    return { outcome: 'success', outputJson, exitCode: 0 };
  })();

  return {
    result,
    pgid: pid,
    async cancel(reason: string) {
      cancelled = reason;
      await endLeftovers();
    },
  };
}

function delay(ms: number): Promise<false> {
  return new Promise((resolve) => setTimeout(() => resolve(false), ms).unref());
}

export interface CommandExecutorOptions {
  userCode: Pick<UserCodePolicy, 'forCwd' | 'env'>;
  pods: Pick<TaskPods, 'inPod'>;
}

/** command tasks: on this worker as the user-code user (runCommand), or in a pod of their own (runInPod). */
export class CommandExecutor implements Executor {
  constructor(private readonly o: CommandExecutorOptions) {}

  async start(r: TaskRequest, env: ExecEnv): Promise<RunningTask> {
    const { dag, task, info } = r;
    const spec = task.command!;
    if (task.runInPod) {
      // The rendered command and env travel in the pod spec: a secret goes by Secret reference only.
      const { refs, rest, problems } = podEnvSecrets(spec.env, { command: spec.command });
      if (problems.length > 0) throw new NonRetryableError(problems.map((p) => `dag "${dag.id}", task "${task.id}": ${p.field}: ${p.message}`).join('; '));
      const { command, env: taskEnv } = await renderParts(r.templates, `${dag.id}.${task.id}`, { command: spec.command, env: rest as Record<string, string> });
      const secretEnv = Object.fromEntries(Object.keys(refs).map((k) => [k, spec.env[k]!]));
      return this.o.pods.inPod(
        r,
        env,
        { kind: 'command', command, cwd: spec.cwd, skipExitCode: spec.skipExitCode, env: { ...aloftEnv(dag, task, info), ...taskEnv } },
        secretEnv,
      );
    }
    const { command, env: taskEnv } = await renderParts(r.templates, `${dag.id}.${task.id}`, { command: spec.command, env: spec.env });
    const { who, why } = this.o.userCode.forCwd(spec.cwd);
    if (why) env.log.system(why);
    return runCommand(
      {
        command,
        cwd: spec.cwd,
        skipExitCode: spec.skipExitCode,
        env: this.o.userCode.env(who, { ...aloftEnv(dag, task, info), ...taskEnv }),
        uid: who?.uid,
        gid: who?.gid,
      },
      env,
    );
  }
}
