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
