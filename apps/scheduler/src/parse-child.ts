/**
 * Imports one DAG file in a throw-away process and prints what it declared, so a DAG file
 * that throws, hangs or never returns cannot hurt the scheduler or the other files.
 * Prints one line `::aloft-parse::<json>` with { dags } or { error }.
 */
import { DagImportError, importDagFile, type SerializedDag } from '@aloft/core';
import { PARSE_MARKER, type ParseResult } from './parse-protocol.js';

function lineIn(file: string, err: unknown): number | undefined {
  const stack = err instanceof Error ? (err.stack ?? '') : '';
  for (const l of stack.split('\n')) {
    const i = l.indexOf(file);
    if (i >= 0) {
      const m = /:(\d+)(?::\d+)?\)?\s*$/.exec(l.slice(i + file.length));
      if (m) return Number(m[1]);
    }
  }
  return undefined;
}

async function main(file: string): Promise<ParseResult> {
  try {
    const declared = await importDagFile(file);
    const dags: SerializedDag[] = [];
    const seen = new Set<string>();
    for (const d of declared) {
      const s = d.serialize();
      if (seen.has(s.id)) {
        return { error: { message: `DAG id "${s.id}" is declared twice in this file`, line: d.line, field: 'id' } };
      }
      seen.add(s.id);
      dags.push(s);
    }
    return { dags };
  } catch (err) {
    if (err instanceof DagImportError) return { error: { message: err.message, line: err.line, field: err.field } };
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return { error: { message, line: lineIn(file, err) } };
  }
}

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: parse-child <file>\n');
  process.exit(2);
}
const result = await main(file);
process.stdout.write(`\n${PARSE_MARKER}${JSON.stringify(result)}\n`, () => process.exit(0));
