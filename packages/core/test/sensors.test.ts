import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DagImportError, importDagFile, nextPokeDelay, pokeVerdict, type SerializedDag } from '../src/index.js';

/** DAG files written inside the repo, so `@aloft/core` resolves as for users. */
const DIR = join(new URL('../../..', import.meta.url).pathname, '.test-results', `unit-sensors-${process.pid}`);
mkdirSync(DIR, { recursive: true });
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

let n = 0;
async function load(source: string): Promise<{ file: string; dag: SerializedDag }> {
  const file = join(DIR, `sensors${++n}.ts`);
  writeFileSync(file, `import { dag } from '@aloft/core';\n${source}\n`);
  const dags = await importDagFile(file);
  return { file, dag: dags[0]!.serialize() };
}

async function importError(source: string): Promise<DagImportError> {
  try {
    await load(source);
  } catch (err) {
    if (err instanceof DagImportError) return err;
    throw err;
  }
  throw new Error('the DAG file imported without an error');
}

describe('sensor options', () => {
  it('serializes each sensor with Airflow defaults and its own check', async () => {
    const { dag } = await load(`
const d = dag({ id: 'sensing' });
const ready = d.sensor({ id: 'ready', poke: () => false });
d.fileSensor({ id: 'file', path: '/data/{{ ds }}/_SUCCESS', mode: 'reschedule', pokeInterval: '5s', timeout: '1h', softFail: true });
d.httpSensor({ id: 'http', url: 'https://api.example.com/health', headers: { authorization: 'Bearer {{ conf.token }}' },
  exponentialBackoff: true, maxWait: '2m', responseCheck: (r) => r.body.includes('ok') });
d.externalTaskSensor({ id: 'upstream_dag', externalDagId: 'etl', externalTaskId: 'load', executionDelta: '1h', upstream: [ready] });
d.externalTaskSensor({ id: 'upstream_run', externalDagId: 'etl', allowedStates: ['success', 'failed'] });
`);
    const t = Object.fromEntries(dag.tasks.map((x) => [x.id, x]));
    expect(t['ready']).toMatchObject({
      kind: 'sensor',
      hasFunction: true,
      sensor: {
        check: { type: 'fn' },
        pokeIntervalMs: 60_000,
        timeoutMs: 7 * 24 * 3_600_000,
        mode: 'poke',
        exponentialBackoff: false,
        maxWaitMs: null,
        softFail: false,
      },
    });
    expect(t['file']).toMatchObject({
      hasFunction: false,
      sensor: { check: { type: 'file', path: '/data/{{ ds }}/_SUCCESS' }, pokeIntervalMs: 5000, timeoutMs: 3_600_000, mode: 'reschedule', softFail: true },
    });
    expect(t['http']).toMatchObject({
      hasFunction: true,
      sensor: {
        check: {
          type: 'http',
          url: 'https://api.example.com/health',
          method: 'GET',
          headers: { authorization: 'Bearer {{ conf.token }}' },
          requestTimeoutMs: 30_000,
          hasResponseCheck: true,
        },
        exponentialBackoff: true,
        maxWaitMs: 120_000,
      },
    });
    expect(t['upstream_dag']!.sensor!.check).toEqual({
      type: 'externalTask',
      externalDagId: 'etl',
      externalTaskId: 'load',
      allowedStates: ['success'],
      failedStates: ['failed', 'upstream_failed'],
      executionDeltaMs: 3_600_000,
    });
    expect(t['upstream_dag']!.upstream).toEqual(['ready']);
    // 'failed' is allowed here, so it is not a failed state by default.
    expect(t['upstream_run']!.sensor!.check).toMatchObject({ allowedStates: ['success', 'failed'], failedStates: [] });
  });

  it('names the file and field of bad wait options', async () => {
    const err = await importError(`
const d = dag({ id: 'bad_wait' });
d.fileSensor({ id: 'f', path: '/x', pokeInterval: 50 });
`);
    expect(err.field).toBe('pokeInterval');
    // (Lines are checked end to end, where the scheduler imports the file: tests/sensors.test.ts.)
    expect(err.file).toMatch(/sensors\d+\.ts$/);
    expect(err.message).toBe(`${err.file}: dag "bad_wait", task "f": pokeInterval must be at least 100 ms (got 50 ms)`);

    const many = await importError(`
const d = dag({ id: 'bad_many' });
d.fileSensor({ id: 'f', path: '/x', mode: 'wait', timeout: 'soon', maxWait: '1m', softFail: 'yes' });
`);
    expect(many.field).toBe('timeout');
    expect(many.message).toContain('task "f": timeout must be a duration like "30s", "5m" or a number of ms (got "soon")');
    expect(many.message).toContain('task "f": mode must be "poke" or "reschedule" (got "wait")');
    expect(many.message).toContain('task "f": maxWait caps the exponential backoff; set exponentialBackoff: true or drop maxWait');
    expect(many.message).toContain('task "f": softFail must be true or false (got "yes")');
  });

  it('names the field of a bad check', async () => {
    const cases: [string, string, string][] = [
      [`d.sensor({ id: 's', poke: 'yes' })`, 'poke', 'poke must be a function'],
      [`d.fileSensor({ id: 's', path: '' })`, 'path', 'path must be a non-empty string (got "")'],
      [`d.httpSensor({ id: 's', url: 'ftp://x' })`, 'url', 'url must be an http:// or https:// URL (got "ftp://x")'],
      [
        `d.httpSensor({ id: 's', url: 'http://x', method: 'FETCH' })`,
        'method',
        'method must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS (got "FETCH")',
      ],
      [`d.httpSensor({ id: 's', url: 'http://x', headers: { authorization: 42 } })`, 'headers.authorization', 'headers.authorization must be a string'],
      [`d.httpSensor({ id: 's', url: 'http://x', responseCheck: true })`, 'responseCheck', 'responseCheck must be a function (got boolean)'],
      [`d.externalTaskSensor({ id: 's', externalDagId: 'a b' })`, 'externalDagId', 'externalDagId must be a DAG id'],
      [
        `d.externalTaskSensor({ id: 's', externalDagId: 'etl', allowedStates: ['skipped'] })`,
        'allowedStates',
        'allowedStates must be a list of run states (queued, running, success, failed) (got ["skipped"])',
      ],
      [
        `d.externalTaskSensor({ id: 's', externalDagId: 'etl', externalTaskId: 'x', allowedStates: ['done'] })`,
        'allowedStates',
        'allowedStates must be a list of task states',
      ],
      [
        `d.externalTaskSensor({ id: 's', externalDagId: 'etl', allowedStates: ['success'], failedStates: ['success'] })`,
        'failedStates',
        'success cannot be in both allowedStates and failedStates',
      ],
      [
        `d.externalTaskSensor({ id: 's', externalDagId: 'etl', executionDelta: -5 })`,
        'executionDelta',
        'executionDelta must be a non-negative number of ms (got -5)',
      ],
      [`d.sensor({ id: 's', poke: () => true, expand: { x: 'nope' } })`, 'expand.x', 'expand.x must be a list'],
    ];
    for (const [decl, field, message] of cases) {
      const err = await importError(`const d = dag({ id: 'bad_check' });\n${decl};`);
      expect({ decl, field: err.field }).toEqual({ decl, field });
      expect(err.message).toContain(`dag "bad_check", task "s": ${message}`);
    }
  });

  it('maps a sensor over a literal list like any mappable task', async () => {
    const { dag } = await load(`dag({ id: 'mapped_sensor' }).fileSensor({ id: 'each', path: '/in/{{ args.name }}', expand: { name: ['a', 'b'] } });`);
    expect(dag.tasks[0]).toMatchObject({ kind: 'sensor', map: { over: [{ arg: 'name', values: ['a', 'b'] }] } });
  });
});

