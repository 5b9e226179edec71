/**
 * Imports one DAG file in a throw-away process and reports what it declared, so that a DAG
 * file that throws, hangs, floods or never returns cannot hurt the scheduler or the other
 * files. The report goes to the result channel (parse-protocol.ts), never to stdout.
 */
import { readFileSync, writeSync } from 'node:fs';
import { DagImportError, declaredByAnyCopy, DEFAULT_MAX_MAP_LENGTH, importDagFile, takeDefinedDags, type Dag, type SerializedDag } from '@aloft/core';
import { encodeFrame, KEY_BYTES, MAX_RESULT_BYTES, RESULT_FD, type ChildReport, type ReportedError } from './parse-protocol.js';

/** A message kept whole enough to read, short enough to store. */
const MAX_MESSAGE = 2000;
/**
 * How long after its import the file's timers, callbacks and requests may still run before
 * the report, unless none is left first (then at once): a DAG declared in that time, or an
 * error thrown, is reported instead of being lost.
 */
const SETTLE_MS = 1000;
/**
 * Resources that are the file's output on its way out, not work of its own: the scheduler
 * drops stdout and keeps only the ends of stderr, so the report does not wait for them (a
 * flood would hold the process, and the memory of each write, while it drains).
 */
const OUTPUT = new Set(['PipeWrap', 'TTYWrap', 'WriteWrap', 'SimpleWriteWrap', 'ShutdownWrap']);

// Taken before the DAG file runs, which may replace any of them.
const exit = process.exit.bind(process);
const write = writeSync;
const key = readFileSync(0);
// The scheduler's setting, passed in this process's environment (DagProcessorOptions.settings).
const setting = process.env['ALOFT_MAX_MAP_LENGTH'];
const maxMapLength = setting === undefined ? DEFAULT_MAX_MAP_LENGTH : Number(setting);

class ExitAtImport extends Error {
  constructor(code: unknown) {
    super(`the file called process.exit(${code === undefined ? '' : show(code)}) at import; a DAG file must not end its process`);
  }
}

function lineIn(file: string, err: unknown): number | undefined {
  let stack = '';
  try {
    stack = err instanceof Error ? String(err.stack ?? '') : '';
  } catch {
    return undefined;
  }
  for (const l of stack.split('\n')) {
    const i = l.indexOf(file);
    if (i >= 0) {
      const m = /:(\d+)(?::\d+)?\)?\s*$/.exec(l.slice(i + file.length));
      if (m) return Number(m[1]);
    }
  }
  return undefined;
}

/** Any thrown or rejected value in words; never throws itself. */
function show(v: unknown): string {
  try {
    if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || typeof v === 'symbol') return String(v);
    if (typeof v === 'string') return JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}…` : v);
    if (typeof v === 'function') return `a function (${v.name || 'anonymous'})`;
    if (v instanceof Error) return `${v.name}: ${v.message}`;
    const json = JSON.stringify(v);
    if (json !== undefined) return json.length > 200 ? `${json.slice(0, 200)}…` : json;
  } catch {
    // An object whose toJSON or getters throw.
  }
  return 'an object that cannot be shown';
}

/**
 * The error with its file named once: the scheduler stores the file beside the message, so
 * the file's path inside it (`file:3:7: ERROR: …` from the TypeScript compiler, `imported
 * from file`) goes, its line becoming the error's line.
 */
function thrown(file: string, err: unknown): ReportedError {
  if (err instanceof DagImportError) return { message: err.detail, line: err.line, field: err.field };
  if (err instanceof ExitAtImport) return { message: err.message, line: lineIn(file, err) };
  if (!(err instanceof Error)) return { message: `the file threw ${show(err)}, which is not an Error`, line: lineIn(file, err) };
  let line = lineIn(file, err);
  const message = show(err)
    .replaceAll(new RegExp(`${escapeRegExp(file)}:(\\d+):\\d+: `, 'g'), (_, l: string) => {
      line ??= Number(l);
      return '';
    })
    .replaceAll(file, 'this file');
  return { message, line };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Resolves once the file has nothing left running but its output, or after SETTLE_MS. */
async function settled(): Promise<void> {
  const until = Date.now() + SETTLE_MS;
  do await new Promise((r) => setTimeout(r, 1));
  while (Date.now() < until && process.getActiveResourcesInfo().some((r) => !OUTPUT.has(r)));
}

/** DAGs declared once the import had finished: the scheduler would never see them. */
function declaredLate(dags: Dag[], count: number): ReportedError {
  const what = dags.length ? `dag ${dags.map((d) => JSON.stringify(d.id)).join(', ')}` : `${count} DAG${count === 1 ? '' : 's'}`;
  return {
    message:
      `${what} ${count === 1 ? 'was' : 'were'} declared after the file's import had finished (in a timer, a callback or an async function ` +
      'nobody awaited), so the scheduler cannot load it: declare DAGs while the file is imported, awaiting what they need first (top-level await)',
    line: dags[0]?.line,
  };
}

function rejected(file: string, reason: unknown): ReportedError {
  return { message: `a promise the file created was rejected with ${show(reason)} and nothing handled it`, line: lineIn(file, reason) };
}

async function parse(file: string): Promise<ChildReport> {
  // What goes wrong outside the import's own promise (a timer that throws, a promise left
  // rejected, process.exit) is the file's error too; the first one is reported.
  let late: ReportedError | undefined;
  process.on('uncaughtException', (err) => (late ??= thrown(file, err)));
  process.on('unhandledRejection', (reason) => (late ??= rejected(file, reason)));
  process.exit = ((code?: unknown) => {
    throw new ExitAtImport(code);
  }) as typeof process.exit;
  try {
    const declared = await importDagFile(file);
    const counted = declaredByAnyCopy();
    // What the file left running (timers, rejections nobody handled) gets its chance to show.
    await settled();
    if (late) return { error: late };
    const lateDags = takeDefinedDags();
    if (declaredByAnyCopy() > counted) return { error: declaredLate(lateDags, declaredByAnyCopy() - counted) };
    const dags: SerializedDag[] = [];
    const seen = new Set<string>();
    for (const d of declared) {
      const s = d.serialize({ maxMapLength });
      if (seen.has(s.id)) return { error: { message: `DAG id "${s.id}" is declared twice in this file`, line: d.line, field: 'id' } };
      seen.add(s.id);
      dags.push(s);
    }
    return { dags };
  } catch (err) {
    return { error: thrown(file, err) };
  }
}

function frame(report: ChildReport): Buffer {
  let json: string;
  try {
    if ('error' in report) report.error.message = report.error.message.slice(0, MAX_MESSAGE);
    json = JSON.stringify(report);
  } catch (err) {
    json = JSON.stringify({ error: { message: `the DAGs cannot be sent to the scheduler as JSON: ${show(err)}` } });
  }
  if (Buffer.byteLength(json) > MAX_RESULT_BYTES) {
    json = JSON.stringify({
      error: { message: `the DAGs take ${Buffer.byteLength(json)} bytes as JSON, more than the ${MAX_RESULT_BYTES} a parse result may take` },
    });
  }
  return encodeFrame(key, json);
}

/** The whole frame, however the pipe takes it. */
function send(bytes: Buffer): void {
  for (let at = 0; at < bytes.length;) {
    try {
      at += write(RESULT_FD, bytes, at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}

const file = process.argv[2];
if (!file || key.length !== KEY_BYTES) {
  process.stderr.write('usage: parse-child <file>, with the result key on stdin and the result pipe on fd 3\n');
  exit(2);
}
send(frame(await parse(file!)));
exit(0);
