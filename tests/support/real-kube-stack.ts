import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './system.js';

const run = promisify(execFile);

/**
 * The real-kube tools (a real kube-apiserver v1.20.2 on loopback; see its README): where
 * `node scripts/test.mjs` found them (scripts/lib/real-kube.mjs, which also looks next to the
 * checkout `origin` names), else ALOFT_REAL_KUBE_DIR, else ../shared/real-kube beside the checkout.
 */
export const REAL_KUBE_DIR = process.env['ALOFT_TEST_REAL_KUBE_DIR'] ?? process.env['ALOFT_REAL_KUBE_DIR'] ?? join(ROOT, '..', 'shared', 'real-kube');
const BIN = join(process.env['K8S_REAL'] ?? join(homedir(), '.cache', 'aloft-real-kube'), 'bin');

/** Why a real-kube stack cannot start here (not built yet), or undefined when it can. */
export function realKubeMissing(): string | undefined {
  if (!existsSync(join(REAL_KUBE_DIR, 'up.sh'))) return `no real-kube at ${REAL_KUBE_DIR}`;
  if (!existsSync(join(BIN, 'kube-controller-manager')))
    return `real-kube is not built (${BIN}/kube-controller-manager missing): run ${REAL_KUBE_DIR}/build.sh once`;
  return undefined;
}

export interface RealKube {
  /** Admin kubeconfig (system:masters). */
  kubeconfig: string;
  stateDir: string;
  /** kubectl with this stack's admin kubeconfig (or another one), stdin optional. */
  kubectl(args: string[], opts?: { input?: string; kubeconfig?: string }): Promise<string>;
  /** A kubeconfig that authenticates as a ServiceAccount, from its token Secret. */
  serviceAccountKubeconfig(namespace: string, name: string): Promise<string>;
  stop(): Promise<void>;
}

/** Starts a stack of its own in a scratch state dir (up.sh), stopped by `stop()` (down.sh). */
export async function startRealKube(): Promise<RealKube> {
  const stateDir = mkdtempSync(join(ROOT, '.test-results', 'real-kube-'));
  let out: string;
  try {
    out = (await run('bash', [join(REAL_KUBE_DIR, 'up.sh'), stateDir], { encoding: 'utf8', timeout: 180_000 })).stdout;
  } catch (err) {
    await run('bash', [join(REAL_KUBE_DIR, 'down.sh'), stateDir]).catch(() => undefined);
    throw err;
  }
  const kubeconfig = /^export KUBECONFIG=(\S+)$/m.exec(out)?.[1];
  if (!kubeconfig) throw new Error(`real-kube up.sh printed no KUBECONFIG:\n${out}`);
  const kubectl = async (args: string[], opts: { input?: string; kubeconfig?: string } = {}): Promise<string> => {
    const p = run('kubectl', ['--kubeconfig', opts.kubeconfig ?? kubeconfig, ...args], { encoding: 'utf8', timeout: 60_000 });
    if (opts.input !== undefined) p.child.stdin!.end(opts.input);
    try {
      return (await p).stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw Object.assign(new Error(`kubectl ${args.join(' ')}: ${e.stderr?.trim() || e.message}`), { stdout: e.stdout ?? '' });
    }
  };
  return {
    kubeconfig,
    stateDir,
    kubectl,
    async serviceAccountKubeconfig(namespace, name) {
      // v1.20's token controller creates the Secret shortly after the ServiceAccount.
      const deadline = Date.now() + 30_000;
      let secret = '';
      while (!secret) {
        secret = (await kubectl(['-n', namespace, 'get', 'serviceaccount', name, '-o', 'jsonpath={.secrets[0].name}']).catch(() => '')).trim();
        if (!secret && Date.now() > deadline) throw new Error(`no token Secret for ServiceAccount ${namespace}/${name} after 30 s`);
        if (!secret) await new Promise((r) => setTimeout(r, 200));
      }
      const token = Buffer.from(await kubectl(['-n', namespace, 'get', 'secret', secret, '-o', 'jsonpath={.data.token}']), 'base64').toString('utf8');
      const server = /server: (\S+)/.exec(readFileSync(kubeconfig, 'utf8'))?.[1];
      const file = join(stateDir, `sa-${namespace}-${name}.kubeconfig`);
      writeFileSync(
        file,
        [
          'apiVersion: v1',
          'kind: Config',
          `clusters: [{ name: real-kube, cluster: { server: "${server}", insecure-skip-tls-verify: true } }]`,
          `users: [{ name: ${name}, user: { token: "${token}" } }]`,
          `contexts: [{ name: ${name}, context: { cluster: real-kube, user: ${name} } }]`,
          `current-context: ${name}`,
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      return file;
    },
    async stop() {
      await run('bash', [join(REAL_KUBE_DIR, 'down.sh'), stateDir], { timeout: 60_000 });
    },
  };
}
