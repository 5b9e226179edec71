#!/usr/bin/env node
// Runs every test: installs dependencies and redis-server if needed, type-checks every
// package and the tests (`pnpm typecheck`), lints (`pnpm lint`: eslint with its import-cycle
// check, then knip), checks the formatting (`pnpm format:check`), runs vitest, and ends with
// one line `N passed, N failed[, N skipped]`. Each failed check counts as one failed test;
// the tests still run. The checks run when no test file is named: ALOFT_TYPECHECK=0 skips
// the type check and ALOFT_LINT=0 the lint and format checks; =1 runs them with named files too.
//
// The pod tests' real-server tier runs against a real kube-apiserver started here (see
// scripts/lib/real-kube.mjs): built once per machine when missing, started in a scratch dir
// on free ports, its kubeconfig passed to the tests as ALOFT_TEST_KUBECONFIG, and stopped at
// the end, also on failure or Ctrl-C. Without the real-kube tools the tier is skipped and
// the reason printed (ALOFT_TEST_REAL_KUBE_SKIP). ALOFT_REAL_KUBE=0 skips it on purpose.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureChromium, ensureInstalled, ensureKubectl, ensurePython, ensureRedisServer, pnpmCommand, ROOT } from './lib/bootstrap.mjs';
import { startRealKube, wantsRealKube } from './lib/real-kube.mjs';

ensureInstalled();
if (!process.env.REDIS_URL) ensureRedisServer();
ensureChromium();
ensurePython();
ensureKubectl();

const args = process.argv.slice(2);

/** Whether a check runs: `=1` always, `=0` never, else only when no test file is named. */
const wants = (variable) => process.env[variable] === '1' || (process.env[variable] !== '0' && args.length === 0);
/** Runs one root script (`pnpm <script> ...`) as a check; its name when it failed. */
function check(script, ...more) {
  const [cmd, ...pre] = pnpmCommand();
  const started = Date.now();
  const run = spawnSync(cmd, [...pre, script, ...more], { stdio: 'inherit', cwd: ROOT, env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' } });
  const ok = run.status === 0;
  console.log(`[aloft] ${script.replace(':check', '')} ${ok ? 'passed' : 'failed'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return ok ? [] : [script];
}
const failedChecks = [
  ...(wants('ALOFT_TYPECHECK') ? check('typecheck', '--output-logs=errors-only') : []),
  ...(wants('ALOFT_LINT') ? [...check('lint'), ...check('format:check')] : []),
];
const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --conditions=aloft-source`.trim() };
let kube;
if (wantsRealKube(args)) {
  kube = startRealKube();
  if (kube.skip) {
    console.error(`[aloft] real-kube tier skipped: ${kube.skip}`);
    env.ALOFT_TEST_REAL_KUBE_SKIP = kube.skip;
  } else {
    env.ALOFT_TEST_KUBECONFIG = kube.kubeconfig;
    env.ALOFT_TEST_REAL_KUBE_DIR = kube.dir;
    env.ALOFT_TEST_REAL_KUBE_STATE = kube.stateDir;
  }
} else env.ALOFT_TEST_REAL_KUBE_SKIP = 'not asked for (ALOFT_REAL_KUBE=0, or no test file about Kubernetes named)';
const stopKube = () => kube?.stop?.();
process.on('exit', stopKube);

const out = join(ROOT, '.test-results');
mkdirSync(out, { recursive: true });
const report = join(out, 'vitest.json');
rmSync(report, { force: true });
const child = spawn(
  process.execPath,
  [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...args],
  { stdio: 'inherit', cwd: ROOT, env },
);
// Ctrl-C reaches vitest too (same process group); wait for it, then stop the stack.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
const r = await new Promise((res) => child.on('close', (status, signal) => res({ status: status ?? (signal ? 1 : 0) })));
stopKube();

let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(report)) {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  passed = json.numPassedTests ?? 0;
  failed = (json.numFailedTests ?? 0) + (json.testResults ?? []).filter((f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0).length;
  skipped = (json.numPendingTests ?? 0) + (json.numTodoTests ?? 0);
} else {
  failed = 1;
}
if (r.status !== 0 && failed === 0) failed = 1;
for (const name of failedChecks) {
  console.log(`${name}: failed (see the errors above)`);
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
