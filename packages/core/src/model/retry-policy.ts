import { compileExpression } from 'filtrex';

/**
 * Which failed tries are worth another (Argo's retryStrategy): any condition given that
 * holds lets the retry happen; a failed try that meets none fails the task at once, retries
 * left or not. Without a policy every failure is retried while retries are left.
 */
export interface RetryPolicy {
  /** The try's exit code is one of these (command, pod and runInPod tasks). */
  exitCodes?: number[] | undefined;
  /** The error a function task threw has one of these names (`err.name`: `TypeError`, a class of your own). */
  errors?: string[] | undefined;
  /**
   * A filtrex expression over the failed try, true to retry: `exitCode` (a number, or 0
   * without one), `reason` (why it failed), `error` (the thrown error's name, or ""),
   * `durationMs` and `try` (its number). E.g. `exitCode == 75 or reason ~= "timed out"`.
   */
  expression?: string | undefined;
}

/** What the policy sees of a failed try. */
export interface FailedTry {
  exitCode: number | undefined;
  reason: string;
  error: string | undefined;
  durationMs: number;
  try: number;
}

const NAMES = ['exitCode', 'reason', 'error', 'durationMs', 'try'] as const;
const compiled = new Map<string, (record: Record<string, unknown>) => unknown>();

function compiledExpression(expression: string): (record: Record<string, unknown>) => unknown {
  let f = compiled.get(expression);
  if (!f) {
    f = compileExpression(expression) as (record: Record<string, unknown>) => unknown;
    if (compiled.size > 1000) compiled.clear();
    compiled.set(expression, f);
  }
  return f;
}

const record = (t: FailedTry): Record<string, unknown> => ({
  exitCode: t.exitCode ?? 0,
  reason: t.reason,
  error: t.error ?? '',
  durationMs: t.durationMs,
  try: t.try,
});

/** What is wrong with a retry policy as a DAG file gives it, by field; empty when nothing. */
export function retryPolicyProblems(v: unknown): { field: string; message: string }[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return [{ field: 'retryPolicy', message: 'must be an object of exitCodes, errors and expression' }];
  const out: { field: string; message: string }[] = [];
  for (const k of Object.keys(v)) {
    if (k !== 'exitCodes' && k !== 'errors' && k !== 'expression')
      out.push({ field: `retryPolicy.${k}`, message: 'is not a retry condition (exitCodes, errors, expression)' });
  }
  const p = v as Record<string, unknown>;
  if (p['exitCodes'] !== undefined && !(Array.isArray(p['exitCodes']) && p['exitCodes'].every((c) => Number.isInteger(c) && c >= 0 && c <= 255)))
    out.push({ field: 'retryPolicy.exitCodes', message: 'must be a list of exit codes from 0 to 255' });
  if (p['errors'] !== undefined && !(Array.isArray(p['errors']) && p['errors'].every((e) => typeof e === 'string' && /^[A-Za-z_$][\w$]*$/.test(e))))
    out.push({ field: 'retryPolicy.errors', message: 'must be a list of error names such as "TimeoutError"' });
  if (p['expression'] !== undefined) {
    const problem = typeof p['expression'] === 'string' ? expressionProblem(p['expression']) : 'must be a string';
    if (problem) out.push({ field: 'retryPolicy.expression', message: problem });
  }
  return out;
}

function expressionProblem(expression: string): string | undefined {
  let f: (r: Record<string, unknown>) => unknown;
  try {
    f = compiledExpression(expression);
  } catch (err) {
    return `is not an expression: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`;
  }
  // filtrex answers an unknown name with an error value: try it on a sample failed try.
  const sample = f(record({ exitCode: 1, reason: '', error: undefined, durationMs: 0, try: 1 }));
  if (sample instanceof Error) return `${sample.message} (the names are ${NAMES.join(', ')})`;
  return undefined;
}

/** Whether a failed try is retried under the policy, and why not when it is not. */
export function retryAllowed(p: RetryPolicy, t: FailedTry): { retry: true } | { retry: false; why: string } {
  if (!p.exitCodes && !p.errors && p.expression === undefined) return { retry: true };
  const conditions: string[] = [];
  if (p.exitCodes) {
    if (t.exitCode !== undefined && p.exitCodes.includes(t.exitCode)) return { retry: true };
    conditions.push(`exit code ${t.exitCode ?? 'none'} is not in exitCodes [${p.exitCodes.join(', ')}]`);
  }
  if (p.errors) {
    if (t.error !== undefined && p.errors.includes(t.error)) return { retry: true };
    conditions.push(`error ${t.error ?? 'none'} is not in errors [${p.errors.join(', ')}]`);
  }
  if (p.expression !== undefined) {
    const v = compiledExpression(p.expression)(record(t));
    if (v === true || v === 1) return { retry: true };
    conditions.push(v instanceof Error ? `expression failed: ${v.message}` : `expression "${p.expression}" is false`);
  }
  return { retry: false, why: `retryPolicy: not retried (${conditions.join('; ')})` };
}
