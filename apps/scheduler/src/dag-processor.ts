import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger, Store } from '@aloft/core';
import { PARSE_MARKER, type ParseResult } from './parse-protocol.js';

const CHILD = fileURLToPath(new URL('./parse-child.ts', import.meta.url));
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
  /** First wait before a file whose import timed out is parsed again. Default 60 s. */
  retryMs?: number;
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

  readonly folder: string;
  private readonly store: Store;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly retryMs: number;

  constructor(o: DagProcessorOptions) {
    this.folder = o.folder;
    this.store = o.store;
    this.logger = o.logger;
    this.timeoutMs = o.timeoutMs;
    this.retryMs = o.retryMs ?? 60_000;
  }

  /** One pass over the folder; returns how many files were (re)parsed. */
  async scan(): Promise<number> {
    if (this.#scanning) return 0;
    this.#scanning = true;
    try {
      const files = listDagFiles(this.folder);
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
      // Two at a time: a slow file does not hold the others back for long.
      for (let i = 0; i < changed.length; i += 2) {
        await Promise.all(changed.slice(i, i + 2).map((f) => this.#process(f)));
        parsed += Math.min(2, changed.length - i);
      }
      for (const [f, state] of this.#files) {
        if (present.has(f)) continue;
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

  async #process(file: string): Promise<void> {
    const started = Date.now();
    const result = await this.#parse(file);
    const state = this.#files.get(file)!;
    if ('timedOut' in result) {
      const delayMs = state.retry ? Math.min(state.retry.delayMs * 2, MAX_RETRY_MS) : this.retryMs;
      state.retry = { at: Date.now() + delayMs, delayMs };
      result.error.message += `; it is tried again in ${Math.round(delayMs / 1000)} s`;
    } else state.retry = undefined;
    if ('error' in result) {
      await this.store.setImportError({ file, ...result.error, at: Date.now() });
      this.logger.warn({ file: this.#rel(file), line: result.error.line, field: result.error.field, error: result.error.message }, 'DAG file has errors');
      return;
    }
    for (const d of result.dags) {
      const owner = [...this.#files].find(([f, s]) => f !== file && s.dagIds.includes(d.id));
      if (owner) {
        const message = `DAG id "${d.id}" is already declared in ${owner[0]}`;
        await this.store.setImportError({ file, message, field: 'id', line: d.line, at: Date.now() });
        this.logger.warn({ file: this.#rel(file), error: message }, 'DAG file has errors');
        return;
      }
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

  #parse(file: string): Promise<ParseResult | { error: { message: string; line?: undefined; field?: undefined }; timedOut: true }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['--conditions=aloft-source', '--import', import.meta.resolve('tsx'), CHILD, file], {
        stdio: ['ignore', 'pipe', 'pipe'],
        // DAG files are user code: they get no Redis credentials.
        env: { ...withoutSecrets(process.env), ALOFT_PARSING: '1' },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve({ error: { message: `importing the file took longer than ${this.timeoutMs} ms (ALOFT_DAG_PARSE_TIMEOUT_MS); it was stopped` }, timedOut: true });
      }, this.timeoutMs);
      child.on('close', (code) => {
        clearTimeout(timer);
        const line = out.split('\n').find((l) => l.startsWith(PARSE_MARKER));
        if (line) resolve(JSON.parse(line.slice(PARSE_MARKER.length)) as ParseResult);
        else {
          const firstErr = err.split('\n').find((l) => /Error|error/.test(l)) ?? err.split('\n')[0] ?? '';
          resolve({ error: { message: `importing the file failed (exit code ${code}): ${firstErr.trim().slice(0, 500)}` } });
        }
      });
    });
  }
}

function withoutSecrets(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  delete out['REDIS_URL'];
  return out;
}
