import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Manifest = Record<string, any> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

/** kubectl's embedded kustomize must know `patches` with paths and `replicas` (kustomize v4+, kubectl 1.21+). */
const MIN_KUSTOMIZE_MAJOR = 4;

/** The version of kustomize inside the kubectl on PATH, e.g. "v5.5.0"; an error says what to install. */
export function kustomizeVersion(): string {
  let out: string;
  try {
    out = execFileSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
  } catch (err) {
    throw new Error(`kubectl is needed to render deploy/kubernetes (node scripts/test.mjs installs Debian's kubernetes-client when it is missing): ${(err as Error).message}`);
  }
  const v = (JSON.parse(out) as { kustomizeVersion?: string }).kustomizeVersion ?? 'v2 (kubectl before 1.21 does not print it)';
  const major = Number(/^v(\d+)/.exec(v)?.[1] ?? 2);
  if (major < MIN_KUSTOMIZE_MAJOR) throw new Error(`kubectl's kustomize is ${v}; the overlays need kustomize v${MIN_KUSTOMIZE_MAJOR}+ (kubectl 1.21 or newer)`);
  return v;
}

/** `kubectl kustomize DIR`: the manifests exactly as `kubectl apply -k DIR` would send them. */
export function kustomize(dir: string): Manifest[] {
  const text = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`kubectl kustomize ${dir}: ${d.errors[0]!.message}`);
      return d.toJS() as Manifest | null;
    })
    .filter((d): d is Manifest => d !== null);
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
