import { afterEach, describe, expect, it } from 'vitest';
import { renderTemplate, templateContext } from '../src/index.js';

const ctx = templateContext({
  dagId: 'etl',
  runId: 'manual__1',
  taskId: 'load',
  mapIndex: -1,
  args: {},
  tryNumber: 1,
  logicalDate: new Date('2026-03-28T23:00:00Z'),
  dataIntervalStart: new Date('2026-03-28T23:00:00Z'),
  dataIntervalEnd: new Date('2026-03-29T23:00:00Z'),
  timezone: 'UTC',
  // As conf arrives from a trigger: JSON, here with an own "__proto__" key (mozilla/nunjucks#1331).
  params: JSON.parse('{"limit": 10, "__proto__": {"polluted": "yes"}}') as Record<string, unknown>,
  conf: {},
  outputs: { extract: { rows: 42 } },
});

const g = globalThis as { pwned?: unknown };
// Each payload's JavaScript sets globalThis.pwned and returns the process id if it ever runs.
const JS = '"globalThis.pwned = 1; return process.pid"';

/**
 * Known ways out of a nunjucks template into the JavaScript runtime, each as published or
 * as a variation on a value Aloft's templates have (globals, context functions, literals,
 * filter results, macros).
 */
const ESCAPES: Record<string, string> = {
  'range.constructor (mozilla/nunjucks#1048)': `{{ range.constructor(${JS})() }}`,
  'cycler.constructor': `{{ cycler.constructor(${JS})() }}`,
  'joiner.constructor': `{{ joiner.constructor(${JS})() }}`,
  'a context function: ti_output.constructor': `{{ ti_output.constructor(${JS})() }}`,
  'a.constructor.__proto__.constructor (mozilla/nunjucks#338)': `{{ params.constructor.__proto__.constructor(${JS})() }}`,
  'a string literal: "".constructor.constructor': `{{ "".constructor.constructor(${JS})() }}`,
  'a method of a string: ds.toString.constructor': `{{ ds.toString.constructor(${JS})() }}`,
  'a list literal: [].constructor.constructor': `{{ [].constructor.constructor(${JS})() }}`,
  'a dict literal': `{{ {"a": 1}.constructor.constructor(${JS})() }}`,
  'a regex literal': `{{ r/x/.constructor.constructor(${JS})() }}`,
  'a macro': `{% macro m() %}{% endmacro %}{{ m.constructor(${JS})() }}`,
  'a filter result': `{{ ([range] | first).constructor(${JS})() }}`,
  'a cycler object method': `{% set c = cycler(1) %}{{ c.next.constructor(${JS})() }}`,
  'a joiner result': `{% set j = joiner() %}{{ j.constructor(${JS})() }}`,
  'the context object prototype: constructor': `{{ constructor.constructor(${JS})() }}`,
  'the context object prototype: valueOf': `{{ valueOf.constructor(${JS})() }}`,
  'the context object prototype: toString': `{{ toString.constructor(${JS})() }}`,
  '__proto__ of data': `{{ params.__proto__.constructor.constructor(${JS})() }}`,
  'a computed name': `{{ params["con" ~ "structor"]["con" ~ "structor"](${JS})() }}`,
  'a variable named after the prototype': `{% set constructor = range %}{{ constructor.constructor(${JS})() }}`,
  'Function.prototype.apply': `{{ range.apply(none, [1]) }}`,
  'Function.prototype.call': `{{ range.call(none, 1) }}`,
  'Function.prototype.bind': `{{ range.bind(none)(1) }}`,
  'a filter looked up on the prototype: __defineGetter__': `{{ "x" | __defineGetter__(range) }}`,
  'a test looked up on the prototype (select)': `{{ ["x"] | select("__defineGetter__", range) | length }}`,
  'a test looked up on the prototype (is)': `{{ 1 is __lookupGetter__ }}`,
  'a filter named constructor': `{{ ${JS} | constructor }}`,
  'include of a file': `{% include "/etc/passwd" %}`,
  'import of a file': `{% import "/etc/passwd" as p %}{{ p }}`,
  'extends a file': `{% extends "/etc/passwd" %}`,
};

afterEach(() => {
  delete g.pwned;
});

