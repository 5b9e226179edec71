import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SerializedDag } from '@aloft/core';
import type { ReportedError } from '../src/parse-protocol.js';
import { readParseResult } from '../src/parse-result.js';
import { ParseRunner } from '../src/parse-runner.js';

/**
 * DAG files as the scheduler loads them: each imported by the parse child in its own Node
 * process, which reports the DAGs or the first problem with its line and field.
 */
const ROOT = new URL('../../..', import.meta.url).pathname.replace(/\/$/, '');
const DIR = join(ROOT, '.test-results', `parse-dags-${process.pid}`);
const runner = new ParseRunner({ timeoutMs: 60_000, memoryMb: 1024, identity: undefined, env: process.env, settings: {} });
type ParseResult = { dags: SerializedDag[] } | { error: ReportedError };
mkdirSync(DIR, { recursive: true });
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

let n = 0;
async function parse(source: string, dir = DIR, name = `dag${++n}.ts`): Promise<ParseResult & { file: string }> {
  const file = join(dir, name);
  writeFileSync(file, `import { dag, chain } from '@aloft/core';\n${source}\n`);
  return parseFile(file);
}

async function parseFile(file: string): Promise<ParseResult & { file: string }> {
  const outcome = await runner.run(file, dirname(file));
  if ('stopped' in outcome) throw new Error(`the parse runner was stopped while parsing ${file}`);
  return { ...('error' in outcome ? { error: outcome.error } : readParseResult(outcome.payload, file)), file };
}

describe('DAG file validation (file, line, field)', () => {
  const cases: [string, string, number, string, RegExp][] = [
    [
      'cycle',
      `const d = dag({ id: 'c' });\nconst a = d.empty({ id: 'a' });\nconst b = d.empty({ id: 'b' });\na.then(b);\nb.then(a);`,
      3,
      'upstream',
      /cycle a → b → a/,
    ],
    ['duplicate task id', `const d = dag({ id: 'dup' });\nd.empty({ id: 't' });\nd.empty({ id: 't' });`, 4, 'id', /"t".*(twice|duplicate)/i],
    ['invalid DAG id', `const d = dag({ id: 'bad id!' });\nd.empty({ id: 't' });`, 2, 'id', /bad id!/],
    [
      'upstream of another DAG',
      `const numbrs = dag({ id: 'other' }).empty({ id: 'numbrs' });\nconst d = dag({ id: 'up' });\nd.empty({ id: 'sum', upstream: [numbrs] });`,
      4,
      'upstream',
      /upstream "numbrs" is not a task of this DAG/,
    ],
    ['bad cron', `const d = dag({ id: 'sched', schedule: '99 * * * *' });\nd.empty({ id: 't' });`, 2, 'schedule', /not a valid cron expression/],
    ['negative retries', `const d = dag({ id: 'retries' });\nd.command({ id: 't', command: 'true', retries: -1 });`, 3, 'retries', /retries/],
    ['unknown trigger rule', `const d = dag({ id: 'rule' });\nd.empty({ id: 't', triggerRule: 'sometimes' as never });`, 3, 'triggerRule', /sometimes/],
    ['unknown time zone', `const d = dag({ id: 'tz', timezone: 'Mars/Olympus' });\nd.empty({ id: 't' });`, 2, 'timezone', /Mars\/Olympus/],
    [
      'bad quantity',
      `const d = dag({ id: 'pod' });\nd.kubernetesPod({ id: 'p', image: 'busybox', resources: { limits: { memory: 'lots' } } });`,
      3,
      'resources.limits.memory',
      /Kubernetes quantity/,
    ],
    [
      'mount of no volume',
      `const d = dag({ id: 'mnt' });\nd.kubernetesPod({ id: 'p', image: 'busybox', volumeMounts: [{ name: 'data', mountPath: '/data' }] });`,
      3,
      'volumeMounts[0].name',
      /volumes/,
    ],
    [
      'bad secret',
      `const d = dag({ id: 'sec' });\nd.kubernetesPod({ id: 'p', image: 'busybox', secrets: [{ type: 'env', secret: 'db', key: 'k', envName: '1BAD' }] });`,
      3,
      'secrets[0].envName',
      /environment variable name/,
    ],
    [
      'misspelt runInPod override',
      `const d = dag({ id: 'rip', defaultArgs: { runInPod: true } });\nd.fn({ id: 'f', run: () => 1, runInPod: { nodeSelecter: { a: 'b' } } as never });`,
      3,
      'runInPod.nodeSelecter',
      /not a pod override/,
    ],
    ['bad group id', `const d = dag({ id: 'grp' });\nd.group({ id: 'a.b' }, (g) => {\n  g.empty({ id: 'x' });\n});`, 3, 'group', /group id must be letters/],
    [
      'duplicate group id',
      `const d = dag({ id: 'grp2' });\nd.group({ id: 'g' }, (g) => g.empty({ id: 'x' }));\nd.group({ id: 'g' }, (g) => g.empty({ id: 'y' }));`,
      4,
      'group',
      /group "g" is declared twice/,
    ],
    [
      'task callback that is not a function',
      `const d = dag({ id: 'cbt' });\nd.command({ id: 'c', command: 'true', onFailure: 'page-oncall' as never });`,
      3,
      'onFailure',
      /task "c": onFailure must be a function \(got string\)/,
    ],
    [
      'DAG callback that is not a function',
      `const d = dag({ id: 'cbd', onSuccess: { url: 'x' } as never });\nd.empty({ id: 't' });`,
      2,
      'onSuccess',
      /dag "cbd": onSuccess must be a function \(got object\)/,
    ],
    ['bad task SLA', `const d = dag({ id: 'slat' });\nd.empty({ id: 't', sla: 'soonish' });`, 3, 'sla', /sla must be a duration/],
    [
      'description that is not a string',
      `const d = dag({ id: 'desc', description: 42 as never });\nd.empty({ id: 't' });`,
      2,
      'description',
      /dag "desc": description must be a string \(got number\)/,
    ],
    [
      'bad runInPod quantity',
      `const d = dag({ id: 'rip2' });\nd.command({ id: 'c', command: 'true', runInPod: { resources: { limits: { memory: 'huge' } } } });`,
      3,
      'runInPod.resources.limits.memory',
      /Kubernetes quantity/,
    ],
  ];
  for (const [what, src, line, field, msg] of cases) {
    it(`reports ${what} at line ${line}, field ${field}`, async () => {
      const r = await parse(src);
      expect('error' in r && r.error).toMatchObject({ line, field });
      expect('error' in r && r.error.message).toMatch(msg);
    });
  }

  it('reports a file that throws at the line of the throw, and a good file parses', async () => {
    const bad = await parse(`const d = dag({ id: 'x' });\nd.empty({ id: 't' });\nthrow new Error('boom');`);
    expect('error' in bad && bad.error).toMatchObject({ line: 4, message: 'Error: boom' });
    const good = await parse(`const d = dag({ id: 'fine', schedule: '@hourly', startDate: '2026-01-01' });\nd.empty({ id: 't' });`);
    expect('dags' in good && good.dags.map((d) => d.id)).toEqual(['fine']);
  });
});

