import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, dirname, resolve } from 'node:path';
import { loadYaml, type V1Container, type V1EnvVar, type V1Pod } from '@kubernetes/client-node';
import type { PodParams as StoredPodParams } from '@aloft/core';
import { renderParts, type TaskTemplates } from '../../template-renderer.js';

/**
 * A pod task's parameters as this worker launches them: core's PodParams (what
 * validatePodOptions returns and the DAG stores) with the namespace resolved (TaskPods).
 */
export type PodParams = StoredPodParams & { namespace: string };
export type { SecretParam } from '@aloft/core';

export interface PodIdentity {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
}

/** The main container's name, as in Airflow's KubernetesPodOperator. */
export const MAIN_CONTAINER = 'base';
export const MANAGED_BY = 'aloft.dev/managed-by';
export const LABELS = {
  dag: 'aloft.dev/dag',
  task: 'aloft.dev/task',
  run: 'aloft.dev/run',
  mapIndex: 'aloft.dev/map-index',
  try: 'aloft.dev/try',
} as const;

/** A label value: at most 63 of [A-Za-z0-9._-], starting and ending alphanumeric. */
export function labelValue(s: string): string {
  let v = s.replace(/[^A-Za-z0-9._-]/g, '_');
  if (v.length > 63) v = `${v.slice(0, 54)}_${shortHash(s, 8)}`;
  return v.replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '');
}

function shortHash(s: string, n: number): string {
  return createHash('sha256').update(s).digest('hex').slice(0, n);
}

function slug(s: string, max: number): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/, '');
}

/**
 * The pod's name: the same for the same (dag, run, task, map index, try), so a worker that
 * takes a try over finds the pod instead of starting a second one. A DNS-1123 label. A try
 * whose first pod went away unfinished gets a pod of a later `generation` (see pod-launcher.ts).
 */
export function podName(id: PodIdentity, prefix?: string, generation = 1): string {
  const hash = shortHash(`${id.dagId}\n${id.runId}\n${id.taskId}\n${id.mapIndex}`, 10);
  const tail = `-${hash}-${id.tryNumber}${generation > 1 ? `-g${generation}` : ''}`;
  const head = [prefix ? slug(prefix, 20) : '', slug(id.dagId, 20), slug(id.taskId, 20)].filter(Boolean).join('-');
  return `${head.slice(0, 63 - tail.length).replace(/-+$/, '') || 'aloft'}${tail}`;
}

/** Labels that find every pod of a try again; values are sanitized, annotations keep the originals. */
export function identityLabels(id: PodIdentity): Record<string, string> {
  return {
    [MANAGED_BY]: 'aloft',
    [LABELS.dag]: labelValue(id.dagId),
    [LABELS.task]: labelValue(id.taskId),
    [LABELS.run]: labelValue(id.runId),
    // A label value must start with a letter or digit: -1 (not mapped) is written "none".
    [LABELS.mapIndex]: id.mapIndex < 0 ? 'none' : String(id.mapIndex),
    [LABELS.try]: String(id.tryNumber),
  };
}

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, m: 1e-3 };

/** Bytes in a memory quantity ("256Mi", "1G", "1e9", "512"). */
export function quantityBytes(q: string): number {
  const m = /^([0-9.]+(?:e[0-9]+)?)([A-Za-z]*)$/.exec(q.trim());
  if (!m) throw new Error(`not a quantity: ${q}`);
  const unit = m[2] ?? '';
  const scale = unit === '' ? 1 : (BINARY[unit] ?? DECIMAL[unit]);
  if (scale === undefined) throw new Error(`unknown unit in quantity: ${q}`);
  return Number(m[1]) * scale;
}

/** A memory size as a quantity in Mi (rounded up). */
export function bytesQuantity(bytes: number): string {
  return `${Math.ceil(bytes / 2 ** 20)}Mi`;
}

/**
 * Memory for a try after OOMKills: `factor` to the power of the OOMKilled tries before it,
 * capped at `max`. Returns the scaled requests and limits (unchanged when not retrying).
 */
