import { podEnvSecrets, podSecretEnv, POD_SECRET_ENV, type RunInPod, type SecretKeyRef } from '@aloft/core';
import type { PodParams } from './pod-spec.js';

/** A pod env value that reads a Secret's key. */
type EnvRef = { secretKeyRef: SecretKeyRef };

const asRefs = (refs: Record<string, SecretKeyRef>): Record<string, EnvRef> => Object.fromEntries(Object.entries(refs).map(([k, r]) => [k, { secretKeyRef: { name: r.name, key: r.key } }]));

/**
 * A pod task's parameters with every env value that is exactly a secret reference
 * (`secret.conn('warehouse').password` → `{{ conn.warehouse.password }}`) turned into a
 * secretKeyRef to the Secret that holds it (aloft-conn-warehouse, key password), before
 * anything is rendered: a connection's value never enters the pod spec. Any other template
 * of the pod that names a connection or variable is refused, in words naming the field.
 */
export function podSecretParams<P extends Pick<PodParams, 'env' | 'cmds' | 'arguments'>>(p: P, task: string): { params: P } | { refused: string } {
  if (!p.env && !p.cmds && !p.arguments) return { params: p };
  const { refs, rest, problems } = podEnvSecrets(p.env ?? {}, { cmds: p.cmds, arguments: p.arguments });
  if (problems.length > 0) return { refused: problems.map((x) => `${task}: ${x.field}: ${x.message}`).join('; ') };
  if (Object.keys(refs).length === 0) return { params: p };
  return { params: { ...p, env: { ...(rest as NonNullable<PodParams['env']>), ...asRefs(refs) } } };
}

/**
 * The env a runInPod task's pod gets by Secret reference: the command's own env values that
 * are secret references (`refs`), ALOFT_CONN_<ID> and ALOFT_VAR_<KEY> for the connections and
 * variables runInPod names, and ALOFT_SECRET_ENV naming them all (names only), so run-task
 * masks their values in what the pod prints. Empty when there are none.
 */
export function runInPodSecretEnv(o: Pick<RunInPod, 'connections' | 'variables'>, refs: Record<string, SecretKeyRef>, task: string): Record<string, string | EnvRef> {
  const own = podSecretEnv(o.connections ?? [], o.variables ?? []);
  // Checked at import; a DAG stored before that check still fails here, by name.
  if (own.problems.length > 0) throw new Error(`${task}: ${own.problems.join('; ')}`);
  const all = { ...own.env, ...refs };
  if (Object.keys(all).length === 0) return {};
  return { ...asRefs(all), [POD_SECRET_ENV]: Object.keys(all).join(',') };
}
