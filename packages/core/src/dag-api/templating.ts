import nunjucks from 'nunjucks';
import { ds as dsOf } from './schedule.js';

const env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: true });

/** Renders a Jinja-style template (`{{ ds }}`); a missing variable is an error naming `where`. */
export function renderTemplate(template: string, ctx: Record<string, unknown>, where: string): string {
  if (!template.includes('{{') && !template.includes('{%')) return template;
  try {
    return env.renderString(template, ctx);
  } catch (err) {
    const msg = (err as Error).message.replace(/^\(unknown path\)\s*/, '').replace(/\s+/g, ' ').trim();
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
}

/** Renders a command string or each element of an argv list. */
export function renderArgs<T extends string | string[]>(value: T, ctx: Record<string, unknown>, where: string): T {
  if (typeof value === 'string') return renderTemplate(value, ctx, where) as T;
  return value.map((v, i) => renderTemplate(v, ctx, `${where}[${i}]`)) as T;
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
}

/** The names a template sees, as in Airflow: ds, ds_nodash, ts, logical_date, run_id, params, … */
export function templateContext(i: TemplateInfo): Record<string, unknown> {
  const ds = dsOf(i.logicalDate, i.timezone);
  return {
    ds,
    ds_nodash: ds.replaceAll('-', ''),
    ts: i.logicalDate.toISOString(),
    ts_nodash: i.logicalDate.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, ''),
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
    ti_output: (taskId: string) => {
      if (!(taskId in i.outputs)) throw new Error(`no output from upstream task "${taskId}"`);
      return i.outputs[taskId];
    },
  };
}