export function scaleMemory(resources: PodParams['resources'], oom: PodParams['oomRetry'], oomKills: number): PodParams['resources'] {
  if (!oom || oomKills <= 0 || !resources) return resources;
  const cap = quantityBytes(oom.max);
  const scale = (q: string | undefined) => (q === undefined ? undefined : bytesQuantity(Math.min(cap, quantityBytes(q) * oom.factor ** oomKills)));
  const out: NonNullable<PodParams['resources']> = { requests: { ...resources.requests }, limits: { ...resources.limits } };
  const req = scale(resources.requests?.['memory']);
  const lim = scale(resources.limits?.['memory']);
  if (req) out.requests!['memory'] = req;
  if (lim) out.limits!['memory'] = lim;
  return out;
}

function baseTemplate(p: PodParams, dagFile: string): V1Pod {
  if (p.podTemplate) return structuredClone(p.podTemplate);
  if (p.podTemplateFile) {
    const path = isAbsolute(p.podTemplateFile) ? p.podTemplateFile : resolve(dirname(dagFile), p.podTemplateFile);
    const doc = loadYaml(readFileSync(path, 'utf8')) as V1Pod | null;
    if (!doc || typeof doc !== 'object') throw new Error(`pod template ${path} is not a YAML object`);
    return doc;
  }
  return {};
}

/**
 * The task's parameters with their templates rendered: `cmds`, `arguments` and the string
 * values of `env` (names of Secrets and ConfigMaps are not templates), in one trip.
 */
