/**
 * `@aloft/core/dag`, the module DAG files import, loads none of the engine's libraries, and a
 * DAG declared through it reaches the same registry as one declared through `@aloft/core`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importDagFile } from '../src/index.js';

const ROOT = new URL('../../..', import.meta.url).pathname;
const DIR = join(ROOT, '.test-results', `dag-entry-${process.pid}`);
mkdirSync(DIR, { recursive: true });
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

const ENGINE_LIBRARIES = ['ioredis', 'bullmq', 'pino', 'prom-client'];

/**
 * Every module URL a fresh Node process resolves while it imports `specifier` from the
 * repository root (under the aloft-source condition, TypeScript through tsx). A resolve hook
 * appends each URL to a file: ESM imports and the CommonJS packages they import by name
 * both pass through it.
 */
function modulesLoadedBy(specifier: string): string[] {
  const log = join(DIR, `${specifier.replaceAll(/\W/g, '_')}.log`);
  const hooks = join(DIR, 'record-hooks.mjs');
  writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(log, r.url + '\\n');
  return r;
}
`,
  );
  const register = `import { register } from 'node:module'; register(${JSON.stringify(new URL(`file://${hooks}`).href)}, { data: { log: ${JSON.stringify(log)} } });`;
  const r = spawnSync(
    process.execPath,
    [
      '--conditions=aloft-source',
      '--import',
      `data:text/javascript,${encodeURIComponent(register)}`,
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(specifier)});`,
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
  );
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

const engineLibrariesIn = (urls: string[]) => ENGINE_LIBRARIES.filter((lib) => urls.some((u) => u.includes(`/node_modules/${lib}/`)));

describe('@aloft/core/dag', () => {
  it('loads neither ioredis, BullMQ, pino nor prom-client', () => {
    const urls = modulesLoadedBy('@aloft/core/dag');
    expect(urls.some((u) => u.endsWith('/packages/core/src/dag-author.ts'))).toBe(true);
    expect(engineLibrariesIn(urls)).toEqual([]);
  });

  it('sees them where they are: @aloft/core loads ioredis and pino', () => {
    expect(engineLibrariesIn(modulesLoadedBy('@aloft/core'))).toEqual(['ioredis', 'pino']);
  });

  it('declares DAGs that the loader reads, as @aloft/core does', async () => {
    const file = join(DIR, 'authored.ts');
    writeFileSync(
      file,
      `import { dag, chain } from '@aloft/core/dag';
const d = dag({ id: 'authored' });
const a = d.fn({ id: 'a', run: () => 1 });
chain(a, d.empty({ id: 'b' }));
`,
    );
    const dags = await importDagFile(file);
    expect(dags.map((d) => d.serialize().tasks.map((t) => [t.id, t.upstream]))).toEqual([
      [
        ['a', []],
        ['b', ['a']],
      ],
    ]);
  });
});
