import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { PodParams } from '../model/pod-params.js';
import { podEnvSecrets } from '../secrets/pod-secrets.js';
import { parseDuration } from './durations.js';
import { POD_FIELDS } from './option-fields.js';
import { DNS1123_LABEL, DNS1123_SUBDOMAIN, K8S_QUANTITY, labelKeyProblem, labelValueProblem, type ValidationIssues } from './validation.js';

/**
 * Validates a kubernetesPod task's parameters at import and returns them normalized
 * (durations in ms, defaults filled). Only references to secrets are stored, never values.
 * What it returns is a PodParams once `issues` is empty; with issues the task is not stored.
 */
export function validatePodOptions(o: Record<string, unknown>, at: string, issues: ValidationIssues, line?: number, file?: string): PodParams {
  const bad = (field: string, problem: string) => issues.add(field, `${at}: ${field} ${problem}`, line);
  const out: Record<string, unknown> = {};
  // Keys that are neither pod parameters nor task options are reported by the DAG (option-fields.ts).
  for (const [k, v] of Object.entries(o)) if (Object.hasOwn(POD_FIELDS, k) && v !== undefined) out[k] = v;
  if (typeof o['image'] !== 'string' || o['image'].trim() === '' || /\s/.test(o['image']))
    bad('image', 'must be a container image reference such as "busybox:1.36"');
  // Unset, it stays unset: the worker that runs the pod puts it in ALOFT_TASK_POD_NAMESPACE,
  // the namespace its operator granted it.
  const namespace = o['namespace'];
  if (namespace !== undefined && (typeof namespace !== 'string' || namespace.length > 63 || !DNS1123_LABEL.test(namespace))) {
    bad('namespace', `must be a DNS-1123 label (got ${JSON.stringify(namespace)})`);
  }
  for (const f of ['cmds', 'arguments', 'imagePullSecrets'] as const) {
    const v = o[f];
    if (v !== undefined && (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))) bad(f, 'must be a list of strings');
  }
  const env = o['env'];
  if (env !== undefined) {
    if (typeof env !== 'object' || env === null || Array.isArray(env)) bad('env', 'must be an object of NAME: value');
    else {
      for (const [k, v] of Object.entries(env as Record<string, unknown>)) {
        const ref = v as { secretKeyRef?: { name?: unknown; key?: unknown }; configMapKeyRef?: { name?: unknown; key?: unknown } } | null;
        const okRef = (r: { name?: unknown; key?: unknown } | undefined) => !!r && typeof r.name === 'string' && typeof r.key === 'string';
        if (typeof v !== 'string' && !(ref && (okRef(ref.secretKeyRef) || okRef(ref.configMapKeyRef)))) {
          bad(`env.${k}`, 'must be a string or { secretKeyRef: { name, key } } / { configMapKeyRef: { name, key } }');
        }
      }
    }
  }
  for (const f of ['labels', 'annotations'] as const) {
    const v = o[f];
    if (v === undefined) continue;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      bad(f, 'must be an object of strings');
      continue;
    }
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
      const p = labelKeyProblem(k) ?? (typeof val !== 'string' ? 'value must be a string' : f === 'labels' ? labelValueProblem(val) : undefined);
      if (p) bad(`${f}.${k}`, p);
    }
  }
  const prefix = o['namePrefix'];
  if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length > 40 || !DNS1123_LABEL.test(prefix)))
    bad('namePrefix', 'must be a DNS-1123 label of at most 40 characters');
  const res = o['resources'] as Record<string, unknown> | undefined;
  if (res !== undefined) {
    for (const kind of ['requests', 'limits']) {
      const m = res[kind];
      if (m === undefined) continue;
      if (typeof m !== 'object' || m === null) {
        bad(`resources.${kind}`, 'must be an object');
        continue;
      }
      for (const [k, q] of Object.entries(m as Record<string, unknown>)) {
        if (typeof q !== 'string' || !K8S_QUANTITY.test(q))
          bad(`resources.${kind}.${k}`, `must be a Kubernetes quantity such as "500m" or "256Mi" (got ${JSON.stringify(q)})`);
      }
    }
  }
  for (const f of ['startupTimeout', 'activeDeadline', 'terminationGracePeriod'] as const) {
    const v = o[f];
    if (v === undefined) continue;
    const msv = parseDuration(v as string | number);
    if (typeof msv === 'string') bad(f, msv);
    else out[`${f}Ms`] = msv;
    delete out[f];
  }
  const policy = o['imagePullPolicy'];
  if (policy !== undefined && !['Always', 'IfNotPresent', 'Never'].includes(policy as string)) bad('imagePullPolicy', 'must be Always, IfNotPresent or Never');
  const dns = o['dnsPolicy'];
  if (dns !== undefined && !['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'].includes(dns as string))
    bad('dnsPolicy', 'must be ClusterFirst, ClusterFirstWithHostNet, Default or None');
  const onFinish = o['onFinish'] ?? 'delete';
  if (!['delete', 'deleteOnSuccess', 'keep'].includes(onFinish as string)) bad('onFinish', 'must be delete, deleteOnSuccess or keep');
  out['onFinish'] = onFinish;
  out['getLogs'] = o['getLogs'] ?? true;
  const skip = o['skipExitCodes'];
  if (skip !== undefined && (!Array.isArray(skip) || !skip.every((c) => Number.isInteger(c) && c >= 0 && c <= 255)))
    bad('skipExitCodes', 'must be a list of exit codes 0..255');
  for (const f of ['initContainers', 'sidecars'] as const) {
    const v = o[f];
    if (v === undefined) continue;
    if (!Array.isArray(v)) bad(f, 'must be a list of containers');
    else
      v.forEach((c: { name?: unknown; image?: unknown }, i) => {
        if (typeof c?.name !== 'string' || !DNS1123_LABEL.test(c.name)) bad(`${f}[${i}].name`, 'must be a DNS-1123 label');
        if (typeof c?.image !== 'string' || c.image === '') bad(`${f}[${i}].image`, 'is required');
      });
  }
  validateMore(o, bad, file);
  podSecretsProblems(isObj(env) ? env : {}, { cmds: o['cmds'] as string[] | undefined, arguments: o['arguments'] as string[] | undefined }, at, issues, line);
  // The one place the checked fields become typed: each was checked above or in validateMore.
  return out as PodParams;
}

