import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { userCodeEnv, type UserCodeIdentity } from '@aloft/core';
import { HeadTail } from './head-tail.js';
import { FrameReader, KEY_BYTES, RESULT_FD, type ReportedError } from './parse-protocol.js';
import { endParseProcesses, pipesOf } from './process-sweep.js';

/** The script a parse child runs, and the loader it runs through: user code must read both. */
export const PARSE_CHILD = fileURLToPath(new URL('./parse-child.ts', import.meta.url));
export const TSX = import.meta.resolve('tsx');

const MARKER = 'ALOFT_PARSE_ID';
/** How long the child's pipes may take to drain once it and its processes are gone. */
const DRAIN_MS = 2000;

export interface ParseRunnerOptions {
  /** ALOFT_DAG_PARSE_TIMEOUT_MS: from spawn to result. */
  timeoutMs: number;
  /** ALOFT_DAG_PARSE_MEMORY_MB: the whole process (RLIMIT_DATA); V8's heap gets half. */
  memoryMb: number;
  /** Who the child runs as; undefined: the scheduler's own user. */
  identity: UserCodeIdentity | undefined;
  /** The scheduler's environment: only its allow-listed variables reach the child. */
  env: NodeJS.ProcessEnv;
  /** Non-secret settings the DAG API reads at import (ALOFT_MAX_MAP_LENGTH). */
  settings: Record<string, string>;
}

/** The child's report, still unchecked, or why there is none. */
export type ParseOutcome = { payload: string } | { error: ReportedError; timedOut?: true } | { stopped: true };

/**
 * Runs one parse child: in its own process group, as the user-code identity, with the
 * allow-listed environment, a memory limit (prlimit's RLIMIT_DATA, which counts Buffers as
 * well as the heap) and a timeout; keeps only the head and tail of its output; and ends
 * every process it started once the parse is over (process-sweep.ts).
 */
export class ParseRunner {
  readonly #o: ParseRunnerOptions;
  /** prlimit's path: without it the child has only V8's heap limit. */
  readonly prlimit: string | undefined;
  /** Ends each parse under way; `stop()` calls them. */
  readonly #running = new Set<() => void>();

  constructor(o: ParseRunnerOptions) {
    this.#o = o;
    this.prlimit = findOnPath('prlimit', o.env['PATH'] ?? '/usr/bin:/bin');
  }

  async run(file: string, cwd: string): Promise<ParseOutcome> {
    const key = randomBytes(KEY_BYTES);
    const id = randomUUID();
    let child: ChildProcess;
    try {
      child = this.#spawn(file, cwd, id);
    } catch (err) {
      return { error: { message: `the parse process could not start: ${(err as Error).message}` } };
    }
    const pipes = child.pid ? pipesOf(child.pid) : [];
    const stderr = new HeadTail();
    const streams = child.stdio.slice(1, RESULT_FD + 1) as Readable[];
    const reader = new FrameReader(key);
    for (const s of [...streams, child.stdin!]) s.on('error', () => undefined);
    child.stdin!.end(key);
    // Stdout is read and dropped; the ends of stderr are kept for the error message.
    streams[0]!.resume();
    streams[1]!.on('data', (c: Buffer) => stderr.push(c));

    let timer: NodeJS.Timeout | undefined;
    let stop = (): void => undefined;
    const how = await new Promise<'result' | 'exit' | 'timeout' | 'stopped' | Error>((resolve) => {
      streams[2]!.on('data', (c: Buffer) => {
        reader.push(c);
        if (reader.done) resolve('result');
      });
      child.once('exit', () => resolve('exit'));
      child.once('error', resolve);
      timer = setTimeout(() => resolve('timeout'), this.#o.timeoutMs);
      stop = () => resolve('stopped');
      this.#running.add(stop);
    });
    clearTimeout(timer);
    this.#running.delete(stop);
    const { exitCode, signalCode } = child;
    if (child.pid) endParseProcesses({ pid: child.pid, marker: `${MARKER}=${id}`, pipes });
    await drained(streams, DRAIN_MS);

    if (how === 'stopped') return { stopped: true };
    if (how === 'timeout')
      return { error: { message: `importing the file took longer than ${this.#o.timeoutMs} ms (ALOFT_DAG_PARSE_TIMEOUT_MS); it was stopped` }, timedOut: true };
    if (how instanceof Error) return { error: { message: `the parse process could not start: ${how.message}` } };
    if (reader.payload !== undefined) return { payload: reader.payload };
    if (reader.problem) return { error: { message: reader.problem } };
    const text = stderr.text();
    if (OUT_OF_MEMORY.test(text))
      return {
        error: { message: `importing the file took more memory than the parse limit of ${this.#o.memoryMb} MB (ALOFT_DAG_PARSE_MEMORY_MB); it was stopped` },
      };
    const why = signalCode ? `was ended by signal ${signalCode} (not sent by Aloft)` : `ended with exit code ${exitCode}`;
    return { error: { message: `the parse process ${why} before it reported the DAGs${summary(text)}` } };
  }

  /** Ends every parse under way, and what each started; their `run()` resolves `{ stopped }`. */
  stop(): void {
    for (const stop of this.#running) stop();
  }

  #spawn(file: string, cwd: string, id: string): ChildProcess {
    const { memoryMb, timeoutMs, identity } = this.#o;
    const node = [
      process.execPath,
      '--conditions=aloft-source',
      `--max-old-space-size=${Math.max(32, Math.floor(memoryMb / 2))}`,
      '--import',
      TSX,
      PARSE_CHILD,
      file,
    ];
    // The CPU limit only catches a child whose scheduler died before it could end it: V8's
    // helper threads count too, so it sits well above the timeout.
    const cpuSeconds = Math.ceil((2 * timeoutMs) / 1000) + 10;
    const limits = this.prlimit ? [this.prlimit, `--data=${memoryMb * 1024 * 1024}`, `--cpu=${cpuSeconds}`, '--core=0', '--'] : [];
    const [cmd, ...args] = [...limits, ...node];
    return spawn(cmd!, args, {
      // Its own process group (a new session): ended as one, and no signal of ours reaches it by accident.
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      cwd,
      env: userCodeEnv(this.#o.env, { ALOFT_PARSING: '1', ...this.#o.settings, [MARKER]: id }, identity),
      ...(identity ? { uid: identity.uid, gid: identity.gid } : {}),
    });
  }
}

/** What V8, the C++ runtime and libc print when an allocation fails under RLIMIT_DATA. */
const OUT_OF_MEMORY = /out of memory|allocation failed|bad_alloc|Cannot allocate memory|Fatal process OOM/i;

/** The first line of stderr that names an error, else its last line. */
function summary(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const line = lines.find((l) => /\b[A-Z]\w*Error\b|\berror\b/i.test(l)) ?? lines.at(-1);
  return line ? `: ${line.slice(0, 500)}` : '';
}

async function drained(streams: Readable[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(streams.filter((s) => !s.closed).map((s) => new Promise((r) => s.once('close', r)))),
    new Promise((r) => (timer = setTimeout(r, ms))),
  ]);
  clearTimeout(timer);
  for (const s of streams) s.destroy();
}

function findOnPath(name: string, path: string): string | undefined {
  for (const dir of path.split(delimiter)) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}