describe('poke results and waits', () => {
  it('reads a poke: falsy is not yet, true is done without output, another value is the output', () => {
    for (const v of [undefined, 'false', '0', '""', 'null']) expect(pokeVerdict(v)).toEqual({ done: false });
    expect(pokeVerdict('true')).toEqual({ done: true });
    expect(pokeVerdict('{"rows":3}')).toEqual({ done: true, outputJson: '{"rows":3}' });
    expect(pokeVerdict('"s3://b/k"')).toEqual({ done: true, outputJson: '"s3://b/k"' });
  });

  const spec = { pokeIntervalMs: 1000, timeoutMs: 3_600_000, exponentialBackoff: false, maxWaitMs: null };

  it('waits the poke interval without backoff, and never past the timeout', () => {
    expect(nextPokeDelay(spec, 1, 0)).toBe(1000);
    expect(nextPokeDelay(spec, 50, 10_000)).toBe(1000);
    expect(nextPokeDelay(spec, 3, 3_600_000 - 300)).toBe(300);
    expect(nextPokeDelay(spec, 3, 3_600_000 + 5)).toBe(0);
  });

  it('doubles the wait with backoff, jittered within [b, 2b), capped by maxWait', () => {
    const b = { ...spec, exponentialBackoff: true };
    expect([1, 2, 3, 4].map((p) => nextPokeDelay(b, p, 0, () => 0))).toEqual([1000, 2000, 4000, 8000]);
    expect([1, 2, 3, 4].map((p) => nextPokeDelay(b, p, 0, () => 0.999))).toEqual([1999, 3998, 7996, 15992]);
    // Whatever the jitter, each wait is longer than the one before.
    let last = 0;
    for (let p = 1; p <= 10; p++) {
      const d = nextPokeDelay(b, p, 0);
      expect(d).toBeGreaterThan(last);
      last = d;
    }
    expect(nextPokeDelay({ ...b, maxWaitMs: 5000 }, 4, 0, () => 0.5)).toBe(5000);
    expect(nextPokeDelay({ ...b, maxWaitMs: 5000 }, 30, 0)).toBe(5000);
    expect(nextPokeDelay({ ...b, timeoutMs: 10_000 }, 5, 9_000)).toBe(1000);
  });
});
