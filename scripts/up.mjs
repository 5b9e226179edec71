#!/usr/bin/env node
// Quick start: installs what is missing, starts Redis (unless REDIS_URL is set), a local
// stand-in for Kubernetes (unless a cluster is configured), the scheduler, two workers and
// the dashboard, with every log in this terminal. Ctrl-C stops everything cleanly.
// ALOFT_DATA_DIR (default .data) holds Redis's files and the stand-in's kubeconfig.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SERVICE_CREDENTIALS } from '../packages/core/src/config/service-credentials.mjs';
import { ensureInstalled, ensureRedisServer, ROOT } from './lib/bootstrap.mjs';
import { exampleSecrets, seedExampleStore } from './lib/example-secrets.mjs';

const COLORS = [36, 33, 35, 32, 34, 31];
const children = [];
let stopping = false;

function prefixed(name, color, stream, target) {
  const tag = `\x1b[${color}m${name.padEnd(10)}|\x1b[0m `;
  createInterface({ input: stream }).on('line', (line) => target.write(`${tag}${line}\n`));
}

function say(msg) {
  process.stdout.write(`\x1b[1maloft     |\x1b[0m ${msg}\n`);
}

function portFree(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function freePort() {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Whether a Redis answers on the port (with a password set, it answers NOAUTH). */
function ping(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('error', () => resolve(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      resolve(/^(\+PONG|-NOAUTH)/.test(d.toString()));
    });
  });
}

