import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, System, type Service } from './support/system.js';

/**
 * Hostile templates against a real worker: known escapes, templates that would take the
 * worker's memory or time, and random pieces of template syntax, each as an ad-hoc job,
 * with ordinary jobs among them. Bounded: a fixed seed, a few hundred templates, limits of
 * 2 s (the default) and 64 MB, and the whole test within its timeout.
 */
const dir = join(ROOT, '.test-results', `fuzz-templates-${Math.random().toString(36).slice(2, 7)}`);
const marker = join(dir, 'pwned');
const sys = new System({ dagsFolder: dir, env: { ALOFT_TEMPLATE_TIMEOUT_MS: '2000', ALOFT_TEMPLATE_HEAP_MB: '64', ALOFT_LOG_LEVEL: 'info' } });
const workers: Service[] = [];

beforeAll(async () => {
  mkdirSync(dir, { recursive: true });
  await sys.start();
  workers.push(await sys.spawn('worker', 'worker-1', { ALOFT_WORKER_CONCURRENCY: '8' }));
  workers.push(await sys.spawn('worker', 'worker-2', { ALOFT_WORKER_CONCURRENCY: '8' }));
});
afterAll(async () => {
  await sys.stop();
  rmSync(dir, { recursive: true, force: true });
});

// JavaScript each escape would run: it leaves a file behind and returns the process id.
const JS = JSON.stringify(`globalThis.process.mainModule?.require?.('fs').writeFileSync(${JSON.stringify(marker)}, 'x'); return process.pid`);

const ESCAPES = [
  `{{ range.constructor(${JS})() }}`,
  `{{ cycler.constructor(${JS})() }}`,
  `{{ joiner.constructor(${JS})() }}`,
  `{{ ti_output.constructor(${JS})() }}`,
  `{{ params.constructor.__proto__.constructor(${JS})() }}`,
  `{{ "".constructor.constructor(${JS})() }}`,
  `{{ ds.toString.constructor(${JS})() }}`,
  `{{ [].constructor.constructor(${JS})() }}`,
  `{{ r/x/.constructor.constructor(${JS})() }}`,
  `{% macro m() %}{% endmacro %}{{ m.constructor(${JS})() }}`,
  `{{ constructor.constructor(${JS})() }}`,
  `{{ params["con" ~ "structor"]["con" ~ "structor"](${JS})() }}`,
  `{{ "x" | __defineGetter__(range) }}`,
  `{{ ["x"] | select("__defineGetter__", range) | length }}`,
  `{% include "/etc/passwd" %}`,
  `{% import "/etc/passwd" as p %}`,
];

const HOGS = [
  // A V8 fatal error in the worker unless range() is capped.
  '{{ range(1000000000) | length }}',
  '{% for a in range(10000) %}{% for b in range(10000) %}{% for c in range(10000) %}{% endfor %}{% endfor %}{% endfor %}',
  '{% for a in range(10000) %}{% for b in range(10000) %}0123456789{% endfor %}{% endfor %}',
  '{% set s = "xxxxxxxxxx" %}{% for i in range(25) %}{% set s = s ~ s %}{% endfor %}{{ s | list | length }}',
  '{% set s = "x" %}{% for i in range(40) %}{% set s = s ~ s %}{% endfor %}{{ s | length }}',
  '{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}',
  '{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}',
  '{{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!" | replace(r/(a+)+$/, "") }}',
  '{{ [1] | batch(200000000, 0) | length }}',
  '{{ "x" | center(300000000) | length }}',
  '{{ "x" | indent(300000000) | length }}',
  '{% for i in range(10000) %}{{ range(10000) | join(",") }}{% endfor %}',
];

