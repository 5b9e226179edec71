import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Manifest = Record<string, any> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

/**
 * The subset of kustomize that deploy/kubernetes uses, in Node, for the static tests:
 * resources (files and bases), images (newName/newTag), replicas, and strategic-merge
 * patches (containers and other named lists merged by name). Anything else in a
 * kustomization is an error, so the manifests cannot quietly outgrow this renderer.
 */
export function kustomize(dir: string): Manifest[] {
  const k = (parseAllDocuments(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))[0]?.toJS() ?? {}) as Record<string, any>;
  const known = new Set(['apiVersion', 'kind', 'resources', 'images', 'replicas', 'patches']);
  for (const key of Object.keys(k)) if (!known.has(key)) throw new Error(`${dir}/kustomization.yaml: "${key}" is not supported by the test renderer`);
  const out: Manifest[] = [];
  for (const r of (k['resources'] ?? []) as string[]) {
    const p = join(dir, r);
    if (statSync(p).isDirectory()) out.push(...kustomize(p));
    else out.push(...readManifests(p));
  }
  for (const img of (k['images'] ?? []) as { name: string; newName?: string; newTag?: string }[]) {
    for (const c of containersOf(out)) {
      const [name] = splitImage(c.image as string);
      if (name === img.name) c.image = `${img.newName ?? name}:${img.newTag ?? splitImage(c.image as string)[1]}`;
    }
  }
  for (const rep of (k['replicas'] ?? []) as { name: string; count: number }[]) {
    const target = out.find((m) => m.metadata.name === rep.name && ['Deployment', 'StatefulSet'].includes(m.kind));
    if (!target) throw new Error(`${dir}: replicas for unknown workload ${rep.name}`);
    target['spec'].replicas = rep.count;
  }
  for (const patch of (k['patches'] ?? []) as { path: string }[]) {
    for (const doc of readManifests(join(dir, patch.path))) {
      const target = out.find((m) => m.kind === doc.kind && m.metadata.name === doc.metadata.name);
      if (!target) throw new Error(`${dir}/${patch.path}: no ${doc.kind} ${doc.metadata.name} to patch`);
      merge(target, doc);
    }
  }
  return out;
}

export function readManifests(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => {
      if (d.errors.length) throw new Error(`${file}: ${d.errors[0]!.message}`);
      return d.toJS() as Manifest | null;
    })
    .filter((d): d is Manifest => d !== null);
}

function splitImage(image: string): [string, string] {
  const at = image.lastIndexOf(':');
  return at > image.lastIndexOf('/') ? [image.slice(0, at), image.slice(at + 1)] : [image, 'latest'];
}

/** Strategic merge: objects deeply, lists of named objects by name, other lists replaced. */
function merge(target: any, patch: any): void {
  for (const [k, v] of Object.entries(patch)) {
    const t = target[k];
    if (Array.isArray(v) && Array.isArray(t) && v.every((x) => x && typeof x === 'object' && 'name' in x)) {
      for (const item of v) {
        const same = t.find((x: any) => x?.name === item.name);
        if (same) merge(same, item);
        else t.push(item);
      }
    } else if (v && typeof v === 'object' && !Array.isArray(v) && t && typeof t === 'object' && !Array.isArray(t)) merge(t, v);
    else target[k] = v;
  }
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

