import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { userCodeEnv, type Logger } from '@aloft/core';
import type { ProcessTag, TaskProcessWatch } from './executors/types.js';

const SCRIPT = fileURLToPath(new URL('./reaper.mjs', import.meta.url));

export interface ReaperOptions {
  /** Between SIGTERM and SIGKILL once the worker is gone. */
  graceMs: number;
  logger: Logger;
  /** The worker's environment; the reaper gets what user code would (userCodeEnv), no credential. */
  env: NodeJS.ProcessEnv;
}

/**
 * Ends the process groups of running commands if this worker dies without cleaning up
 * (kill -9, OOM), and the processes that left a group but carry its task's tag
 * (task-processes.mjs). The reaper holds the read end of a pipe; the kernel closes the write
 * end when the worker dies, however it dies. A reaper that exits while the worker lives
 * (killed by hand, say) is started again with the groups it was watching, and the gap is logged.
 * A command's tag comes before its process does (`starting`), so the command's processes are
 * found by it if the worker dies before it could tell the group (`started`).
 */
export class Reaper implements TaskProcessWatch {
  /** pgid → its line's tail: ` <since> <tag>`, or '' for a group without a tag. */
  readonly #groups = new Map<number, string>();
  /** Tags of commands about to start, whose group is not known yet. */
  readonly #starting = new Set<string>();
  readonly #o: ReaperOptions;
  #child: ChildProcess;
  #closed = false;

  constructor(o: ReaperOptions) {
    this.#o = o;
    this.#child = this.#spawn();
  }

  #spawn(): ChildProcess {
    // Its own session, so a signal to the worker's process group (Ctrl-C, a supervisor's
    // stop) does not reach it, and the tasks' groups outlive neither.
    // Without the worker's credentials in its environment: it needs none.
    const child = spawn(process.execPath, [SCRIPT, String(this.#o.graceMs)], {
      stdio: ['pipe', 'ignore', 'inherit'],
      detached: true,
      env: userCodeEnv(this.#o.env),
    });
    child.unref();
    child.stdin!.on('error', () => undefined);
    child.once('exit', (code, signal) => {
      if (this.#closed) return;
      this.#o.logger.error({ code, signal, groups: this.#groups.size }, 'the reaper exited while the worker runs; starting another');
      this.#child = this.#spawn();
      for (const t of this.#starting) this.#child.stdin!.write(`?${t}\n`);
      for (const [g, tail] of this.#groups) this.#child.stdin!.write(`+${g}${tail}\n`);
    });
    return child;
  }

  /** `tag`: what the group's processes carry, so those that leave it are found too. */
  watch(pgid: number, tag?: ProcessTag): void {
    const tail = tag ? ` ${tag.since} ${tag.tag}` : '';
    if (tag) this.#starting.delete(tag.tag);
    this.#groups.set(pgid, tail);
    this.#child.stdin!.write(`+${pgid}${tail}\n`);
  }

  starting(tag: string): void {
    this.#starting.add(tag);
    this.#child.stdin!.write(`?${tag}\n`);
  }

  started(pgid: number, tag: ProcessTag): void {
    this.watch(pgid, tag);
  }

  notStarted(tag: string): void {
    this.#starting.delete(tag);
    this.#child.stdin!.write(`!${tag}\n`);
  }

  forget(pgid: number): void {
    this.#groups.delete(pgid);
    this.#child.stdin!.write(`-${pgid}\n`);
  }

  close(): void {
    this.#closed = true;
    this.#child.stdin!.end();
  }
}
