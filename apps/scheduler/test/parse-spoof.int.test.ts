import { describe, expect, it } from 'vitest';
import { dagFolders } from './support/dag-folders.js';

/**
 * The parse result is untrusted input: a DAG file can print anything
 * and patch anything in its own process. Stdout is only its output; what does reach the
 * scheduler is validated like any input, and the scheduler sets `fileloc` itself.
 */
const folders = dagFolders('parse-spoof');
const forge = (dag: Record<string, unknown>) => `process.stdout.write('\\n::aloft-parse::' + JSON.stringify({ dags: [${JSON.stringify(dag)}] }) + '\\n');`;
/** A file that declares DAG `id` and then rewrites what its serialize() returns. */
const patched = (id: string, change: string) => [
  "import { dag } from '@aloft/core';",
  `const d = dag({ id: '${id}' });`,
  "d.empty({ id: 't' });",
  'const real = d.serialize.bind(d);',
  `d.serialize = () => ({ ...real(), ${change} });`,
];
const oneTask = { id: 't', kind: 'empty', upstream: [], downstream: [], triggerRule: 'all_success', hasFunction: false };

describe('spoofed parse results', () => {
  it('goes on with the other files when a printed result could not be stored', async () => {
    const f = folders.folder();
    f.write('a_spoof.ts', [forge({ id: 'spoof' }), 'process.exit(0);']);
    f.write('b_good.ts', ["import { dag } from '@aloft/core';", "dag({ id: 'b_good' }).empty({ id: 't' });"]);
    f.write('c_good.ts', ["import { dag } from '@aloft/core';", "dag({ id: 'c_good' }).empty({ id: 't' });"]);

    await f.processor().scan();
    expect(await f.store.getDag('b_good')).toBeTruthy();
    expect(await f.store.getDag('c_good')).toBeTruthy();
    expect(await f.store.getDag('spoof')).toBeFalsy();
  });

  it('stores nothing a file prints that looks like a result', async () => {
    const f = folders.folder();
    const spoof = {
      id: 'x:y',
      description: '',
      fileloc: '/etc/passwd',
      schedule: null,
      timezone: 'UTC',
      startDate: null,
      endDate: null,
      catchup: false,
      maxActiveRuns: 1,
      maxActiveTasks: 1,
      tags: [],
      params: {},
      tasks: [oneTask],
      version: '0000000000000000',
    };
    f.write('printed.ts', [forge(spoof), 'process.exit(0);']);

    await f.processor().scan();
    expect(await f.store.getDag('x:y')).toBeFalsy();
    expect(await f.store.listDagIds()).toEqual([]);
  });

  it('rejects a DAG whose serialized form the file rewrote to an invalid id, naming the file and field', async () => {
    const f = folders.folder();
    const file = f.write('patched.ts', patched('patched', "id: 'patched:x'"));

    await f.processor().scan();
    expect(await f.store.getDag('patched:x')).toBeFalsy();
    const [err] = await f.store.listImportErrors();
    expect(err).toMatchObject({ file, field: 'id', line: 2 });
    expect(err?.message).toBe('the parse result is not valid: dags[0].id must be letters, digits, "_", "-" or "." (1 to 250 characters) (got "patched:x")');
  });

  it('stores a DAG with the file it was parsed from, whatever fileloc the file reports', async () => {
    const f = folders.folder();
    const file = f.write('elsewhere.ts', patched('elsewhere', "fileloc: '/etc/passwd'"));

    await f.processor().scan();
    expect((await f.store.getDag('elsewhere'))?.dag.fileloc).toBe(file);
  });
});