describe('errors that name the file once', () => {
  it('reports a syntax error at its line without the path in the message', async () => {
    const r = await parse(`const d = dag({ id: 'syn' });\nconst x = ;`);
    expect('error' in r && r.error).toEqual({ message: 'TransformError: Transform failed with 1 error:\nERROR: Unexpected ";"', line: 3 });
  });

  it('says "this file" where Node names the importing file', async () => {
    const r = await parse(`import './missing-helper.js';`);
    expect('error' in r && r.error.message).toBe(`Error: Cannot find module '${join(DIR, 'missing-helper.js')}' imported from this file`);
  });
});

describe('DAGs declared after the import finished', () => {
  const late = (what: string) =>
    `${what} was declared after the file's import had finished (in a timer, a callback or an async function nobody awaited), ` +
    'so the scheduler cannot load it: declare DAGs while the file is imported, awaiting what they need first (top-level await)';

  it('reports a DAG declared in an async function nobody awaited, at its line', async () => {
    const r = await parse(
      ['async function build() {', '  await new Promise((r) => setTimeout(r, 20));', "  dag({ id: 'later' }).empty({ id: 't' });", '}', 'void build();'].join(
        '\n',
      ),
    );
    expect('error' in r && r.error).toEqual({ message: late('dag "later"'), line: 4 });
  });

  it('reports a DAG declared in a timer after one declared at import', async () => {
    const r = await parse(`dag({ id: 'now' }).empty({ id: 't' });\nsetTimeout(() => dag({ id: 'timer' }).empty({ id: 't' }), 10);`);
    expect('error' in r && r.error).toEqual({ message: late('dag "timer"'), line: 3 });
  });

  it('still loads a file that awaits before declaring (top-level await)', async () => {
    const r = await parse(`await new Promise((r) => setTimeout(r, 20));\ndag({ id: 'awaited' }).empty({ id: 't' });`);
    expect('dags' in r && r.dags.map((d) => d.id)).toEqual(['awaited']);
  });
});

describe('DAG files that load as CommonJS', () => {
  // A package.json without "type": "module" makes Node load .ts and .js files beside it as
  // CommonJS; they then get a CommonJS copy of @aloft/core, whose DAGs the parser never saw.
  const cjs = join(DIR, 'cjs-folder');
  mkdirSync(cjs, { recursive: true });
  writeFileSync(join(cjs, 'package.json'), '{ "name": "our-dags" }\n');
  const fix = `add "type": "module" to ${join(cjs, 'package.json')}`;

  it('reports a TypeScript file with imports as an import error naming the file and the fix', async () => {
    const r = await parse(`const d = dag({ id: 'cjs_ts' });\nd.empty({ id: 't' });`, cjs, 'etl.ts');
    expect('error' in r && r.error.field).toBe('module');
    const message = 'error' in r ? r.error.message : '';
    expect(message).toMatch(/^1 DAG declared here went to a second copy of @aloft\/core/);
    expect(message).not.toContain(r.file);
    expect(message).toContain('the file was loaded as CommonJS');
    expect(message).toContain(fix);
  });

  it('reports a .js file that requires @aloft/core the same way', async () => {
    const file = join(cjs, 'two.js');
    writeFileSync(file, "const { dag } = require('@aloft/core');\nfor (const id of ['a', 'b']) dag({ id }).empty({ id: 't' });\n");
    const r = await parseFile(file);
    const message = 'error' in r ? r.error.message : '';
    expect(message).toMatch(/^2 DAGs declared here went to a second copy of @aloft\/core/);
    expect(message).toContain(fix);
  });

  it('reports top-level await in a TypeScript file loaded as CommonJS at its line, with the fix', async () => {
    const r = await parse(`await Promise.resolve();\ndag({ id: 'cjs_await' }).empty({ id: 't' });`, cjs, 'awaits.ts');
    expect('error' in r && r.error).toEqual({
      message: `top-level await needs an ES module, and the file was loaded as CommonJS: ${fix}, or name the file .mts/.mjs`,
      line: 2,
      field: 'module',
    });
  });

  it('leaves a CommonJS helper that declares no DAG alone', async () => {
    const file = join(cjs, 'helper.js');
    writeFileSync(file, 'module.exports = { regions: 4 };\n');
    expect(await parseFile(file)).toEqual({ dags: [], file });
  });
});