const PIECES = [
  '{{',
  '}}',
  '{%',
  '%}',
  '{#',
  '#}',
  '(',
  ')',
  '[',
  ']',
  ',',
  '"',
  "'",
  ' | ',
  ' ~ ',
  ' + ',
  ' * ',
  ' ** ',
  ' // ',
  ' in ',
  ' is ',
  '.',
  'range(',
  'range(1000000000)',
  'range(10000)',
  '1e308',
  '-1',
  '0',
  '99999999999',
  'constructor',
  '__proto__',
  'prototype',
  '__lookupGetter__',
  'ds',
  'params',
  'outputs',
  'conf',
  'ti_output("x")',
  'cycler(1, 2)',
  'joiner()',
  'caller',
  'loop',
  'none',
  'true',
  'length',
  'join(",")',
  'list',
  'center(1000000)',
  'batch(3)',
  'dump',
  'replace("a", "aa")',
  'upper',
  'first',
  'sort',
  'groupby("constructor")',
  'for i in range(10000)',
  'endfor',
  'if 1',
  'else',
  'endif',
  'set x = ',
  'macro m(a)',
  'endmacro',
  'm(m)',
  'raw',
  'endraw',
  'filter upper',
  'endfilter',
  'r/(a+)+$/',
  '\n',
  '\\',
  '${process.pid}',
  'process',
  'require',
  'globalThis',
  'Function',
  'this',
];

/** A fixed-seed generator (mulberry32), so a failure is reproduced by the same run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random runs of template pieces: mostly syntax a template must refuse cleanly. */
function randomPieces(rnd: () => number, n: number): string[] {
  const pick = () => PIECES[Math.floor(rnd() * PIECES.length)]!;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = 2 + Math.floor(rnd() * 12);
    let t = rnd() < 0.5 ? '{{ ' : '{% ';
    for (let k = 0; k < len; k++) t += pick() + (rnd() < 0.3 ? ' ' : '');
    out.push(t + (t.startsWith('{{') ? ' }}' : ' %}'));
  }
  return out;
}

const NAMES = [
  'ds',
  'params',
  'outputs',
  'conf',
  'args',
  'run_id',
  'range',
  'cycler',
  'joiner',
  'ti_output',
  'loop',
  'caller',
  'constructor',
  'toString',
  'valueOf',
  '__proto__',
  'x',
];
const ATTRS = [
  'constructor',
  '__proto__',
  'prototype',
  'length',
  'call',
  'apply',
  'bind',
  'next',
  'current',
  'toString',
  'valueOf',
  'limit',
  'rows',
  'replace',
  'split',
  'join',
  'mainModule',
  'require',
  'env',
  '0',
];
const LITERALS = [
  '0',
  '1',
  '-1',
  '3',
  '10000',
  '1000000000',
  '1e308',
  '0.5',
  '"constructor"',
  '"__proto__"',
  '"a,b"',
  '"return process"',
  'none',
  'true',
  '[]',
  '{}',
  'r/a*/',
];
const FILTERS = [
  'length',
  'join(",")',
  'list',
  'first',
  'last',
  'sort',
  'reverse',
  'dump',
  'string',
  'upper',
  'batch(2)',
  'center(5)',
  'replace("a", "b")',
  'groupby("constructor")',
  'dictsort',
  'default(1)',
  'int',
  'float',
  'sum',
  'select("odd")',
  'select("constructor")',
  'reject("__defineGetter__")',
  'attr',
];

/**
 * Random well-formed expressions over the names, attributes and filters a template has
 * (and the JavaScript ones it must not reach), in output, loops and assignments.
 */
function randomExpressions(rnd: () => number, n: number): string[] {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const expr = (depth: number): string => {
    const r = depth <= 0 ? rnd() * 0.3 : rnd();
    if (r < 0.15) return pick(NAMES);
    if (r < 0.3) return pick(LITERALS);
    if (r < 0.45) return `${expr(depth - 1)}.${pick(ATTRS)}`;
    if (r < 0.55) return `${expr(depth - 1)}[${expr(depth - 1)}]`;
    if (r < 0.7) return `${expr(depth - 1)}(${rnd() < 0.5 ? '' : expr(depth - 1)})`;
    if (r < 0.82) return `(${expr(depth - 1)} | ${pick(FILTERS)})`;
    if (r < 0.9) return `(${expr(depth - 1)} ${pick(['+', '~', '*', 'in', '==', 'and', '//'])} ${expr(depth - 1)})`;
    if (r < 0.95) return `[${expr(depth - 1)}, ${expr(depth - 1)}]`;
    return `{"${pick(ATTRS)}": ${expr(depth - 1)}}`;
  };
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const e = expr(4);
    const form = rnd();
    if (form < 0.6) out.push(`{{ ${e} }}`);
    else if (form < 0.8) out.push(`{% for v in ${e} %}{{ v }}{% endfor %}`);
    else out.push(`{% set v = ${e} %}{{ v }}{{ v.constructor }}`);
  }
  return out;
}

