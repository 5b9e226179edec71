import { statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { setImportingFile } from './call-site.js';
import type { Dag } from './dag.js';
import { takeDefinedDags } from './registry.js';

/**
 * Imports one DAG file and returns the DAGs it declared. The file's mtime is part of the
 * module URL, so a changed file is imported afresh in a long-lived process.
 */
export async function importDagFile(file: string): Promise<Dag[]> {
  const mtime = statSync(file).mtimeMs;
  takeDefinedDags();
  setImportingFile(file);
  try {
    await import(`${pathToFileURL(file).href}?v=${mtime}`);
  } finally {
    setImportingFile(undefined);
  }
  return takeDefinedDags();
}
