// Bootstrap shared by the quick-start scripts: plain Node, no dependencies, so it runs
// before anything is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const PNPM_VERSION = '10.34.8';

function works(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'ignore', cwd: ROOT });
  return r.status === 0;
}

/** How to run pnpm here: pnpm itself, corepack's, or npx fetching the pinned version. */
export function pnpmCommand() {
  if (works('pnpm', ['--version'])) return ['pnpm'];
  if (works('corepack', ['pnpm', '--version'])) return ['corepack', 'pnpm'];
  return ['npx', '-y', `pnpm@${PNPM_VERSION}`];
}

function newestManifest() {
  let newest = statSync(join(ROOT, 'pnpm-lock.yaml')).mtimeMs;
  for (const group of ['apps', 'packages']) {
    for (const name of readdirSync(join(ROOT, group))) {
      const p = join(ROOT, group, name, 'package.json');
      if (existsSync(p)) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  }
  for (const p of [join(ROOT, 'package.json'), join(ROOT, 'tests', 'package.json')]) if (existsSync(p)) newest = Math.max(newest, statSync(p).mtimeMs);
  return newest;
}

/** Installs dependencies when node_modules is missing or older than a manifest. */
export function ensureInstalled() {
  const marker = join(ROOT, 'node_modules', '.modules.yaml');
  if (existsSync(marker) && statSync(marker).mtimeMs >= newestManifest()) return;
  const [cmd, ...pre] = pnpmCommand();
  console.error(`[aloft] installing dependencies with ${[cmd, ...pre].join(' ')} …`);
  let r = spawnSync(cmd, [...pre, 'install', '--frozen-lockfile'], { stdio: ['ignore', 2, 2], cwd: ROOT });
  if (r.status !== 0) r = spawnSync(cmd, [...pre, 'install'], { stdio: ['ignore', 2, 2], cwd: ROOT });
  if (r.status !== 0) {
    console.error('[aloft] dependency installation failed');
    process.exit(1);
  }
}

function onPath(bin) {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, bin)));
}

/** Makes sure redis-server exists: installs Debian's package when root on Debian/Ubuntu. */
export function ensureRedisServer() {
  if (onPath('redis-server')) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && existsSync('/etc/debian_version')) {
    console.error('[aloft] redis-server is missing; installing Debian package redis-server …');
    const r = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server'], { stdio: ['ignore', 2, 2] });
    if (r.status === 0 && onPath('redis-server')) return;
  }
  console.error(
    '[aloft] redis-server is not installed. Install it (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis) or set REDIS_URL to an existing Redis.',
  );
  process.exit(1);
}

/** Installs a Debian package when `present()` is false and we are root on Debian/Ubuntu. */
function ensureDebianPackage(present, pkg, why) {
  if (present()) return true;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !existsSync('/etc/debian_version')) return false;
  console.error(`[aloft] installing Debian package ${pkg} ${why} …`);
  const r = spawnSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkg}`], { stdio: ['ignore', 2, 2] });
  return r.status === 0 && present();
}

/**
 * python3 for the Kubernetes emulator's python images (it runs pod commands as local
 * processes); without it those pod tests report the missing interpreter.
 */
export function ensurePython() {
  return ensureDebianPackage(() => onPath('python3'), 'python3-minimal', 'for the Kubernetes emulator');
}

/** Chromium for the browser tests: Debian's package, never a downloaded browser. */
export function ensureChromium() {
  return ensureDebianPackage(() => existsSync('/usr/bin/chromium'), 'chromium', 'for the browser tests');
}

/**
 * kubectl for the manifest tests (`kubectl kustomize`, `kubectl apply`): Debian's
 * kubernetes-client when none is on PATH. Its kubectl 1.20 embeds kustomize v2, too old
 * for the overlays' `patches`; tests/support/kubectl.ts then says to install kubectl 1.21+.
 */
export function ensureKubectl() {
  return ensureDebianPackage(() => onPath('kubectl'), 'kubernetes-client', 'for the deploy manifest tests');
}
