import { createHash } from 'node:crypto';
import { z } from 'zod';
import { MAX_DAGS_PER_FILE, parseSchedule, SERIALIZED_DAG, topologicalOrder, type SerializedDag } from '@aloft/core';
import type { ReportedError } from './parse-protocol.js';

/** An import error as stored: long enough to read, short enough for a list of them. */
const MAX_MESSAGE = 4000;

const DAGS = z.strictObject({ dags: z.array(z.unknown()).max(MAX_DAGS_PER_FILE, `a file may declare at most ${MAX_DAGS_PER_FILE} DAGs`) });
const ERROR = z.strictObject({
  error: z.strictObject({ message: z.string(), line: z.number().int().min(1).optional(), field: z.string().max(200).optional() }),
});

/**
 * Checks a parse child's report as untrusted input: the child ran the
 * DAG file's code, which can rewrite anything in that process. Each DAG must match the
 * stored shape and the id rules (SERIALIZED_DAG), its edges must agree and form no cycle, and
 * its schedule must be one the scheduler can tick; `fileloc` is the file that was parsed,
 * whatever the report says, and `version` is computed here from the content.
 */
export function readParseResult(payload: string, file: string): { dags: SerializedDag[] } | { error: ReportedError } {
  let raw: unknown;
  try {
    raw = JSON.parse(payload);
  } catch {
    return invalid('', 'is not JSON');
  }
  const report = (typeof raw === 'object' && raw !== null && 'error' in raw ? ERROR : DAGS).safeParse(raw);
  if (!report.success) return invalid(pathOf(report.error.issues[0]?.path ?? []), report.error.issues[0]?.message ?? 'has an unknown shape');
  if ('error' in report.data) {
    const { message, line, field } = report.data.error;
    return { error: { message: message.slice(0, MAX_MESSAGE), line, field } };
  }
  const dags: SerializedDag[] = [];
  for (const [i, item] of report.data.dags.entries()) {
    const parsed = SERIALIZED_DAG.safeParse(item, { reportInput: true });
    const line = lineOf(item);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const unknown = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
      const path = pathOf(unknown === undefined ? issue.path : [...issue.path, unknown]);
      const got = unknown === undefined && 'input' in issue && issue.input !== undefined ? ` (got ${JSON.stringify(issue.input)?.slice(0, 200)})` : '';
      return invalid(
        `dags[${i}]${path.startsWith('[') ? '' : '.'}${path}`,
        unknown === undefined ? `${issue.message}${got}` : 'is not a field Aloft knows',
        path,
        line,
      );
    }
    const dag = parsed.data;
    const problem = graphProblem(dag);
    if (problem) return invalid(`dags[${i}].${problem.field}`, problem.message, problem.field, line);
    if (dags.some((d) => d.id === dag.id)) return invalid(`dags[${i}].id`, `repeats DAG id "${dag.id}"`, 'id', line);
    dags.push({ ...dag, fileloc: file, version: versionOf(item as Record<string, unknown>, file) });
  }
  return { dags };
}

function invalid(where: string, message: string, field?: string, line?: number): { error: ReportedError } {
  return { error: { message: `the parse result is not valid: ${where ? `${where} ` : ''}${message}`.slice(0, MAX_MESSAGE), field: field || undefined, line } };
}

/** `['tasks', 3, 'upstream']` → `tasks[3].upstream`. */
function pathOf(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

function lineOf(item: unknown): number | undefined {
  const line = (item as { line?: unknown } | null)?.line;
  return typeof line === 'number' && Number.isInteger(line) && line > 0 ? line : undefined;
}

/** What the store and the Lua scripts rely on beyond the shape: edges both ways, no cycle, a schedule that ticks. */
function graphProblem(dag: SerializedDag): { field: string; message: string } | undefined {
  const byId = new Map(dag.tasks.map((t) => [t.id, t]));
  for (const [i, t] of dag.tasks.entries()) {
    for (const [j, u] of t.upstream.entries()) {
      if (!byId.get(u)?.downstream.includes(t.id))
        return { field: `tasks[${i}].upstream[${j}]`, message: `names "${u}", which does not list "${t.id}" downstream` };
    }
    for (const [j, d] of t.downstream.entries()) {
      if (!byId.get(d)?.upstream.includes(t.id))
        return { field: `tasks[${i}].downstream[${j}]`, message: `names "${d}", which does not list "${t.id}" upstream` };
    }
  }
  if (topologicalOrder(dag).length !== dag.tasks.length) return { field: 'tasks', message: 'form a cycle' };
  if (dag.schedule?.kind === 'cron') {
    const s = parseSchedule(dag.schedule.expression, dag.timezone);
    if (typeof s === 'string') return { field: 'schedule.expression', message: s };
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: dag.timezone });
  } catch {
    return { field: 'timezone', message: `"${dag.timezone}" is not an IANA time zone` };
  }
  return undefined;
}

/** The DAG API's content hash (dag.ts), over the DAG as reported but with the real fileloc. */
function versionOf(item: Record<string, unknown>, file: string): string {
  const { version: _claimed, ...body } = item;
  body['fileloc'] = file;
  return createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16);
}
