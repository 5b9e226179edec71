/**
 * @aloft/sdk as a program outside the repository gets it: `pnpm pack` builds it (its
 * `prepack` runs tsc) and packs dist/ with the exports of its `publishConfig`; npm installs
 * the tarball offline into a scratch project in the system's temp dir; that project runs an
 * ESM program against a stand-in fetch and type-checks a TypeScript file against the shipped
 * declarations. The SDK has no runtime dependencies, so the tarball is all it needs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './support/system.js';

const SDK = join(ROOT, 'packages', 'sdk');

/** pnpm on PATH, else the version the repository pins, through npx. */
function pnpm(): string[] {
  if (spawnSync('pnpm', ['--version'], { stdio: 'ignore' }).status === 0) return ['pnpm'];
  const pinned = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { packageManager: string }).packageManager;
  return ['npx', '--yes', pinned];
}

function run(cmd: string[], cwd: string): string {
  return execFileSync(cmd[0]!, cmd.slice(1), { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
}

/** A fetch that answers the two requests the consumer makes, as the dashboard would. */
const FAKE_FETCH = `async (url, init) => {
  const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  if (init.headers.authorization !== 'Bearer aloft_test') return json(401, { error: 'unauthorized' });
  if (String(url) === 'http://aloft.test/api/v1/dags') return json(200, { dags: [{ id: 'etl', paused: false }] });
  return json(404, { error: 'dag "nope" not found', field: 'path' });
}`;

const PROGRAM = `import { AloftApiError, AloftHttpClient } from '@aloft/sdk';
const aloft = new AloftHttpClient({ baseUrl: 'http://aloft.test', token: 'aloft_test', fetch: ${FAKE_FETCH} });
const dags = await aloft.listDags();
let status;
try { await aloft.getDag('nope'); } catch (err) { status = err instanceof AloftApiError ? err.status : String(err); }
console.log(JSON.stringify({ ids: dags.map((d) => d.id), status }));
`;

const TYPED = `import { AloftHttpClient, type DagRun, type DagSummary, type TaskState } from '@aloft/sdk';
const aloft = new AloftHttpClient({ baseUrl: 'http://aloft.test', token: 'aloft_test' });
export async function firstDag(): Promise<DagSummary | undefined> {
  return (await aloft.listDags({ tag: 'etl' }))[0];
}
export async function stateOf(run: DagRun): Promise<TaskState[]> {
  return (await aloft.listTaskInstances(run.dagId, run.runId)).map((ti) => ti.state);
}
`;

let consumer: string;

beforeAll(() => {
  consumer = mkdtempSync(join(tmpdir(), 'aloft-sdk-consumer-'));
  const packs = join(consumer, 'packs');
  mkdirSync(packs);
  run([...pnpm(), 'pack', '--pack-destination', packs], SDK);
  const [tarball] = readdirSync(packs);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  run(['npm', 'install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', join(packs, tarball!)], consumer);
}, 240_000);

afterAll(() => {
  if (consumer) rmSync(consumer, { recursive: true, force: true });
});

describe('the SDK as shipped', () => {
  it('packs the built JavaScript and declarations, and exports them without the source condition', () => {
    const pkg = JSON.parse(readFileSync(join(consumer, 'node_modules', '@aloft', 'sdk', 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg['exports']).toEqual({ '.': { types: './dist/index.d.ts', default: './dist/index.js' } });
    const files = readdirSync(join(consumer, 'node_modules', '@aloft', 'sdk', 'dist'));
    expect(files).toEqual(expect.arrayContaining(['index.js', 'index.d.ts', 'client.js', 'types.d.ts']));
    expect(readdirSync(join(consumer, 'node_modules', '@aloft', 'sdk'))).not.toContain('src');
  });

  it('runs in an ESM program outside the repository', () => {
    writeFileSync(join(consumer, 'program.mjs'), PROGRAM);
    expect(JSON.parse(run([process.execPath, 'program.mjs'], consumer))).toEqual({ ids: ['etl'], status: 404 });
  });

  it('type-checks a TypeScript file that uses its client types', () => {
    writeFileSync(join(consumer, 'typed.ts'), TYPED);
    const tsconfig = {
      compilerOptions: {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        lib: ['ES2023', 'DOM'],
        strict: true,
        noEmit: true,
        types: [],
        skipLibCheck: false,
      },
      files: ['typed.ts'],
    };
    writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify(tsconfig));
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: consumer, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);

    // A misuse is a type error: the declarations carry the types, not `any`.
    writeFileSync(join(consumer, 'typed.ts'), `${TYPED}export const wrong: number = (null as unknown as DagSummary).id;\n`);
    const bad = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: consumer, encoding: 'utf8' });
    expect(bad.stdout).toMatch(/typed\.ts\(\d+,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/);
  });
});
