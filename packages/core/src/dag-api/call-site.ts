import { fileURLToPath } from 'node:url';

let importingFile: string | undefined;

/** Set by the DAG file processor while it imports one file, so lines point into it. */
export function setImportingFile(file: string | undefined): void {
  importingFile = file;
}

export function getImportingFile(): string | undefined {
  return importingFile;
}

/** Line in the DAG file being imported from which the DAG API was called, if found. */
export function callSiteLine(): number | undefined {
  const stack = new Error().stack ?? '';
  for (const frame of stack.split('\n').slice(1)) {
    const m = /\(?((?:file:\/\/)?[^()\s]+):(\d+):\d+\)?$/.exec(frame.trim());
    if (!m?.[1] || !m[2]) continue;
    const file = m[1].startsWith('file://') ? fileURLToPath(m[1]) : m[1];
    if (importingFile ? file === importingFile : !file.includes('/dag-api/')) return Number(m[2]);
  }
  return undefined;
}
