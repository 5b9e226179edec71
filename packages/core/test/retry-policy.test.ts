import { describe, expect, it } from 'vitest';
import { dag, retryAllowed, retryPolicyProblems, type FailedTry } from '../src/index.js';

const failed = (over: Partial<FailedTry> = {}): FailedTry => ({ exitCode: 1, reason: 'exit code 1', error: undefined, durationMs: 1000, try: 1, ...over });

/** retryPolicy (model/retry-policy): which failed tries are retried, and what is wrong with a policy. */
describe('retry policies', () => {
  it('retries when any condition given holds, and says which did not', () => {
    expect(retryAllowed({ exitCodes: [75] }, failed({ exitCode: 75 }))).toEqual({ retry: true });
    expect(retryAllowed({ exitCodes: [75] }, failed({ exitCode: 2 }))).toEqual({
      retry: false,
      why: 'retryPolicy: not retried (exit code 2 is not in exitCodes [75])',
    });
    expect(retryAllowed({ errors: ['TimeoutError'] }, failed({ error: 'TimeoutError', exitCode: undefined }))).toEqual({ retry: true });
    expect(retryAllowed({ errors: ['TimeoutError'], exitCodes: [75] }, failed({ error: 'TypeError', exitCode: undefined }))).toEqual({
      retry: false,
      why: 'retryPolicy: not retried (exit code none is not in exitCodes [75]; error TypeError is not in errors [TimeoutError])',
    });
    const expr = { expression: 'exitCode == 137 or (reason ~= "timed out" and durationMs < 60000)' };
    expect(retryAllowed(expr, failed({ exitCode: 137 })).retry).toBe(true);
    expect(retryAllowed(expr, failed({ reason: 'the request timed out', durationMs: 5000 })).retry).toBe(true);
    expect(retryAllowed(expr, failed({ reason: 'the request timed out', durationMs: 90_000 }))).toMatchObject({
      retry: false,
      why: expect.stringContaining('is false'),
    });
    expect(retryAllowed({ expression: 'try < 3' }, failed({ try: 3 })).retry).toBe(false);
    // No condition at all: as without a policy.
    expect(retryAllowed({}, failed())).toEqual({ retry: true });
  });

  it('names what is wrong with a policy, field by field', () => {
    expect(retryPolicyProblems({ exitCodes: [75], expression: 'exitCode > 1' })).toEqual([]);
    expect(retryPolicyProblems({ exitCode: [1] })).toEqual([
      { field: 'retryPolicy.exitCode', message: 'is not a retry condition (exitCodes, errors, expression)' },
    ]);
    expect(retryPolicyProblems({ exitCodes: [300], errors: ['not a name'] }).map((p) => p.field)).toEqual(['retryPolicy.exitCodes', 'retryPolicy.errors']);
    expect(retryPolicyProblems({ expression: 'exitCode ==== 1' })[0]?.message).toMatch(/^is not an expression: Parse error/);
    expect(retryPolicyProblems({ expression: 'exit_code == 1' })[0]?.message).toMatch(/exit_code.*the names are exitCode, reason, error, durationMs, try/);
    expect(retryPolicyProblems('always')).toEqual([{ field: 'retryPolicy', message: 'must be an object of exitCodes, errors and expression' }]);
  });

  it('is an import error with the field in a DAG file', () => {
    const d = dag({ id: 'bad_policy' });
    d.command({ id: 'x', command: 'true', retries: 2, retryPolicy: { expression: 'nope > 1' } });
    expect(() => d.serialize()).toThrow(/task "x": retryPolicy.expression .*nope/);
  });
});
