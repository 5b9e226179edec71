import { spawn } from 'node:child_process';
import { exitOf, killGroup } from '../process-group.js';
import { LineSplitter } from '../task-log.js';
import { OUTPUT_MARKER, type ExecEnv, type ExecResult, type RunningTask } from './types.js';

export interface CommandRun {
  /** Already templated: a shell string (run by /bin/sh -c) or argv. */
  command: string | string[];
  env: Record<string, string>;
  cwd?: string | undefined;
  skipExitCode: number;
}

/**
 * Runs a command in its own process group, stdout and stderr line by line into the task's
 * log. A stdout line `::aloft-output::<json>` sets the task's output (the last one wins).
 */
export function runCommand(spec: CommandRun, env: ExecEnv): RunningTask {
  const [file, args] = typeof spec.command === 'string' ? ['/bin/sh', ['-c', spec.command]] : [spec.command[0]!, spec.command.slice(1)];
  const child = spawn(file, args, {
    cwd: spec.cwd,
    env: spec.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let outputJson: string | undefined;
  let badOutput: string | undefined;
  let cancelled: string | undefined;
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
  });
  const err = new LineSplitter((line) => env.log.write('stderr', line));
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const result = (async (): Promise<ExecResult> => {
    const ended = await Promise.race([exitOf(child), spawnError]);
    out.end();
    err.end();
    if (ended instanceof Error) {
      const code = (ended as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? `command not found: ${file}` : `could not start ${file}: ${ended.message}`;
      env.log.system(reason);
      return { outcome: 'failed', reason };
    }
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
    pgid: child.pid,
    async cancel(reason: string) {
      cancelled = reason;
      if (child.pid !== undefined) await killGroup(child.pid, env.killGraceMs);
    },
  };
}
