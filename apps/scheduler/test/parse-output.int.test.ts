import { describe, expect, it } from 'vitest';
import { dagFolders } from './support/dag-folders.js';

/**
 * What a DAG file prints at import is its own business: the scheduler keeps the first and
 * last 64 KiB of it, whatever the amount (kept whole, hundreds of MB would end the scheduler
 * with "RangeError: Invalid string length").
 */
const folders = dagFolders('parse-output');

describe('DAG files that print a lot at import', () => {
  it('loads the DAG of a file that prints 640 MB, and the scan goes on', async () => {
    const f = folders.folder();
    f.write('a_loud.ts', [
      "import { dag } from '@aloft/core';",
      "const mb = 'x'.repeat(1 << 20);",
      'for (let i = 0; i < 640; i++) process.stdout.write(mb);',
      "dag({ id: 'loud' }).empty({ id: 't' });",
    ]);
    f.write('b_quiet.ts', ["import { dag } from '@aloft/core';", "dag({ id: 'quiet' }).empty({ id: 't' });"]);

    // A minute: the flood itself takes seconds on a busy machine.
    expect(await f.processor({ timeoutMs: 60_000 }).scan()).toBe(2);
    expect(await f.store.listImportErrors()).toEqual([]);
    expect((await f.store.getDag('loud'))?.dag.tasks.map((t) => t.id)).toEqual(['t']);
    expect(await f.store.getDag('quiet')).toBeTruthy();
  });

  it('reports a file that fails after flooding stderr by its own error, not by its output', async () => {
    const f = folders.folder();
    const file = f.write('noisy.ts', [
      "const mb = 'e'.repeat(1 << 20);",
      'for (let i = 0; i < 64; i++) process.stderr.write(mb);',
      "throw new TypeError('bad config');",
    ]);

    await f.processor().scan();
    expect(await f.store.listImportErrors()).toEqual([expect.objectContaining({ file, line: 3, message: 'TypeError: bad config' })]);
  });
});
