import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./reaper.mjs', import.meta.url));

/**
 * Ends the process groups of running commands if this worker dies without cleaning up
 * (kill -9, OOM). The reaper holds the read end of a pipe; the kernel closes the write end
 * when the worker dies, however it dies.
 */
export class Reaper {
  readonly #child: ChildProcess;

  constructor(graceMs: number) {
    this.#child = spawn(process.execPath, [SCRIPT, String(graceMs)], { stdio: ['pipe', 'ignore', 'inherit'], detached: true });
    this.#child.unref();
    this.#child.stdin!.on('error', () => undefined);
  }

  watch(pgid: number): void {
    this.#child.stdin!.write(`+${pgid}\n`);
  }

  forget(pgid: number): void {
    this.#child.stdin!.write(`-${pgid}\n`);
  }

  close(): void {
    this.#child.stdin!.end();
  }
}
