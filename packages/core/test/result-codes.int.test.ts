import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NotFoundError } from '../src/errors/index.js';
import { checkResult, RESULT_CODES } from '../src/store/result-codes.js';
import { useRedis } from './fixtures/use-redis.js';

/** The scripts' result codes (includes/result-codes.lua) and their TypeScript mirror agree, and each becomes a typed error. */
describe('result codes (real redis-server)', () => {
  const redis = useRedis();

  it('has the same codes in Lua as in result-codes.ts', async () => {
    const lua = readFileSync(new URL('../src/store/lua/includes/result-codes.lua', import.meta.url), 'utf8');
    const names = Object.keys(RESULT_CODES);
    const got = await redis.conn().eval(`${lua}\nlocal n = 0\nfor _ in pairs(RC) do n = n + 1 end\nreturn { n, ${names.map((n) => `RC.${n}`).join(', ')} }`, 0);
    expect(got).toEqual([names.length, ...Object.values(RESULT_CODES)]);
  });

  it.each([
    [RESULT_CODES.DAG_NOT_STORED, { dagId: 'd' }, 'dag', 'DAG "d" is not stored; is its file in the DAG folder?'],
    [RESULT_CODES.RUN_NOT_FOUND, { dagId: 'd', runId: 'r' }, 'run', 'run "r" of DAG "d" does not exist'],
    [RESULT_CODES.TI_NOT_FOUND, { dagId: 'd', runId: 'r', taskId: 't', mapIndex: -1 }, 'task instance', 'task "t" of run "r" of DAG "d" does not exist'],
    [RESULT_CODES.TI_NOT_FOUND, { dagId: 'd', runId: 'r', taskId: 't', mapIndex: 2 }, 'task instance', 'task "t" [2] of run "r" of DAG "d" does not exist'],
  ])('turns code %i into a NotFoundError', (code, subject, kind, message) => {
    let err: unknown;
    try {
      checkResult(code, subject);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({ code: 'NOT_FOUND', kind, message });
  });

  it('passes results through', () => {
    expect(checkResult(0, { dagId: 'd' })).toBe(0);
    expect(checkResult('success', { dagId: 'd' })).toBe('success');
  });
});
