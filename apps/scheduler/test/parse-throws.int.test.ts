import { describe, expect, it } from 'vitest';
import { dagFolders } from './support/dag-folders.js';

/**
 * Whatever a DAG file throws, rejects or ends its process with at import, its import error
 * says so in words, with the line where there is one, also when what it throws is not an Error;
 * so does a file whose DAG is declared only after its import finished, which would otherwise
 * leave neither a DAG nor an error.
 */
const folders = dagFolders('parse-throws');

describe('DAG files that fail at import in odd ways', () => {
  it('reports each with its own message, and still loads the good file beside them', async () => {
    const f = folders.folder();
    const cases: [string, string[], { message: string; line?: number }][] = [
      ['number.ts', ['throw 42;'], { message: 'the file threw 42, which is not an Error' }],
      ['null.ts', ['throw null;'], { message: 'the file threw null, which is not an Error' }],
      ['rejected.ts', ['await Promise.reject(undefined);'], { message: 'the file threw undefined, which is not an Error' }],
      [
        'odd-object.ts',
        ["throw { toJSON() { throw new Error('no'); } };"],
        { message: 'the file threw an object that cannot be shown, which is not an Error' },
      ],
      [
        'unhandled.ts',
        ["import { dag } from '@aloft/core';", "dag({ id: 'unhandled' }).empty({ id: 't' });", "void Promise.reject('late');"],
        { message: 'a promise the file created was rejected with "late" and nothing handled it' },
      ],
      [
        'timer.ts',
        ['setTimeout(() => {', "  throw new RangeError('in a timer');", '}, 0);', 'await new Promise((r) => setTimeout(r, 100));'],
        { message: 'RangeError: in a timer', line: 2 },
      ],
      [
        'exit.ts',
        ["import { dag } from '@aloft/core';", "dag({ id: 'exits' }).empty({ id: 't' });", 'process.exit(0);'],
        { message: 'the file called process.exit(0) at import; a DAG file must not end its process', line: 3 },
      ],
      [
        'declared-late.ts',
        ["import { dag } from '@aloft/core';", "setTimeout(() => dag({ id: 'late' }).empty({ id: 't' }), 10);"],
        {
          message:
            'dag "late" was declared after the file\'s import had finished (in a timer, a callback or an async function nobody awaited), so the ' +
            'scheduler cannot load it: declare DAGs while the file is imported, awaiting what they need first (top-level await)',
          line: 2,
        },
      ],
      [
        'killed.ts',
        ["process.kill(process.pid, 'SIGKILL');"],
        { message: 'the parse process was ended by signal SIGKILL (not sent by Aloft) before it reported the DAGs' },
      ],
    ];
    const files = new Map(cases.map(([name, lines, want]) => [f.write(name, lines), want]));
    f.write('zz_good.ts', ["import { dag } from '@aloft/core';", "dag({ id: 'good' }).empty({ id: 't' });"]);

    await f.processor().scan();
    const errors = await f.store.listImportErrors();
    expect(Object.fromEntries(errors.map((e) => [e.file, { message: e.message, ...(e.line ? { line: e.line } : {}) }]))).toEqual(Object.fromEntries(files));
    expect(await f.store.listDagIds()).toEqual(['good']);
  });
});
