import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DagImportError } from '../errors/dag-import-error.js';
import { setImportingFile } from './call-site.js';
import type { Dag } from './dag.js';
import { declaredByAnyCopy, takeDefinedDags } from './registry.js';

/**
 * Imports one DAG file and returns the DAGs it declared. The file's mtime is part of the
 * module URL, so a changed file is imported afresh in a long-lived process. A file whose
 * DAGs went to another copy of @aloft/core (it was loaded as CommonJS, or imports a second
 * installation) is a DagImportError saying what to change, not a file of no DAGs
 * (apps/scheduler/test/parse-child.test.ts, "CommonJS"); so is a file that uses ES module
 * syntax the CommonJS loader rejects (top-level await).
 */
export async function importDagFile(file: string): Promise<Dag[]> {
  const mtime = statSync(file).mtimeMs;
  takeDefinedDags();
  const before = declaredByAnyCopy();
  setImportingFile(file);
  try {
    await import(`${pathToFileURL(file).href}?v=${mtime}`);
  } catch (err) {
    throw commonJsSyntaxError(file, err) ?? err;
  } finally {
    setImportingFile(undefined);
  }
  const dags = takeDefinedDags();
  const lost = declaredByAnyCopy() - before - dags.length;
  if (lost > 0) throw new DagImportError({ file, field: 'module', message: lostDagsMessage(file, lost) });
  return dags;
}

function lostDagsMessage(file: string, lost: number): string {
  const what = `${lost} DAG${lost === 1 ? '' : 's'} declared here went to a second copy of @aloft/core, which Aloft does not read`;
  if (!(resolve(file) in createRequire(import.meta.url).cache)) {
    return `${what}: import dag() from the @aloft/core installation Aloft runs from, not from one of the DAG folder's own`;
  }
  return `${what}: the file was loaded as CommonJS. DAG files must be ES modules (import, not require): ${esmFix(file)}`;
}

/** How to make Node load `file` as an ES module. */
function esmFix(file: string): string {
  const pkg = nearestPackageJson(dirname(resolve(file)));
  const fix = pkg ? `add "type": "module" to ${pkg}` : `add a package.json with "type": "module" to the DAG folder`;
  return `${fix}, or name the file .mts/.mjs`;
}

/**
 * tsx compiles a file it loads as CommonJS to CommonJS, where top-level await cannot be:
 * esbuild's "Top-level await is currently not supported with the "cjs" output format" at
 * `file:line:column`. That is a DagImportError at that line saying how to load it as ESM.
 */
function commonJsSyntaxError(file: string, err: unknown): DagImportError | undefined {
  const message = err instanceof Error ? err.message : '';
  if (!/not supported with the "cjs" output format/.test(message)) return undefined;
  const at = message.indexOf(`${resolve(file)}:`);
  const line = at >= 0 ? /^(\d+):\d+: /.exec(message.slice(at + resolve(file).length + 1))?.[1] : undefined;
  return new DagImportError({
    file,
    line: line ? Number(line) : undefined,
    field: 'module',
    message: `top-level await needs an ES module, and the file was loaded as CommonJS: ${esmFix(file)}`,
  });
}

/** The package.json that decides how Node loads files in `dir`, if any. */
function nearestPackageJson(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    const p = join(d, 'package.json');
    try {
      readFileSync(p);
      return p;
    } catch {
      if (dirname(d) === d) return undefined;
    }
  }
}
