import { describe, expect, it } from 'vitest';
import { renderArgs, renderTemplate, templateContext } from '../src/index.js';

const ctx = templateContext({
  dagId: 'etl',
  runId: 'scheduled__2026-03-28T23:00:00.000Z',
  taskId: 'load',
  mapIndex: -1,
  args: {},
  tryNumber: 2,
  logicalDate: new Date('2026-03-28T23:00:00Z'),
  dataIntervalStart: new Date('2026-03-28T23:00:00Z'),
  dataIntervalEnd: new Date('2026-03-29T22:00:00Z'),
  timezone: 'Europe/Berlin',
  params: { limit: 10, region: 'eu' },
  conf: { region: 'eu' },
  outputs: { extract: { rows: 42, files: ['a.csv', 'b.csv'] } },
});

describe('templating', () => {
  it('offers Airflow’s names: ds in the DAG’s time zone, timestamps, ids, params, conf and outputs', () => {
    expect(renderTemplate('{{ ds }} {{ ds_nodash }}', ctx, 'cmd')).toBe('2026-03-29 20260329');
    expect(renderTemplate('{{ ts }}|{{ logical_date }}', ctx, 'cmd')).toBe('2026-03-28T23:00:00.000Z|2026-03-28T23:00:00.000Z');
    expect(renderTemplate('{{ data_interval_start }}..{{ data_interval_end }}', ctx, 'cmd')).toBe('2026-03-28T23:00:00.000Z..2026-03-29T22:00:00.000Z');
    expect(renderTemplate('{{ dag_id }}/{{ task_id }}/{{ run_id }}/{{ try_number }}/{{ map_index }}', ctx, 'cmd')).toBe(
      'etl/load/scheduled__2026-03-28T23:00:00.000Z/2/-1',
    );
    expect(renderTemplate('{{ params.limit }} {{ conf.region }}', ctx, 'cmd')).toBe('10 eu');
    expect(renderTemplate('{{ outputs.extract.rows }} {{ outputs.extract.files | join(",") }}', ctx, 'cmd')).toBe('42 a.csv,b.csv');
    expect(renderTemplate('{{ ti_output("extract").rows * 2 }}', ctx, 'cmd')).toBe('84');
  });

  it('leaves strings without template syntax alone and renders each argv element', () => {
    expect(renderTemplate('echo $HOME {not a template}', ctx, 'cmd')).toBe('echo $HOME {not a template}');
    expect(renderArgs(['--day', '{{ ds }}', '--limit={{ params.limit }}'], ctx, 'args')).toEqual(['--day', '2026-03-29', '--limit=10']);
  });

  it('names the place and the variable when a template uses something that does not exist', () => {
    expect(() => renderTemplate('echo {{ dss }}', ctx, 'etl.load command')).toThrow(
      /template in etl\.load command: {{ dss }} is undefined \(line 1, column 6\); a template can use ds, ds_nodash/,
    );
    expect(() => renderArgs(['ok', '{{ params.nope.deeper }}'], ctx, 'etl.load arguments')).toThrow(
      /etl\.load arguments\[1\]: {{ params.nope.deeper }} is undefined/,
    );
    expect(() => renderTemplate('{{ ti_output("missing") }}', ctx, 'x')).toThrow(/no output from upstream task "missing"/);
  });
});