describe('the template sandbox', () => {
  for (const [name, template] of Object.entries(ESCAPES)) {
    it(`has no way to the JavaScript runtime: ${name}`, () => {
      let out: string | undefined;
      let error: Error | undefined;
      try {
        out = renderTemplate(template, ctx, 'etl.load command');
      } catch (err) {
        error = err as Error;
      }
      expect(g.pwned).toBeUndefined();
      expect(out ?? '').not.toContain(String(process.pid));
      expect(out ?? '').not.toMatch(/root:/);
      // Refused with a message that names the field, not rendered into something.
      expect(error?.message).toMatch(/^template in etl\.load command: /);
    });
  }

  it('names what it refuses and why', () => {
    expect(() => renderTemplate('{{ range.constructor("x") }}', ctx, 'etl.load command')).toThrow(
      'template in etl.load command: "constructor" cannot be used in a template: a template sees data (strings, numbers, lists, objects) and the functions Aloft gives it, nothing of JavaScript',
    );
    expect(() => renderTemplate('{{ ds.replace("-", "") }}', ctx, 'etl.load command')).toThrow(
      /"replace" is a JavaScript method of a string, which a template cannot call; use a filter instead \(\| replace/,
    );
    expect(() => renderTemplate('{{ "x" | constructor }}', ctx, 'etl.load command')).toThrow('template in etl.load command: filter not found: constructor');
  });

  it('reads no inherited property, also when someone else polluted Object.prototype', () => {
    const proto = Object.prototype as { pollutedByTest?: string };
    proto.pollutedByTest = 'leaked';
    try {
      expect(() => renderTemplate('{{ pollutedByTest }}', ctx, 'x')).toThrow(/{{ pollutedByTest }} is undefined/);
      expect(() => renderTemplate('{{ params.pollutedByTest }}', ctx, 'x')).toThrow(/is undefined/);
      expect(() => renderTemplate('{{ params.polluted }}', ctx, 'x')).toThrow(/is undefined/);
      expect(renderTemplate('{{ "pollutedByTest" in params }}', ctx, 'x')).toBe('false');
    } finally {
      delete proto.pollutedByTest;
    }
  });

  it('caps range() and says so', () => {
    expect(renderTemplate('{{ range(3) | join(",") }} {{ range(10, 0, -5) | join(",") }} {{ range(10000) | length }}', ctx, 'x')).toBe('0,1,2 10,5 10000');
    expect(() => renderTemplate('echo {{ range(1000000000) | length }}', ctx, 'adhoc.huge command')).toThrow(
      'template in adhoc.huge command: range() of 1000000000 numbers is over the limit of 10000',
    );
    expect(() => renderTemplate('{{ range(0, 10, 0) }}', ctx, 'x')).toThrow(/step must not be zero/);
    expect(() => renderTemplate('{{ range("a") }}', ctx, 'x')).toThrow(/range\(\) takes numbers \(got "a"\)/);
  });

  it('refuses a rendered value past maxBytes, naming the field, the size and the setting', () => {
    const big = '{% for i in range(1000) %}0123456789{% endfor %}';
    expect(renderTemplate(big, ctx, 'x', { maxBytes: 10_000 })).toHaveLength(10_000);
    expect(() => renderTemplate(big, ctx, 'etl.load env.BIG', { maxBytes: 9_999 })).toThrow(
      'template in etl.load env.BIG: rendered to 10000 bytes, over the limit of 9999 bytes (ALOFT_TEMPLATE_MAX_BYTES)',
    );
  });

  it('keeps what templates use: names, data, filters, loops, cycler, joiner, macros', () => {
    expect(renderTemplate('{{ params.limit * 2 }} {{ outputs.extract.rows }} {{ ti_output("extract").rows }} {{ ds | replace("-", "") }}', ctx, 'x')).toBe(
      '20 42 42 20260328',
    );
    expect(renderTemplate('{% set c = cycler("a", "b") %}{% for i in range(3) %}{{ c.next() }}{{ loop.index }}{% endfor %}', ctx, 'x')).toBe('a1b2a3');
    expect(renderTemplate('{% set j = joiner("|") %}{% for x in [1, 2] %}{{ j() }}{{ x }}{% endfor %}', ctx, 'x')).toBe('1|2');
    expect(renderTemplate('{% macro q(s) %}"{{ s | upper }}"{% endmacro %}{{ q(dag_id) }} {{ "limit" in params }}', ctx, 'x')).toBe('"ETL" true');
    expect(renderTemplate('{{ {"a": [1, 2]}.a[1] }} {{ ds[0] }} {{ ds.length }}', ctx, 'x')).toBe('2 2 10');
  });
});
