import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canRead, type Logger, type SerializedDag, type Store, type UserCodeIdentity } from '@aloft/core';
import { parseIdentity } from './parse-identity.js';
import type { ReportedError } from './parse-protocol.js';
import { readParseResult } from './parse-result.js';
import { PARSE_CHILD, ParseRunner, TSX } from './parse-runner.js';

const DAG_FILE = /\.(m?ts|m?js)$/;

interface FileState {
  stamp: string;
  dagIds: string[];
  /**
   * A parse that timed out is tried again, unchanged, from `at`: a busy machine can make a
   * good file slow to import once. The wait doubles each time, up to an hour, so a file that
   * always hangs costs little.
   */
  retry?: { at: number; delayMs: number } | undefined;
}

const MAX_RETRY_MS = 3_600_000;

export interface DagProcessorOptions {
  folder: string;
  store: Store;
  logger: Logger;
  /** ALOFT_DAG_PARSE_TIMEOUT_MS: one file's import, from spawn to result. */
  timeoutMs: number;
  /** ALOFT_DAG_PARSE_RETRY_MS: first wait before a file whose import timed out is parsed again. Default 60 s. */
  retryMs?: number;
  /** ALOFT_DAG_PARSE_MEMORY_MB: one parse child, Buffers included. Default 1024. */
  memoryMb?: number;
  /** ALOFT_USER_CODE_USER: who imports DAG files (parse-identity.ts). */
  userCodeUser?: string | undefined;
  /** Non-secret settings the DAG API reads at import, e.g. ALOFT_MAX_MAP_LENGTH. */
  settings?: Record<string, string>;
  /** The scheduler's environment; parse children get only its allow-listed variables. */
  env: NodeJS.ProcessEnv;
}

/** Lists DAG files under a folder: .ts/.mts/.js/.mjs, skipping .d.ts, `_`-prefixed names and node_modules. */
export function listDagFiles(folder: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith('_') || e.name.startsWith('.') || e.name === 'node_modules') continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (DAG_FILE.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
    }
  };
  walk(folder);
  return out.sort();
}

/**
 * Keeps Redis in step with the DAG folder: each new or changed file is imported in its own
 * child process with a timeout, its DAGs validated and stored, and its problems recorded as
 * an import error for that file alone.
 */
export class DagProcessor {
  readonly #files = new Map<string, FileState>();
  #scanning = false;
  #stopped = false;

  readonly folder: string;
  private readonly store: Store;
  private readonly logger: Logger;
  private readonly retryMs: number;
  /** Who parse children run as; undefined: the scheduler's own user. */
  readonly identity: UserCodeIdentity | undefined;
  readonly #runner: ParseRunner;
  readonly #memoryMb: number;

