import nunjucks from 'nunjucks';
import type { Connection } from '../secrets/connection.js';
import { ds as dsOf } from './schedule.js';
import { sandboxEnvironment } from './template-sandbox.js';

const env = sandboxEnvironment();

/**
 * Compiled templates by source, the most recent 500: the same command or env value renders
 * for every run of its task, and compiling costs most of a render (about 20 µs of 25).
 */
const compiled = new Map<string, nunjucks.Template>();

function compile(source: string): nunjucks.Template {
  let t = compiled.get(source);
  if (!t) {
    t = new nunjucks.Template(source, env);
    if (compiled.size >= 500) compiled.delete(compiled.keys().next().value!);
    compiled.set(source, t);
  }
  return t;
}

/** Whether `value` has anything to render: text without `{{` or `{%` is used as it is. */
export function isTemplate(value: string): boolean {
  return value.includes('{{') || value.includes('{%');
}

const LOOKUP = String.raw`\{\{ *[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])* *\}\}`;
const PLAIN_LOOKUPS = new RegExp(String.raw`^(?:[^{]|\{(?![{%#])|${LOOKUP})*$`);

/**
 * Whether every template part of `value` is a name or a path in the data (`{{ ds }}`,
 * `{{ params.day }}`, `{{ outputs.extract.files[0] }}`): no call, filter, operator, loop or
 * tag, so rendering it costs about what printing that data costs, and it can be rendered
 * where it is needed without a time limit.
 */
export function isPlainLookup(value: string): boolean {
  return PLAIN_LOOKUPS.test(value);
}

export interface RenderLimits {
  /** The most UTF-8 bytes a rendered value may have (ALOFT_TEMPLATE_MAX_BYTES). */
  maxBytes?: number | undefined;
}

/**
 * Renders a Jinja-style template (`{{ ds }}`) in the sandbox of template-sandbox.ts; a
 * missing variable, a refused name or a value past `maxBytes` is an error naming `where`.
 * Synchronous and unbounded in time: the worker runs it in its template process
 * (apps/worker/src/template-renderer.ts), which bounds time and memory.
 */
export function renderTemplate(template: string, ctx: Record<string, unknown>, where: string, limits: RenderLimits = {}): string {
  if (!isTemplate(template)) return template;
  let out: string;
  try {
    out = compile(template).render(ctx);
  } catch (err) {
    // nunjucks prefixes what it wraps ("Template render error: (unknown path) Error: …").
    const msg = (err as Error).message
      .replace(/\s+/g, ' ')
      .trim()
      .replace(/(Template render error: |\(unknown path\) ?)/g, '')
      .replace(/^((\[Line \d+, Column \d+\] )?)Error: /, '$1');
    const at = /^\[Line (\d+), Column (\d+)\]\s*(.*)$/.exec(msg);
    if (at && /null or undefined/.test(at[3] ?? '')) {
      // Name the expression that came out undefined, and what a template can use.
      const line = template.split('\n')[Number(at[1]) - 1] ?? '';
      const col = Number(at[2]);
      const expr = [...line.matchAll(/\{\{.*?\}\}/g)].find((m) => m.index <= col + 2 && m.index + m[0].length >= col)?.[0];
      const names = Object.keys(ctx).join(', ');
      throw new Error(`template in ${where}: ${expr ?? 'an expression'} is undefined (line ${at[1]}, column ${col}); a template can use ${names}`);
    }
    throw new Error(`template in ${where}: ${msg}`);
  }
  if (limits.maxBytes !== undefined && out.length > limits.maxBytes / 3) {
    const bytes = Buffer.byteLength(out);
    if (bytes > limits.maxBytes)
      throw new Error(`template in ${where}: rendered to ${bytes} bytes, over the limit of ${limits.maxBytes} bytes (ALOFT_TEMPLATE_MAX_BYTES)`);
  }
  return out;
}

/** Renders a command string or each element of an argv list. */
export function renderArgs<T extends string | string[]>(value: T, ctx: Record<string, unknown>, where: string, limits: RenderLimits = {}): T {
  if (typeof value === 'string') return renderTemplate(value, ctx, where, limits) as T;
  return value.map((v, i) => renderTemplate(v, ctx, `${where}[${i}]`, limits)) as T;
}

export interface TemplateInfo {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
  args: Record<string, unknown>;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  timezone: string;
  params: Record<string, unknown>;
  conf: Record<string, unknown>;
  outputs: Record<string, unknown>;
  /** The connections and variables the task's templates name (secretRefs), read by the worker before rendering. */
  secrets?: TemplateSecrets | undefined;
}

export interface TemplateSecrets {
  conn: Record<string, Connection>;
  var: Record<string, string>;
  /** Variables named as `var.json.<key>`, parsed. */
  json: Record<string, unknown>;
}

/** The names a template sees, as in Airflow: ds, ds_nodash, ts, logical_date, run_id, params, … */
export function templateContext(i: TemplateInfo): Record<string, unknown> {
  const ds = dsOf(i.logicalDate, i.timezone);
  return {
    ds,
    ds_nodash: ds.replaceAll('-', ''),
    ts: i.logicalDate.toISOString(),
    ts_nodash: i.logicalDate
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, ''),
    logical_date: i.logicalDate.toISOString(),
    data_interval_start: i.dataIntervalStart.toISOString(),
    data_interval_end: i.dataIntervalEnd.toISOString(),
    dag_id: i.dagId,
    run_id: i.runId,
    task_id: i.taskId,
    map_index: i.mapIndex,
    args: i.args,
    try_number: i.tryNumber,
    params: i.params,
    conf: i.conf,
    outputs: i.outputs,
    conn: i.secrets?.conn ?? {},
    var: { ...i.secrets?.var, json: i.secrets?.json ?? {} },
    ti_output: (taskId: unknown) => {
      if (typeof taskId !== 'string' || !Object.hasOwn(i.outputs, taskId))
        throw new Error(`no output from upstream task ${JSON.stringify(taskId) ?? String(taskId)}`);
      return i.outputs[taskId];
    },
  };
}
