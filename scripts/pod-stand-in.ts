// The quick start's stand-in for a Kubernetes cluster: the project's API emulator
// (packages/k8s-emulator) as a service, which runs each pod's command as a local process.
// `node scripts/up.mjs` starts it when no cluster is configured and points the workers at
// the kubeconfig it writes. Usage: pod-stand-in.ts <kubeconfig path>
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, userCodeDecision, userCodeIdentity } from '@aloft/core';
import { startEmulator } from '@aloft/k8s-emulator';

const path = process.argv[2];
const logger = createLogger({ name: 'pods', level: 'info', pretty: process.env['ALOFT_LOG_PRETTY'] === '1' });
if (!path) {
  logger.fatal('usage: pod-stand-in.ts <kubeconfig path>');
  process.exit(2);
}
// Pods run user code: as the user-code identity when this runs as root (nobody by default,
// ALOFT_USER_CODE_USER), so that a pod's command cannot read the services' credential files
// or environments; as this user when that identity cannot read the checkout.
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wanted = userCodeIdentity(process.env['ALOFT_USER_CODE_USER']);
const { identity: runAs, blocked } = userCodeDecision(wanted, [{ path: join(root, 'package.json'), kind: 'file' }]);
if (wanted && blocked !== undefined) {
  logger.warn({ user: wanted.name, checkout: root }, `pod commands run as this service's user: ${wanted.name} cannot read ${blocked}`);
}
// The newest 10,000 requests and events are plenty for a stand-in that runs for days.
const emu = await startEmulator({ keepRecords: 10_000, runAs });
mkdirSync(dirname(path), { recursive: true });
emu.writeKubeconfig(path);
logger.info({ url: emu.url, kubeconfig: path }, 'pods run on a local stand-in, not a cluster: each pod command runs as a local process');

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  await emu.stop();
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