describe('hostile templates', () => {
  it('never kill a worker nor reach the runtime; each fails its own task naming the task and field, and ordinary runs go on', async () => {
    const rnd = random(22);
    const hostile = [...ESCAPES, ...HOGS, ...randomPieces(rnd, 80), ...randomExpressions(rnd, 160)];
    const jobs: { kind: 'hostile' | 'ordinary'; taskId: string; field: string; template: string; runId: string }[] = [];
    let n = 0;
    for (const [i, template] of hostile.entries()) {
      const taskId = `f${i}`;
      // Half in the command, half in an env value: both fields are named in the reason.
      const inCommand = i % 2 === 0;
      const r = await sys.client.submitCommand(inCommand ? { taskId, command: template } : { taskId, command: 'true', env: { T: template } });
      jobs.push({ kind: 'hostile', taskId, field: inCommand ? 'command' : 'env.T', template, runId: r.runId });
      if (i % 4 === 0) {
        const id = `ok${n++}`;
        const o = await sys.client.submitCommand({ taskId: id, command: 'echo {{ task_id }} {{ ds }} {{ range(3) | join("") }}' });
        jobs.push({ kind: 'ordinary', taskId: id, field: 'command', template: '', runId: o.runId });
      }
    }
    const counts = { tried: hostile.length, failedWithReason: 0, renderedHarmlessly: 0, ordinary: 0, workerDeaths: 0 };
    const reasons: Record<string, number> = {};
    for (const w of workers) void w.exited.then(() => counts.workerDeaths++);
    for (const j of jobs) {
      const run = await sys.client.waitForRun('adhoc', j.runId, { timeoutMs: 240_000, pollMs: 200 });
      const ti = await sys.client.getTaskInstance('adhoc', j.runId, j.taskId);
      if (j.kind === 'ordinary') {
        expect(run.state, `ordinary job ${j.taskId}: ${ti.reason ?? ''}`).toBe('success');
        const log = await sys.client.getLog('adhoc', j.runId, j.taskId);
        expect(log.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual([
          expect.stringMatching(new RegExp(`^${j.taskId} \\d{4}-\\d\\d-\\d\\d 012$`)),
        ]);
        counts.ordinary++;
        continue;
      }
      if (run.state === 'failed' && ti.reason?.startsWith('could not run the task: template in ')) {
        expect(ti.reason, j.template).toMatch(new RegExp(`^could not run the task: template in adhoc\\.${j.taskId} ${j.field.replace('.', '\\.')}: \\S`));
        counts.failedWithReason++;
        const why = ti.reason.replace(/^could not run the task: template in \S+ \S+: /, '');
        const kind = /still rendering after/.test(why)
          ? 'time limit'
          : /more memory/.test(why)
            ? 'memory limit'
            : /over the limit/.test(why)
              ? 'size or range limit'
              : /cannot be used in a template|JavaScript method|not found:/.test(why)
                ? 'refused name'
                : /undefined|Unable to call|not a function/.test(why)
                  ? 'undefined or not callable'
                  : /^\[Line|expected|unexpected|parse/i.test(why)
                    ? 'syntax'
                    : 'other error';
        reasons[kind] = (reasons[kind] ?? 0) + 1;
      } else {
        // Rendered: the command ran with what came out, which holds nothing of the worker.
        const log = await sys.client.getLog('adhoc', j.runId, j.taskId);
        const text = log.map((l) => l.line).join('\n');
        for (const w of workers) expect(text, j.template).not.toContain(String(w.child.pid));
        counts.renderedHarmlessly++;
      }
    }
    console.log(`fuzz-templates: ${JSON.stringify(counts)} failures by kind: ${JSON.stringify(reasons)}`);
    expect(existsSync(marker)).toBe(false);
    expect(counts.workerDeaths).toBe(0);
    for (const w of workers) expect(w.child.exitCode, `${w.name} exited`).toBeNull();
    // Every escape and every hog failed with a reason.
    expect(counts.failedWithReason).toBeGreaterThanOrEqual(ESCAPES.length + HOGS.length);
  }, 300_000);
});
