import { describe, expect, it } from 'vitest';
import { dag, setImportingFile, takeDefinedDags, type SerializedDag } from '@aloft/core';
import { readParseResult } from '../src/parse-result.js';

/** What the scheduler takes from a parse child: checked as untrusted input. */
const FILE = '/dags/etl.ts';

function honest(): SerializedDag {
  setImportingFile(FILE);
  const d = dag({ id: 'etl', schedule: '@daily', startDate: '2026-01-01' });
  setImportingFile(undefined);
  d.empty({ id: 'a' }).then(d.empty({ id: 'b' }));
  takeDefinedDags();
  return d.serialize();
}

const read = (dags: unknown[]) => readParseResult(JSON.stringify({ dags }), FILE);
const errorOf = (r: ReturnType<typeof readParseResult>) => ('error' in r ? r.error : undefined);

describe('readParseResult', () => {
  it('takes an honest DAG as it is, its version unchanged', () => {
    const d = honest();
    expect(read([d])).toEqual({ dags: [d] });
  });

  it('sets fileloc to the parsed file and computes the version from the content', () => {
    const d = honest();
    const r = read([{ ...d, fileloc: '/etc/passwd', version: 'ffffffffffffffff' }]);
    expect('dags' in r && r.dags[0]).toMatchObject({ fileloc: FILE, version: d.version });
  });

  const cases: [string, (d: SerializedDag) => unknown, string, string][] = [
    ['a DAG id with a colon', (d) => ({ ...d, id: 'etl:x' }), 'id', 'dags[0].id must be letters, digits, "_", "-" or "." (1 to 250 characters) (got "etl:x")'],
    [
      'a task id with a colon',
      (d) => ({ ...d, tasks: d.tasks.map((t, i) => (i ? t : { ...t, id: 'a:b' })) }),
      'tasks[0].id',
      'dags[0].tasks[0].id must be letters, digits, "_", "-" or "." (1 to 250 characters) (got "a:b")',
    ],
    ['an unknown field', (d) => ({ ...d, owner: 'me' }), 'owner', 'dags[0].owner is not a field Aloft knows'],
    [
      'an edge only one side knows',
      (d) => ({ ...d, tasks: d.tasks.map((t) => (t.id === 'b' ? { ...t, upstream: [] } : t)) }),
      'tasks[0].downstream[0]',
      'dags[0].tasks[0].downstream[0] names "b", which does not list "a" upstream',
    ],
    [
      'a cycle',
      (d) => ({ ...d, tasks: d.tasks.map((t) => ({ ...t, upstream: [t.id === 'a' ? 'b' : 'a'], downstream: [t.id === 'a' ? 'b' : 'a'] })) }),
      'tasks',
      'dags[0].tasks form a cycle',
    ],
    [
      'a cron the scheduler cannot tick',
      (d) => ({ ...d, schedule: { kind: 'cron', expression: '99 * * * *' } }),
      'schedule.expression',
      'dags[0].schedule.expression "99 * * * *" is not a valid cron expression',
    ],
    [
      'too many tasks',
      (d) => ({ ...d, tasks: Array.from({ length: 20_001 }, (_, i) => ({ ...d.tasks[0]!, id: `t${i}`, upstream: [], downstream: [] })) }),
      'tasks',
      'dags[0].tasks must hold at most 20000 tasks',
    ],
  ];
  for (const [what, change, field, message] of cases) {
    it(`refuses ${what}, naming the field`, () => {
      const err = errorOf(read([change(honest())]));
      expect(err?.field).toBe(field || undefined);
      expect(err?.message.startsWith(`the parse result is not valid: ${message}`), err?.message).toBe(true);
    });
  }

  it('refuses more DAGs than a file may declare, and a report that is not JSON', () => {
    expect(errorOf(read(Array.from({ length: 1001 }, () => 1)))?.message).toBe('the parse result is not valid: dags a file may declare at most 1000 DAGs');
    expect(errorOf(readParseResult('{"dags": [', FILE))?.message).toBe('the parse result is not valid: is not JSON');
  });

  it('keeps a reported error, shortened to what an import error holds', () => {
    const r = readParseResult(JSON.stringify({ error: { message: 'x'.repeat(10_000), line: 3, field: 'retries' } }), FILE);
    expect(errorOf(r)).toMatchObject({ line: 3, field: 'retries' });
    expect(errorOf(r)?.message).toHaveLength(4000);
  });
});
