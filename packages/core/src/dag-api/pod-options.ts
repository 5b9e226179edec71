import { parseDuration } from './durations.js';
import { DNS1123_LABEL, K8S_QUANTITY, labelKeyProblem, labelValueProblem, type ValidationIssues } from './validation.js';

const KNOWN = new Set([
  'id', 'upstream', 'triggerRule', 'owner', 'retries', 'retryDelay', 'retryExponentialBackoff', 'maxRetryDelay',
  'executionTimeout', 'queue', 'priority', 'dependsOnPast',
  'image', 'namespace', 'cmds', 'arguments', 'env', 'envFrom', 'labels', 'annotations', 'namePrefix', 'resources',
  'secrets', 'volumes', 'volumeMounts', 'nodeSelector', 'affinity', 'tolerations', 'serviceAccountName',
  'imagePullPolicy', 'imagePullSecrets', 'securityContext', 'containerSecurityContext', 'initContainers', 'sidecars',
  'hostNetwork', 'dnsPolicy', 'priorityClassName', 'podTemplate', 'podTemplateFile', 'startupTimeout',
  'activeDeadline', 'terminationGracePeriod', 'onFinish', 'getLogs', 'skipExitCodes', 'cluster', 'oomRetry',
]);
const TASK_ARGS = new Set(['id', 'upstream', 'triggerRule', 'owner', 'retries', 'retryDelay', 'retryExponentialBackoff', 'maxRetryDelay', 'executionTimeout', 'queue', 'priority', 'dependsOnPast']);

/**
 * Validates a kubernetesPod task's parameters at import and returns them normalized
 * (durations in ms, defaults filled). Only references to secrets are stored, never values.
 */
export function validatePodOptions(o: Record<string, unknown>, at: string, issues: ValidationIssues, line?: number): Record<string, unknown> {
  const bad = (field: string, problem: string) => issues.add(field, `${at}: ${field} ${problem}`, line);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (!KNOWN.has(k)) bad(k, 'is not a kubernetesPod parameter');
    else if (!TASK_ARGS.has(k) && v !== undefined) out[k] = v;
  }
  if (typeof o['image'] !== 'string' || o['image'].trim() === '' || /\s/.test(o['image'])) bad('image', 'must be a container image reference such as "busybox:1.36"');
  const namespace = o['namespace'] ?? 'default';
  if (typeof namespace !== 'string' || namespace.length > 63 || !DNS1123_LABEL.test(namespace)) bad('namespace', `must be a DNS-1123 label (got ${JSON.stringify(namespace)})`);
  out['namespace'] = namespace;
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
  if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length > 40 || !DNS1123_LABEL.test(prefix))) bad('namePrefix', 'must be a DNS-1123 label of at most 40 characters');
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
        if (typeof q !== 'string' || !K8S_QUANTITY.test(q)) bad(`resources.${kind}.${k}`, `must be a Kubernetes quantity such as "500m" or "256Mi" (got ${JSON.stringify(q)})`);
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
  if (dns !== undefined && !['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'].includes(dns as string)) bad('dnsPolicy', 'must be ClusterFirst, ClusterFirstWithHostNet, Default or None');
  const onFinish = o['onFinish'] ?? 'delete';
  if (!['delete', 'deleteOnSuccess', 'keep'].includes(onFinish as string)) bad('onFinish', 'must be delete, deleteOnSuccess or keep');
  out['onFinish'] = onFinish;
  out['getLogs'] = o['getLogs'] ?? true;
  const skip = o['skipExitCodes'];
  if (skip !== undefined && (!Array.isArray(skip) || !skip.every((c) => Number.isInteger(c) && c >= 0 && c <= 255))) bad('skipExitCodes', 'must be a list of exit codes 0..255');
  for (const f of ['initContainers', 'sidecars'] as const) {
    const v = o[f];
    if (v === undefined) continue;
    if (!Array.isArray(v)) bad(f, 'must be a list of containers');
    else v.forEach((c: { name?: unknown; image?: unknown }, i) => {
      if (typeof c?.name !== 'string' || !DNS1123_LABEL.test(c.name)) bad(`${f}[${i}].name`, 'must be a DNS-1123 label');
      if (typeof c?.image !== 'string' || c.image === '') bad(`${f}[${i}].image`, 'is required');
    });
  }
  return out;
}
