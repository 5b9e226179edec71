import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, type System } from './system.js';

const exec = promisify(execFile);

/** Runs `./aloft …` as a user does, against the system's Redis and prefix: its stdout, stderr and exit code. */
export async function aloftCli(sys: System, ...args: string[]): Promise<{ out: string; err: string; code: number }> {
  const r = await exec(join(ROOT, 'aloft'), args, { cwd: ROOT, env: sys.env() }).catch((e: { stdout: string; stderr: string; code: number }) => e);
  return { out: r.stdout, err: r.stderr, code: (r as { code?: number }).code ?? 0 };
}
