import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeSchedule, importDagFile, nextRunAt, parseSchedule, type DagImportError, type SerializedDag } from '../src/index.js';

const DIR = join(new URL('../../..', import.meta.url).pathname, '.test-results', `unit-datasets-${process.pid}`);
mkdirSync(DIR, { recursive: true });
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

let n = 0;
async function load(source: string): Promise<SerializedDag[]> {
  const file = join(DIR, `dag${++n}.ts`);
  writeFileSync(file, `import { dag } from '@aloft/core';\n${source}\n`);
  return (await importDagFile(file)).map((d) => d.serialize());
}

async function importError(source: string): Promise<DagImportError> {
  try {
    await load(source);
  } catch (err) {
    return err as DagImportError;
  }
  throw new Error('expected an import error');
}

describe('dataset schedules and outlets', () => {
  it('serializes a dataset schedule (no startDate needed) and task outlets', async () => {
    const [d] = await load(`
const d = dag({ id: 'consumer', schedule: { datasets: ['s3://bucket/a.csv', 'warehouse.orders'] } });
d.command({ id: 'load', command: 'true', outlets: ['warehouse.daily'] });
d.empty({ id: 'done' });
`);
    expect(d!.schedule).toEqual({ kind: 'datasets', uris: ['s3://bucket/a.csv', 'warehouse.orders'] });
    expect(d!.tasks[0]!.outlets).toEqual(['warehouse.daily']);
    expect(d!.tasks[1]!.outlets).toBeUndefined();
    expect(describeSchedule(d!.schedule)).toBe('on datasets s3://bucket/a.csv, warehouse.orders');
    expect(
      nextRunAt({ schedule: d!.schedule, timezone: 'UTC', startDate: new Date(0), endDate: null, catchup: false, lastIntervalEnd: null, now: new Date() }),
    ).toBeNull();
  });

  it.each([
    ['an empty list', `{ datasets: [] }`, 'schedule.datasets', /schedule\.datasets must be a non-empty list/],
    ['an empty name', `{ datasets: ['a', ''] }`, 'schedule.datasets', /schedule\.datasets must hold non-empty strings .*got ""/],
    ['a non-string', `{ datasets: [42] }`, 'schedule.datasets', /schedule\.datasets must hold non-empty strings .*got 42/],
    ['a duplicate', `{ datasets: ['a', 'a'] }`, 'schedule.datasets', /schedule\.datasets names "a" twice/],
    ['an unknown shape', `{ dataset: ['a'] }`, 'schedule', /schedule must be a cron expression, a preset, .*datasets/],
  ])('rejects a dataset schedule with %s, naming the field', async (_what, schedule, field, message) => {
    const err = await importError(`const d = dag({ id: 'bad', schedule: ${schedule} });\nd.empty({ id: 't' });`);
    expect(err.field).toBe(field);
    expect(err.message).toMatch(message);
  });

  it.each([
    ['not a list', `'a'`, /outlets must be a non-empty list/],
    ['empty', `[]`, /outlets must be a non-empty list/],
    ['a blank name', `['  ']`, /outlets must hold non-empty strings/],
  ])('rejects outlets that are %s, naming task and field', async (_what, outlets, message) => {
    const err = await importError(`const d = dag({ id: 'bad' });\nd.empty({ id: 'ok' });\nd.command({ id: 'p', command: 'true', outlets: ${outlets} });`);
    expect(err.field).toBe('outlets');
    expect(err.message).toMatch(/dag "bad", task "p": /);
    expect(err.message).toMatch(message);
  });

  it('parseSchedule returns a message for bad datasets instead of throwing', () => {
    expect(parseSchedule({ datasets: ['x'] }, 'UTC')).toEqual({ kind: 'datasets', uris: ['x'] });
    expect(parseSchedule({ datasets: 'x' as unknown as string[] }, 'UTC')).toMatch(/^\.datasets must be a non-empty list/);
  });
});

describe('triggerDagRun', () => {
  it('serializes the target, conf, wait options and defaults', async () => {
    const [d] = await load(`
const d = dag({ id: 'parent' });
d.triggerDagRun({ id: 'kick', dagId: 'child', conf: { day: '{{ ds }}', n: 1 } });
d.triggerDagRun({ id: 'wait', dagId: 'child', runId: 'from_{{ run_id }}', waitForCompletion: true, pokeInterval: '250ms', allowedStates: ['success', 'failed'], failedStates: [] });
`);
    const [kick, wait] = d!.tasks;
    expect(kick!.kind).toBe('triggerDagRun');
    expect(kick!.trigger).toEqual({
      dagId: 'child',
      conf: { day: '{{ ds }}', n: 1 },
      waitForCompletion: false,
      pokeIntervalMs: 5000,
      allowedStates: ['success'],
      failedStates: ['failed'],
    });
    expect(wait!.trigger).toEqual({
      dagId: 'child',
      conf: {},
      runId: 'from_{{ run_id }}',
      waitForCompletion: true,
      pokeIntervalMs: 250,
      allowedStates: ['success', 'failed'],
      failedStates: [],
    });
  });

  it.each([
    ['a missing dagId', `{ id: 't' }`, 'dagId', /dagId must be the id of the DAG to trigger .*got undefined/],
    ['a bad dagId', `{ id: 't', dagId: 'a b' }`, 'dagId', /dagId must be the id .*got "a b"/],
    ['a conf that is not an object', `{ id: 't', dagId: 'c', conf: [1] }`, 'conf', /conf must be an object/],
    ['an empty runId', `{ id: 't', dagId: 'c', runId: '' }`, 'runId', /runId must be a non-empty string/],
    ['a bad pokeInterval', `{ id: 't', dagId: 'c', pokeInterval: 'soon' }`, 'pokeInterval', /pokeInterval must be a duration/],
    ['a too short pokeInterval', `{ id: 't', dagId: 'c', pokeInterval: 5 }`, 'pokeInterval', /at least 100 ms \(got 5 ms\)/],
    [
      'an unknown state',
      `{ id: 't', dagId: 'c', allowedStates: ['running'] }`,
      'allowedStates',
      /allowedStates must be a list of run end states \(success, failed\)/,
    ],
    ['overlapping states', `{ id: 't', dagId: 'c', allowedStates: ['failed'], failedStates: ['failed'] }`, 'failedStates', /failed cannot be in both/],
    ['a non-boolean wait', `{ id: 't', dagId: 'c', waitForCompletion: 'yes' }`, 'waitForCompletion', /waitForCompletion must be true or false/],
  ])('rejects %s, naming task and field', async (_what, options, field, message) => {
    const err = await importError(`const d = dag({ id: 'bad' });\n// @ts-expect-error invalid on purpose\nd.triggerDagRun(${options});`);
    expect(err.field).toBe(field);
    expect(err.message).toMatch(/dag "bad", task "t": /);
    expect(err.message).toMatch(message);
  });
});
