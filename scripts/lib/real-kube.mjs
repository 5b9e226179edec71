// The real-server tier of the test command: a real kube-apiserver (v1.20.2) with its
// scheduler and controller-manager and a stand-in kubelet, from the real-kube tools that
// live next to the repository (not in it; see findRealKube).
// Plain Node, no dependencies: it runs before anything is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { ROOT } from './bootstrap.mjs';

const say = (msg) => console.error(`[aloft] real-kube: ${msg}`);

/**
 * Where the real-kube tools are: $ALOFT_REAL_KUBE_DIR, else <repo>/../shared/real-kube, else
 * the same next to the checkout that `git remote get-url origin` names (CI tests a clone
 * made with `git clone . /tmp/x`, whose origin is the original checkout).
 * Returns { dir } or { skip: reason }.
 */
export function findRealKube(root = ROOT) {
  const tried = [];
  const usable = (dir) => {
    tried.push(dir);
    return existsSync(join(dir, 'up.sh')) && existsSync(join(dir, 'down.sh'));
  };
  const fromEnv = process.env.ALOFT_REAL_KUBE_DIR;
  if (fromEnv) {
    if (usable(resolve(fromEnv))) return { dir: resolve(fromEnv) };
    return { skip: `ALOFT_REAL_KUBE_DIR=${fromEnv} has no up.sh/down.sh` };
  }
  const beside = resolve(root, '..', 'shared', 'real-kube');
  if (usable(beside)) return { dir: beside };
  const origin = spawnSync('git', ['remote', 'get-url', 'origin'], { cwd: root, encoding: 'utf8' });
  if (origin.status === 0) {
    let url = origin.stdout.trim().replace(/^file:\/\//, '');
    if (!/^[a-z][a-z0-9+.-]*:\/\/|^[^/]+@[^:]+:/i.test(url)) {
      url = resolve(root, url);
      if (basename(url) === '.git') url = dirname(url);
      const nextToOrigin = resolve(url, '..', 'shared', 'real-kube');
      if (usable(nextToOrigin)) return { dir: nextToOrigin };
    }
  }
  return { skip: `no real-kube tools found (looked in ${tried.join(', ')}); set ALOFT_REAL_KUBE_DIR to the folder with up.sh` };
}

/** The scratch root real-kube builds into, as its scripts compute it. */
function scratchRoot() {
  return process.env.K8S_REAL ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'aloft-real-kube');
}

/** Builds the binaries when missing (build.sh: ~5 min once per machine, 0.3 s when built). */
function ensureBuilt(dir) {
  const bin = join(scratchRoot(), 'bin');
  const built = ['kube-apiserver', 'kube-scheduler', 'kube-controller-manager'].every((b) => existsSync(join(bin, b)));
  const etcd = spawnSync('sh', ['-c', 'command -v etcd'], { stdio: 'ignore' }).status === 0;
  if (built && etcd) return undefined;
  say(`building a Kubernetes control plane into ${scratchRoot()} (once per machine, about 5 minutes) …`);
  const r = spawnSync(join(dir, 'build.sh'), [], { stdio: ['ignore', 2, 2] });
  return r.status === 0 ? undefined : `${join(dir, 'build.sh')} failed (exit ${r.status ?? r.signal})`;
}

/**
 * Starts a stack of its own in a scratch state dir, on free ports. Returns { kubeconfig,
 * stateDir, dir, stop() } or { skip: reason }. stop() runs down.sh, which stops exactly the
 * processes up.sh started; it is safe to call twice.
 */
export function startRealKube() {
  const found = findRealKube();
  if (found.skip) return found;
  const failedBuild = ensureBuilt(found.dir);
  if (failedBuild) return { skip: failedBuild };
  const stateDir = mkdtempSync(join(tmpdir(), 'aloft-real-kube-'));
  say(`starting in ${stateDir} …`);
  const up = spawnSync(join(found.dir, 'up.sh'), [stateDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const kubeconfig = /^export KUBECONFIG=(.+)$/m.exec(up.stdout ?? '')?.[1]?.trim();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    const down = spawnSync(join(found.dir, 'down.sh'), [stateDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (down.status !== 0) say(`down.sh ${stateDir} failed: ${(down.stderr || down.stdout || '').trim().slice(-500)}`);
    else say(`stopped (${stateDir})`);
    rmSync(stateDir, { recursive: true, force: true });
  };
  if (up.status !== 0 || !kubeconfig) {
    stop();
    return { skip: `up.sh failed (exit ${up.status ?? up.signal}): ${(up.stderr || up.stdout || '').trim().slice(-800)}` };
  }
  say(`up (${(up.stdout.match(/^\[up .*up: .*$/m) ?? [''])[0].replace(/^\[up\s+[\d.]+s\] /, '')})`);
  return { kubeconfig, stateDir, dir: found.dir, stop };
}

/**
 * Whether a test run needs the stack: a run of everything, or of a test file about
 * Kubernetes (its path names kube). ALOFT_REAL_KUBE=0 turns the tier off.
 */
export function wantsRealKube(vitestArgs) {
  if (process.env.ALOFT_REAL_KUBE === '0') return false;
  const files = vitestArgs.filter((a) => !a.startsWith('-'));
  return files.length === 0 || files.some((f) => /kube/i.test(f));
}