export async function renderPodTemplates(p: PodParams, templates: TaskTemplates, where: string): Promise<PodParams> {
  const env = Object.fromEntries(Object.entries(p.env ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const r = await renderParts(templates, where, { ...(p.cmds ? { cmds: p.cmds } : {}), ...(p.arguments ? { arguments: p.arguments } : {}), env });
  return { ...p, ...(r.cmds ? { cmds: r.cmds } : {}), ...(r.arguments ? { arguments: r.arguments } : {}), ...(p.env ? { env: { ...p.env, ...r.env } } : {}) };
}

function envVars(p: PodParams, extra: Record<string, string>): V1EnvVar[] {
  const out: V1EnvVar[] = Object.entries(extra).map(([name, value]) => ({ name, value }));
  for (const [name, v] of Object.entries(p.env ?? {})) {
    if (typeof v === 'string') out.push({ name, value: v });
    else if (v.secretKeyRef) out.push({ name, valueFrom: { secretKeyRef: { name: v.secretKeyRef.name, key: v.secretKeyRef.key } } });
    else if (v.configMapKeyRef) out.push({ name, valueFrom: { configMapKeyRef: { name: v.configMapKeyRef.name, key: v.configMapKeyRef.key } } });
  }
  for (const s of p.secrets ?? []) {
    if (s.type === 'env') out.push({ name: s.envName, valueFrom: { secretKeyRef: { name: s.secret, key: s.key } } });
  }
  return out;
}

export interface BuildInput {
  params: PodParams;
  id: PodIdentity;
  dagFile: string;
  /** Variables every task gets (ALOFT_DAG_ID, …). */
  taskEnv: Record<string, string>;
  /** OOMKilled tries before this one, for oomRetry. */
  oomKills: number;
}

/**
 * The pod for one try: the base template, with the task's parameters merged onto it. The
 * parameters come with their templates rendered (renderPodTemplates).
 */
export function buildPod(input: BuildInput): V1Pod {
  const { params: p, id } = input;
  const pod = baseTemplate(p, input.dagFile);
  pod.apiVersion = 'v1';
  pod.kind = 'Pod';
  const name = podName(id, p.namePrefix);
  pod.metadata = {
    ...pod.metadata,
    name,
    namespace: p.namespace,
    labels: { ...pod.metadata?.labels, ...p.labels, ...identityLabels(id) },
    annotations: {
      ...pod.metadata?.annotations,
      ...p.annotations,
      'aloft.dev/dag-id': id.dagId,
      'aloft.dev/run-id': id.runId,
      'aloft.dev/task-id': id.taskId,
      'aloft.dev/map-index': String(id.mapIndex),
      'aloft.dev/on-finish': p.onFinish,
    },
  };
  delete pod.metadata.generateName;
  const spec = { ...pod.spec, containers: [...(pod.spec?.containers ?? [])] };
  let i = spec.containers.findIndex((c) => c.name === MAIN_CONTAINER);
  if (i < 0) i = spec.containers.length ? 0 : spec.containers.push({ name: MAIN_CONTAINER }) - 1;
  const base: V1Container = { ...spec.containers[i]!, name: MAIN_CONTAINER, image: p.image };
  if (p.cmds) base.command = p.cmds;
  if (p.arguments) base.args = p.arguments;
  base.env = [...(base.env ?? []).filter((e) => !(p.env && e.name in p.env)), ...envVars(p, input.taskEnv)];
  const envFrom = [...(base.envFrom ?? []), ...(p.envFrom ?? [])];
  for (const s of p.secrets ?? []) if (s.type === 'envFrom') envFrom.push({ secretRef: { name: s.secret } });
  if (envFrom.length) base.envFrom = envFrom;
  const resources = scaleMemory(p.resources, p.oomRetry, input.oomKills);
  if (resources) base.resources = { ...base.resources, ...resources };
  if (p.imagePullPolicy) base.imagePullPolicy = p.imagePullPolicy;
  if (p.containerSecurityContext) base.securityContext = p.containerSecurityContext;
  const mounts = [...(base.volumeMounts ?? []), ...(p.volumeMounts ?? [])];
  const volumes = [...(spec.volumes ?? []), ...(p.volumes ?? [])];
  for (const [k, s] of (p.secrets ?? []).entries()) {
    if (s.type !== 'volume') continue;
    const vol = `secret-${k}-${slug(s.secret, 40)}`;
    volumes.push({ name: vol, secret: { secretName: s.secret, ...(s.items ? { items: s.items } : {}) } });
    mounts.push({ name: vol, mountPath: s.mountPath, readOnly: true });
  }
  if (mounts.length) base.volumeMounts = mounts;
  if (volumes.length) spec.volumes = volumes;
  base.terminationMessagePath ??= '/dev/termination-log';
  base.terminationMessagePolicy ??= 'File';
  spec.containers[i] = base;
  if (p.sidecars) spec.containers.push(...p.sidecars);
  if (p.initContainers) spec.initContainers = [...(spec.initContainers ?? []), ...p.initContainers];
  spec.restartPolicy = 'Never';
  if (p.nodeSelector) spec.nodeSelector = { ...spec.nodeSelector, ...p.nodeSelector };
  if (p.affinity) spec.affinity = p.affinity;
  if (p.tolerations) spec.tolerations = [...(spec.tolerations ?? []), ...(p.tolerations as NonNullable<typeof spec.tolerations>)];
  if (p.serviceAccountName) spec.serviceAccountName = p.serviceAccountName;
  if (p.imagePullSecrets) spec.imagePullSecrets = p.imagePullSecrets.map((n) => ({ name: n }));
  if (p.securityContext) spec.securityContext = p.securityContext;
  if (p.hostNetwork !== undefined) spec.hostNetwork = p.hostNetwork;
  if (p.dnsPolicy) spec.dnsPolicy = p.dnsPolicy;
  if (p.priorityClassName) spec.priorityClassName = p.priorityClassName;
  if (p.activeDeadlineMs !== undefined) spec.activeDeadlineSeconds = Math.max(1, Math.ceil(p.activeDeadlineMs / 1000));
  if (p.terminationGracePeriodMs !== undefined) spec.terminationGracePeriodSeconds = Math.ceil(p.terminationGracePeriodMs / 1000);
  pod.spec = spec;
  delete pod.status;
  return pod;
}
