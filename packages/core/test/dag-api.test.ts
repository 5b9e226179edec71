import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dag, importDagFile, type SerializedDag } from '../src/index.js';

/** DAG files written to a folder inside the repo, so `@aloft/core` resolves as for users. */
const DIR = join(new URL('../../..', import.meta.url).pathname, '.test-results', `unit-dags-${process.pid}`);
mkdirSync(DIR, { recursive: true });
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

let n = 0;
async function load(source: string): Promise<{ file: string; dags: SerializedDag[] }> {
  const file = join(DIR, `dag${++n}.ts`);
  writeFileSync(file, `import { dag, chain } from '@aloft/core';\n${source}\n`);
  const dags = await importDagFile(file);
  return { file, dags: dags.map((d) => d.serialize()) };
}

describe('DAG API', () => {
  it('serializes DAG options, default args and per-task overrides', async () => {
    const { dags } = await load(`
const d = dag({
  id: 'etl', description: 'd', schedule: '@daily', startDate: '2026-01-01', endDate: '2026-12-31', timezone: 'Europe/Berlin',
  catchup: true, maxActiveRuns: 2, maxActiveTasks: 4, tags: ['a', 'b'], params: { limit: 10, name: { type: 'string', default: 'x' } },
  defaultArgs: { owner: 'ops', retries: 3, retryDelay: '30s', retryExponentialBackoff: true, maxRetryDelay: '10m', executionTimeout: '1h', queue: 'q1', priority: 5, dependsOnPast: true },
});
d.empty({ id: 'start' });
d.command({ id: 'override', command: 'true', retries: 0, queue: 'fast', executionTimeout: null });
`);
    const d = dags[0]!;
    expect(d).toMatchObject({ id: 'etl', timezone: 'Europe/Berlin', catchup: true, maxActiveRuns: 2, maxActiveTasks: 4, tags: ['a', 'b'] });
    expect(d.schedule).toEqual({ kind: 'cron', expression: '0 0 * * *' });
    expect(d.params['limit']?.default).toBe(10);
    expect(d.params['name']).toMatchObject({ type: 'string', default: 'x' });
    const [start, override] = d.tasks;
    expect(start).toMatchObject({
      owner: 'ops',
      retries: 3,
      retryDelayMs: 30_000,
      retryExponentialBackoff: true,
      maxRetryDelayMs: 600_000,
      executionTimeoutMs: 3_600_000,
      queue: 'q1',
      priority: 5,
      dependsOnPast: true,
    });
    expect(override).toMatchObject({ retries: 0, queue: 'fast', executionTimeoutMs: null, owner: 'ops' });
    expect(d.version).toMatch(/^[0-9a-f]{16}$/);
  });

  it('links tasks with then(), fan-out and fan-in lists and chain(), with trigger rules', async () => {
    const { dags } = await load(`
const d = dag({ id: 'shape' });
const a = d.empty({ id: 'a' });
const [b, c] = [d.command({ id: 'b', command: ['echo', 'hi'] }), d.fn({ id: 'c', run: () => 1 })];
const j = d.empty({ id: 'j', triggerRule: 'one_failed' });
a.then([b, c]).then(j);
const x = d.empty({ id: 'x' }), y = d.empty({ id: 'y' }), z = d.empty({ id: 'z', triggerRule: 'none_skipped' });
chain(j, [x, y], z);
`);
    const t = Object.fromEntries(dags[0]!.tasks.map((x) => [x.id, x]));
    expect(t['a']?.downstream.sort()).toEqual(['b', 'c']);
    expect(t['j']?.upstream.sort()).toEqual(['b', 'c']);
    expect(t['j']?.triggerRule).toBe('one_failed');
    expect(t['z']?.upstream.sort()).toEqual(['x', 'y']);
    expect(t['b']?.triggerRule).toBe('all_success');
    expect(t['b']?.command).toMatchObject({ command: ['echo', 'hi'], skipExitCode: 99 });
    expect(t['c']?.hasFunction).toBe(true);
  });

  it('task groups: prefixed ids, the group as a dependency (roots in, leaves out), nesting, group defaults', async () => {
    const { dags } = await load(`
const d = dag({ id: 'grouped', defaultArgs: { retries: 1, queue: 'q' } });
const start = d.empty({ id: 'start' });
const extract = d.group({ id: 'extract', tooltip: 'pull the sources', defaultArgs: { retries: 3 } }, (g) => {
  const a = g.command({ id: 'orders', command: 'true' });
  const b = g.command({ id: 'users', command: 'true', retries: 0 });
  const both = g.empty({ id: 'both' });
  [a, b].forEach((t) => t.then(both));
  g.group({ id: 'more', defaultArgs: { queue: 'slow' } }, (inner) => {
    inner.fn({ id: 'rates', run: () => 1 });
  });
});
const load = d.group({ id: 'load' }, (g) => {
  chain(g.empty({ id: 'stage' }), g.empty({ id: 'swap' }));
});
const end = d.empty({ id: 'end', upstream: [load] });
start.then(extract).then(load);
chain(start, [extract], end);
`);
    const d = dags[0]!;
    const t = Object.fromEntries(d.tasks.map((x) => [x.id, x]));
    expect(Object.keys(t).sort()).toEqual(['end', 'extract.both', 'extract.more.rates', 'extract.orders', 'extract.users', 'load.stage', 'load.swap', 'start']);
    // Into a group: its roots; out of a group: its leaves.
    expect(t['start']!.downstream).toEqual(['extract.more.rates', 'extract.orders', 'extract.users']);
    expect(t['load.stage']!.upstream).toEqual(['extract.both', 'extract.more.rates']);
    expect(t['end']!.upstream).toEqual(['extract.both', 'extract.more.rates', 'load.swap']);
    expect(t['extract.orders']).toMatchObject({ group: 'extract', retries: 3, queue: 'q' });
    expect(t['extract.users']).toMatchObject({ retries: 0 });
    expect(t['extract.more.rates']).toMatchObject({ group: 'extract.more', retries: 3, queue: 'slow' });
    expect(t['start']!.group).toBeUndefined();
    expect(d.groups).toEqual([
      { id: 'extract', parent: null, tooltip: 'pull the sources', line: undefined },
      { id: 'extract.more', parent: 'extract', line: undefined },
      { id: 'load', parent: null, line: undefined },
    ]);
  });

  // Lines are checked where the scheduler imports files (apps/scheduler/test/parse-child.test.ts).
  it('reports bad and duplicate group ids together', async () => {
    await expect(
      load(`
const d = dag({ id: 'badgroups' });
d.group({ id: 'a.b' }, (g) => { g.empty({ id: 'x' }); });
d.group({ id: 'ok' }, (g) => { g.empty({ id: 'x' }); });
d.group({ id: 'ok' }, (g) => { g.empty({ id: 'y' }); });
`),
    ).rejects.toThrow(/dag "badgroups": group id must be letters, digits, "_" or "-" \(got "a.b"\); also: dag "badgroups": group "ok" is declared twice/);
  });

  it('keeps a kubernetesPod task as validated parameters, secrets by reference only', async () => {
    const { dags } = await load(`
const d = dag({ id: 'pods' });
d.kubernetesPod({ id: 'p', image: 'busybox:1.36', cmds: ['sh', '-c', 'echo {{ ds }}'], resources: { limits: { memory: '1Gi' } },
  secrets: [{ type: 'env', secret: 'db', key: 'password', envName: 'DB_PASSWORD' }], startupTimeout: '2m', oomRetry: { factor: 1.5, max: '4Gi' } });
`);
    const pod = dags[0]!.tasks[0]!.pod!;
    expect(pod).toMatchObject({ image: 'busybox:1.36', startupTimeoutMs: 120_000, onFinish: 'delete', getLogs: true });
    // No namespace named: the worker's ALOFT_TASK_POD_NAMESPACE applies when it runs.
    expect(pod['namespace']).toBeUndefined();
    expect(pod['secrets']).toEqual([{ type: 'env', secret: 'db', key: 'password', envName: 'DB_PASSWORD' }]);
  });

  it('mapped tasks: expand over literals and upstream outputs (which become upstreams), fixed args, the cap', async () => {
    const { dags } = await load(`
const d = dag({ id: 'mapped' });
const files = d.fn({ id: 'files', run: () => ['a', 'b'] });
d.fn({ id: 'each', expand: { file: files, mode: ['fast', 'slow'] }, args: { bucket: 'b1' }, maxMapLength: 10, run: () => 1 });
d.command({ id: 'echo', expand: { n: [1, 2, 3] }, command: 'echo {{ args.n }}' });
`);
    const t = Object.fromEntries(dags[0]!.tasks.map((x) => [x.id, x]));
    expect(t['each']).toMatchObject({
      upstream: ['files'],
      args: { bucket: 'b1' },
      map: {
        over: [
          { arg: 'file', upstream: 'files' },
          { arg: 'mode', values: ['fast', 'slow'] },
        ],
        maxLength: 10,
      },
    });
    expect(t['files']!.downstream).toEqual(['each']);
    expect(t['echo']!.map).toEqual({ over: [{ arg: 'n', values: [1, 2, 3] }], maxLength: 1024 });
    expect(t['files']!.map).toBeUndefined();
  });

  it('mapped tasks without maxMapLength take the default of the process that validates them', () => {
    const d = dag({ id: 'capped' });
    d.command({ id: 'own', expand: { n: [1] }, maxMapLength: 5, command: 'true' });
    d.command({ id: 'default', expand: { n: [1] }, command: 'true' });
    const caps = (s: SerializedDag) => Object.fromEntries(s.tasks.map((t) => [t.id, t.map?.maxLength]));
    expect(caps(d.serialize())).toEqual({ own: 5, default: 1024 });
    expect(caps(d.serialize({ maxMapLength: 64 }))).toEqual({ own: 5, default: 64 });
    expect(() => d.serialize({ maxMapLength: 0 })).toThrow('task "default": ALOFT_MAX_MAP_LENGTH must be a whole number ≥ 1 (got 0)');
  });

  it('reports bad mapping options with their field', async () => {
    await expect(
      load(`
const d = dag({ id: 'badmap' });
const up = d.fn({ id: 'up', run: () => [1] });
d.fn({ id: 'a', expand: { x: 'not a list' }, run: () => 1 });
d.fn({ id: 'b', expand: { x: [1] }, args: { x: 2 }, run: () => 1 });
d.fn({ id: 'c', expand: { 'bad-name': [1] }, maxMapLength: 0, run: () => 1 });
d.branch({ id: 'd', expand: { x: up }, run: () => [] });
d.fn({ id: 'e', expand: {}, run: () => 1 });
`),
    ).rejects.toThrow(
      new RegExp(
        [
          'task "a": expand.x must be a list or an upstream task whose output is a list \\(got string\\)',
          'task "b": "x" is both a fixed and a mapped argument',
          'task "c": argument name "bad-name" must be letters',
          'task "c": maxMapLength must be a whole number ≥ 1 \\(got 0\\)',
          'task "d": expand is for command, fn, kubernetesPod and sensor tasks, not branch',
          'task "e": expand needs at least one argument',
        ].join('.*'),
      ),
    );
  });

  it('pools: a task or defaultArgs names one and its slots; bad values name the field', async () => {
    const { dags } = await load(`
const d = dag({ id: 'pooled', defaultArgs: { pool: 'warehouse' } });
d.command({ id: 'a', command: 'true' });
d.command({ id: 'b', command: 'true', pool: 'default_pool', poolSlots: 3 });
`);
    const [a, b] = dags[0]!.tasks;
    expect(a).toMatchObject({ pool: 'warehouse', poolSlots: 1 });
    expect(b).toMatchObject({ pool: null, poolSlots: 3 });
    await expect(load(`dag({ id: 'badpool' }).command({ id: 'x', command: 'true', pool: 'no spaces', poolSlots: 0 });`)).rejects.toThrow(
      /pool must be letters, digits, "_", "-" or "." \(got "no spaces"\).*poolSlots must be a whole number ≥ 1 \(got 0\)/,
    );
  });

  it('mapped task groups: members take the group mapping and args; bad members and nesting are reported', async () => {
    const { dags } = await load(`
const d = dag({ id: 'mg' });
const files = d.fn({ id: 'files', run: () => ['a'] });
d.group({ id: 'per', expand: { file: files }, args: { bucket: 'b' } }, (g) => {
  const a = g.fn({ id: 'a', run: () => 1, args: { own: 1 } });
  g.command({ id: 'b', upstream: [a], command: 'echo {{ args.file }}' });
});
`);
    const t = Object.fromEntries(dags[0]!.tasks.map((x) => [x.id, x]));
    expect(t['per.a']).toMatchObject({ upstream: ['files'], args: { bucket: 'b', own: 1 }, map: { over: [{ arg: 'file', upstream: 'files' }], group: 'per' } });
    expect(t['per.b']).toMatchObject({ upstream: ['files', 'per.a'], map: { group: 'per' } });
    expect(dags[0]!.groups).toEqual([{ id: 'per', parent: null, mapped: true, line: undefined }]);
    await expect(
      load(`
const d = dag({ id: 'badmg' });
d.group({ id: 'outer', expand: { x: [1, 2] } }, (g) => {
  g.empty({ id: 'nothing' });
  g.fn({ id: 'self', expand: { y: [1] }, run: () => 1 });
  g.group({ id: 'inner', expand: { z: [1] } }, (h) => { h.fn({ id: 'f', run: () => 1 }); });
});
`),
    ).rejects.toThrow(
      /task "outer.nothing" \(empty\): the tasks of mapped group "outer" must be command, fn or kubernetesPod tasks.*task "outer.self" is in mapped group "outer" and cannot be mapped itself.*group "outer.inner" is mapped inside mapped group "outer"; mapped groups do not nest/s,
    );
  });
});