  constructor(o: DagProcessorOptions) {
    this.folder = o.folder;
    this.store = o.store;
    this.logger = o.logger;
    this.retryMs = o.retryMs ?? 60_000;
    this.#memoryMb = o.memoryMb ?? 1024;
    const needs = [process.execPath, fileURLToPath(TSX), PARSE_CHILD, fileURLToPath(import.meta.resolve('@aloft/core'))];
    const { identity, warning } = parseIdentity(o.userCodeUser, o.folder, needs);
    if (warning) this.logger.warn({ folder: o.folder }, warning);
    this.identity = identity;
    this.#runner = new ParseRunner({ timeoutMs: o.timeoutMs, memoryMb: this.#memoryMb, identity, env: o.env, settings: o.settings ?? {} });
    if (!this.#runner.prlimit)
      this.logger.warn('prlimit not found: a parse child is limited only by its V8 heap (half of ALOFT_DAG_PARSE_MEMORY_MB), not its Buffers');
  }

  /**
   * Ends the parses under way and what their files started (a stopping scheduler leaves no
   * parse child behind); nothing is recorded for those files. Later scans do nothing.
   */
  stop(): void {
    this.#stopped = true;
    this.#runner.stop();
  }

  /** One pass over the folder; returns how many files were (re)parsed. */
  async scan(): Promise<number> {
    return this.#pass(listDagFiles(this.folder), true);
  }

  /**
   * Parses and stores these files of the folder alone, as a scan would (a DAG test, which
   * needs one file, not the folder); files not named are left as they are. Returns how many
   * were (re)parsed.
   */
  async scanFiles(files: readonly string[]): Promise<number> {
    return this.#pass(files, false);
  }

  /** Parses the new and changed files of `files`; `whole`: they are the folder, so the others are gone. */
  async #pass(files: readonly string[], whole: boolean): Promise<number> {
    if (this.#scanning || this.#stopped) return 0;
    this.#scanning = true;
    try {
      const present = new Set(files);
      let parsed = 0;
      const changed: string[] = [];
      for (const f of files) {
        let stamp: string;
        try {
          const st = statSync(f);
          stamp = `${st.mtimeMs}:${st.size}`;
        } catch {
          continue;
        }
        const known = this.#files.get(f);
        const retry = known?.stamp === stamp ? known.retry : undefined;
        if (known?.stamp === stamp && !(retry && Date.now() >= retry.at)) continue;
        changed.push(f);
        this.#files.set(f, { stamp, dagIds: known?.dagIds ?? [], retry });
      }
      // Two at a time, each slot taking the next file once it is free: a file that runs into
      // the timeout holds one slot, while the other goes through the rest.
      const queue = [...changed];
      await Promise.all(
        [0, 1].map(async () => {
          for (let f = queue.shift(); f !== undefined && !this.#stopped; f = queue.shift()) {
            await this.#process(f);
            parsed++;
          }
        }),
      );
      for (const [f, state] of this.#files) {
        if (!whole || present.has(f)) continue;
        this.#files.delete(f);
        for (const id of state.dagIds) await this.store.markDagMissing(id);
        await this.store.clearImportError(f);
        this.logger.info({ file: this.#rel(f), dags: state.dagIds }, 'DAG file removed');
      }
      return parsed;
    } finally {
      this.#scanning = false;
    }
  }

  #rel(f: string): string {
    return relative(this.folder, f) || f;
  }

  /**
   * One file: parse, check, store. Whatever goes wrong with it becomes its import error and
   * the scan goes on; only a failure to record that (Redis down) ends the scan.
   */
  async #process(file: string): Promise<void> {
    try {
      await this.#load(file);
    } catch (err) {
      await this.#failed(file, { message: `the file's DAGs could not be stored: ${err instanceof Error ? err.message : String(err)}` });
    }
  }

  async #load(file: string): Promise<void> {
    const started = Date.now();
    const state = this.#files.get(file)!;
    const result = await this.#parse(file);
    if ('stopped' in result) return;
    if ('timedOut' in result) {
      const delayMs = state.retry ? Math.min(state.retry.delayMs * 2, MAX_RETRY_MS) : this.retryMs;
      state.retry = { at: Date.now() + delayMs, delayMs };
      result.error.message += `; it is tried again in ${Math.round(delayMs / 1000)} s`;
    } else state.retry = undefined;
    if ('error' in result) return this.#failed(file, result.error);
    for (const d of result.dags) {
      const owner = [...this.#files].find(([f, s]) => f !== file && s.dagIds.includes(d.id));
      if (owner) return this.#failed(file, { message: `DAG id "${d.id}" is already declared in ${owner[0]}`, field: 'id', line: d.line });
    }
    // The file is good: its error goes before its DAGs appear, so nobody sees both.
    await this.store.clearImportError(file);
    const ids = result.dags.map((d) => d.id);
    for (const gone of state.dagIds.filter((id) => !ids.includes(id))) await this.store.markDagMissing(gone);
    for (const d of result.dags) {
      const changed = await this.store.saveDag(d);
      if (changed) this.logger.info({ dag: d.id, version: d.version, tasks: d.tasks.length }, 'DAG stored');
    }
    state.dagIds = ids;
    this.logger.debug({ file: this.#rel(file), dags: ids, ms: Date.now() - started }, 'DAG file parsed');
  }

  async #failed(file: string, error: ReportedError): Promise<void> {
    await this.store.setImportError({ file, ...error, at: Date.now() });
    this.logger.warn({ file: this.#rel(file), line: error.line, field: error.field, error: error.message }, 'DAG file has errors');
  }

  async #parse(file: string): Promise<{ dags: SerializedDag[] } | { error: ReportedError; timedOut?: true } | { stopped: true }> {
    if (this.identity && !canRead(this.identity, file)) {
      return {
        error: {
          message: `${this.identity.name}, the user DAG files are imported as, cannot read this file (mode ${(statSync(file).mode & 0o7777).toString(8).padStart(4, '0')})`,
        },
      };
    }
    const outcome = await this.#runner.run(file, this.folder);
    if (!('payload' in outcome)) return outcome;
    const result = readParseResult(outcome.payload, file);
    // An allocation the file caught and reported as its own error still hit the limit.
    if ('error' in result && /allocation failed/i.test(result.error.message))
      result.error.message += ` (the parse memory limit is ${this.#memoryMb} MB, ALOFT_DAG_PARSE_MEMORY_MB)`;
    return result;
  }
}