/**
 * A pod's connections and variables go by Secret reference only: each env value that is
 * exactly `secret.conn(id).<field>` or `secret.variable(key)` must map to a Secret, and no
 * other template of the pod (env, cmds, arguments, a runInPod command) may name one.
 */
export function podSecretsProblems(
  env: Record<string, unknown>,
  templated: Record<string, readonly string[] | string | undefined>,
  at: string,
  issues: ValidationIssues,
  line?: number,
): void {
  const ok = (v: unknown) => v === undefined || typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
  const checked = Object.fromEntries(Object.entries(templated).filter(([, v]) => ok(v)));
  for (const p of podEnvSecrets(env, checked).problems) issues.add(p.field, `${at}: ${p.field}: ${p.message}`, line);
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isName = (v: unknown): v is string => typeof v === 'string' && v.length <= 253 && DNS1123_SUBDOMAIN.test(v);

/** Secrets, volumes, scheduling, cluster and retry-sizing parameters. */
function validateMore(o: Record<string, unknown>, bad: (field: string, problem: string) => void, file: string | undefined): void {
  const env = o['env'];
  if (isObj(env)) for (const k of Object.keys(env)) if (!ENV_NAME.test(k)) bad(`env.${k}`, 'is not a valid environment variable name');
  const secrets = o['secrets'];
  if (secrets !== undefined) {
    if (!Array.isArray(secrets)) bad('secrets', 'must be a list');
    else {
      secrets.forEach((s: Record<string, unknown>, i) => {
        const f = `secrets[${i}]`;
        if (!isObj(s)) return bad(f, 'must be an object');
        if (!isName(s['secret'])) bad(`${f}.secret`, `must be a Secret name (DNS-1123 subdomain), got ${JSON.stringify(s['secret'])}`);
        if (s['type'] === 'env') {
          if (typeof s['key'] !== 'string' || s['key'] === '') bad(`${f}.key`, 'is required for type env');
          if (typeof s['envName'] !== 'string' || !ENV_NAME.test(s['envName'])) bad(`${f}.envName`, 'must be a valid environment variable name');
        } else if (s['type'] === 'volume') {
          if (typeof s['mountPath'] !== 'string' || !s['mountPath'].startsWith('/')) bad(`${f}.mountPath`, 'must be an absolute path');
        } else if (s['type'] !== 'envFrom') bad(`${f}.type`, 'must be env, envFrom or volume');
      });
    }
  }
  const envFrom = o['envFrom'];
  if (envFrom !== undefined && (!Array.isArray(envFrom) || !envFrom.every((e) => isObj(e) && (isObj(e['secretRef']) || isObj(e['configMapRef']))))) {
    bad('envFrom', 'must be a list of { secretRef: { name } } or { configMapRef: { name } }');
  }
  const volumes = o['volumes'];
  const names = new Set<string>();
  if (volumes !== undefined) {
    if (!Array.isArray(volumes)) bad('volumes', 'must be a list of volumes');
    else
      volumes.forEach((v: Record<string, unknown>, i) => {
        if (!isObj(v) || typeof v['name'] !== 'string' || !DNS1123_LABEL.test(v['name'])) bad(`volumes[${i}].name`, 'must be a DNS-1123 label');
        else names.add(v['name']);
      });
  }
  const mounts = o['volumeMounts'];
  if (mounts !== undefined) {
    if (!Array.isArray(mounts)) bad('volumeMounts', 'must be a list');
    else
      mounts.forEach((m: Record<string, unknown>, i) => {
        if (!isObj(m) || typeof m['mountPath'] !== 'string' || !m['mountPath'].startsWith('/')) bad(`volumeMounts[${i}].mountPath`, 'must be an absolute path');
        if (!isObj(m) || typeof m['name'] !== 'string' || !names.has(m['name']))
          bad(`volumeMounts[${i}].name`, `must name one of the task's volumes (${[...names].join(', ') || 'none declared'})`);
      });
  }
  const sel = o['nodeSelector'];
  if (sel !== undefined && (!isObj(sel) || !Object.values(sel).every((v) => typeof v === 'string'))) bad('nodeSelector', 'must be an object of strings');
  if (o['affinity'] !== undefined && !isObj(o['affinity'])) bad('affinity', 'must be an object');
  const tol = o['tolerations'];
  if (tol !== undefined) {
    if (!Array.isArray(tol)) bad('tolerations', 'must be a list');
    else
      tol.forEach((t: Record<string, unknown>, i) => {
        if (!isObj(t)) return bad(`tolerations[${i}]`, 'must be an object');
        if (t['operator'] !== undefined && !['Exists', 'Equal'].includes(t['operator'] as string)) bad(`tolerations[${i}].operator`, 'must be Exists or Equal');
        if (t['effect'] !== undefined && !['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(t['effect'] as string))
          bad(`tolerations[${i}].effect`, 'must be NoSchedule, PreferNoSchedule or NoExecute');
      });
  }
  for (const f of ['serviceAccountName', 'priorityClassName'] as const) if (o[f] !== undefined && !isName(o[f])) bad(f, 'must be a DNS-1123 subdomain');
  for (const f of ['securityContext', 'containerSecurityContext', 'podTemplate'] as const) if (o[f] !== undefined && !isObj(o[f])) bad(f, 'must be an object');
  for (const f of ['hostNetwork', 'getLogs', 'materializeSecrets'] as const)
    if (o[f] !== undefined && typeof o[f] !== 'boolean') bad(f, 'must be true or false');
  const tpl = o['podTemplateFile'];
  if (tpl !== undefined) {
    if (typeof tpl !== 'string') bad('podTemplateFile', 'must be a path');
    else if (file && !existsSync(isAbsolute(tpl) ? tpl : resolve(dirname(file), tpl))) bad('podTemplateFile', `does not exist: ${tpl}`);
  }
  const cluster = o['cluster'];
  if (cluster !== undefined) {
    if (!isObj(cluster)) bad('cluster', 'must be { kubeconfig, context } or { inCluster: true }');
    else if (cluster['inCluster'] !== undefined && cluster['inCluster'] !== true) bad('cluster.inCluster', 'must be true when given');
    else for (const k of ['kubeconfig', 'context']) if (cluster[k] !== undefined && typeof cluster[k] !== 'string') bad(`cluster.${k}`, 'must be a string');
  }
  const oom = o['oomRetry'];
  if (oom !== undefined) {
    if (!isObj(oom)) bad('oomRetry', 'must be { factor, max }');
    else {
      if (typeof oom['factor'] !== 'number' || !(oom['factor'] > 1) || oom['factor'] > 16) bad('oomRetry.factor', 'must be a number above 1 (at most 16)');
      if (typeof oom['max'] !== 'string' || !K8S_QUANTITY.test(oom['max'])) bad('oomRetry.max', 'must be a memory quantity such as "8Gi"');
      const mem = o['resources'] as { limits?: { memory?: unknown }; requests?: { memory?: unknown } } | undefined;
      if (!mem?.limits?.memory && !mem?.requests?.memory) bad('oomRetry', 'needs resources.requests.memory or resources.limits.memory to scale');
    }
  }
}