/** Writes a file only this user can read (a credential handed to a service by name). */
function writePrivate(file, text) {
  mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

function start(name, file, env, color, { args = [], detached = false } = {}) {
  const child = spawn(process.execPath, ['--conditions=aloft-source', '--import', 'tsx', file.startsWith('/') ? file : join(ROOT, file), ...args], {
    cwd: ROOT,
    env: { ...childEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached,
  });
  if (detached) {
    process.once('exit', () => {
      if (child.exitCode === null) child.kill('SIGTERM');
    });
  }
  prefixed(name, color, child.stdout, process.stdout);
  prefixed(name, color, child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    if (!stopping) say(`\x1b[31m${name} exited unexpectedly (${signal ?? `code ${code}`}); the others keep running\x1b[0m`);
  });
  children.push({ name, child });
  return child;
}

ensureInstalled();

const DATA = process.env.ALOFT_DATA_DIR ?? join(ROOT, '.data');
const env = {
  ALOFT_DAGS_FOLDER: process.env.ALOFT_DAGS_FOLDER ?? join(ROOT, 'examples', 'dags'),
  ALOFT_LOG_PRETTY: process.env.ALOFT_LOG_PRETTY ?? '1',
};
// Credentials reach the services as files (REDIS_URL_FILE, …), never in their environment,
// where any process of the same user could read them in /proc/<pid>/environ.
const childEnv = { ...process.env };
for (const name of SERVICE_CREDENTIALS) {
  if (childEnv[name] === undefined) continue;
  const file = join(DATA, 'credentials', name.toLowerCase().replaceAll('_', '-'));
  writePrivate(file, childEnv[name]);
  delete childEnv[name];
  env[`${name}_FILE`] = file;
}
let redis;
if (!process.env.REDIS_URL && !process.env.REDIS_URL_FILE) {
  ensureRedisServer();
  let port = Number(process.env.ALOFT_REDIS_PORT ?? 6380);
  if (!(await portFree(port))) port = await freePort();
  const dir = join(DATA, 'redis');
  mkdirSync(dir, { recursive: true });
  // Its own process group: Ctrl-C in the terminal reaches the services and this script, not
  // Redis, which stops only once every service has finished with it.
  // A password, so that a process on this machine that is not Aloft's (a task running as
  // another user) cannot talk to it. In a config file, not on the command line, which every
  // user can read in /proc/<pid>/cmdline.
  const password = randomBytes(24).toString('base64url');
  const conf = join(DATA, 'credentials', 'redis.conf');
  writePrivate(conf, `requirepass ${password}\n`);
  redis = spawn('redis-server', [conf, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  process.once('exit', () => {
    if (redis.exitCode === null) redis.kill('SIGTERM');
  });
  prefixed('redis', 90, redis.stdout, process.stdout);
  prefixed('redis', 90, redis.stderr, process.stderr);
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (redis.exitCode !== null || Date.now() > deadline) {
      say('redis-server did not start; see its log above');
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // The services and the CLI (scripts/aloft.mjs, from another terminal) read it from here.
  env.REDIS_URL_FILE = join(DATA, 'redis-url');
  writePrivate(env.REDIS_URL_FILE, `redis://:${password}@127.0.0.1:${port}\n`);
  say(`redis-server on port ${port}, data and AOF in ${dir}`);
} else {
  say('using REDIS_URL');
}

// Pods: on the cluster the workers find (KUBECONFIG, ~/.kube/config, in-cluster), or else
// on a local stand-in that runs each pod's command as a local process.
const clusterConfigured =
  Boolean(process.env.KUBECONFIG || process.env.ALOFT_K8S_KUBECONFIG || process.env.KUBERNETES_SERVICE_HOST) || existsSync(join(homedir(), '.kube', 'config'));
if (clusterConfigured) {
  say('pods: on the cluster in your kubeconfig');
} else {
  const kubeconfig = join(DATA, 'pod-stand-in', 'kubeconfig');
  rmSync(kubeconfig, { force: true });
  // Its own process group, like Redis: Ctrl-C reaches the workers first, and stop() ends it after them.
  const standIn = start('pods', 'scripts/pod-stand-in.ts', env, COLORS[4], { args: [kubeconfig], detached: true });
  const deadline = Date.now() + 30_000;
  while (!existsSync(kubeconfig)) {
    if (standIn.exitCode !== null || Date.now() > deadline) {
      say('the local pod stand-in did not start; see its log above');
      standIn.kill('SIGTERM');
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  env.KUBECONFIG = kubeconfig;
  env.ALOFT_K8S_STAND_IN = '1';
  say(
    "\x1b[33mpods run on a local stand-in, not a cluster\x1b[0m: no KUBECONFIG, so each pod's command runs as a local process (packages/k8s-emulator); set KUBECONFIG to use a cluster",
  );
}

// Example connections and variables for examples/dags/warehouse_report.ts, one from each
// secrets backend; the env backend's reach the workers only.
const secrets = exampleSecrets(DATA, process.env);
Object.assign(env, secrets.services);
const dashboardPort = process.env.ALOFT_DASHBOARD_PORT ?? '8080';
start('scheduler', 'apps/scheduler/src/main.ts', env, COLORS[0]);
start('worker-1', 'apps/worker/src/main.ts', { ...env, ...secrets.workers, ALOFT_WORKER_ID: 'worker-1', ALOFT_WORKER_HTTP_PORT: '8792' }, COLORS[1]);
start('worker-2', 'apps/worker/src/main.ts', { ...env, ...secrets.workers, ALOFT_WORKER_ID: 'worker-2', ALOFT_WORKER_HTTP_PORT: '8793' }, COLORS[2]);
start('dashboard', 'apps/dashboard/src/main.ts', { ...env, ALOFT_DASHBOARD_PORT: dashboardPort }, COLORS[3]);
void seedExampleStore({ ...childEnv, ...env });
say(`dashboard: http://localhost:${dashboardPort}/  ·  queues: http://localhost:${dashboardPort}/queues  ·  DAGs from ${env.ALOFT_DAGS_FOLDER}`);
say('CLI in another terminal: ./aloft dags list   (Ctrl-C here stops everything)');

function stopAll(alive) {
  return Promise.all(
    alive.map(
      ({ name, child }) =>
        new Promise((resolve) => {
          const timer = setTimeout(() => {
            say(`${name} did not stop in 35 s; killing it`);
            child.kill('SIGKILL');
          }, 35_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

async function stop(signal) {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping services…`);
  // The pod stand-in last, like Redis: workers stop following their pods first.
  const alive = children.filter(({ child }) => child.exitCode === null && child.signalCode === null);
  await stopAll(alive.filter(({ name }) => name !== 'pods'));
  await stopAll(alive.filter(({ name }) => name === 'pods'));
  if (redis && redis.exitCode === null) {
    const exited = new Promise((r) => redis.once('exit', r));
    redis.kill('SIGTERM');
    await exited;
    rmSync(join(DATA, 'redis-url'), { force: true });
  }
  say('stopped');
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
