import { envName, podEnvSecrets, POD_SECRET_ENV, secret, type PodSecretRef, type RunInPod } from '@aloft/core';
import type { PodParams } from './pod-spec.js';

/** A pod's env with its secret references mapped, and what each mapped variable refers to. */
export interface PodSecretMapping<P> {
  params: P;
  /** Env name → the connection field or variable it reads; empty when the pod reads none. */
  refs: Record<string, PodSecretRef>;
}

/**
 * A pod task's parameters with every env value that is exactly a secret reference
 * (`secret.conn('warehouse').password` → `{{ conn.warehouse.password }}`) turned into a
 * secretKeyRef to the Secret that holds it (aloft-conn-warehouse, key password), before
 * anything is rendered: a connection's value never enters the pod spec. ALOFT_SECRET_ENV
 * names those variables (names only), so run-task in the pod masks their values. Any other
 * template of the pod that names a connection or variable is refused, in words naming the field.
 */
export function podSecretParams<P extends Pick<PodParams, 'env' | 'cmds' | 'arguments'>>(p: P, task: string): PodSecretMapping<P> | { refused: string } {
  if (!p.env && !p.cmds && !p.arguments) return { params: p, refs: {} };
  const { refs, rest, problems } = podEnvSecrets(p.env ?? {}, { cmds: p.cmds, arguments: p.arguments });
  if (problems.length > 0) return { refused: problems.map((x) => `${task}: ${x.field}: ${x.message}`).join('; ') };
  const names = Object.keys(refs);
  if (names.length === 0) return { params: p, refs: {} };
  const env: NonNullable<PodParams['env']> = { ...(rest as NonNullable<PodParams['env']>), [POD_SECRET_ENV]: names.join(',') };
  for (const [name, r] of Object.entries(refs)) env[name] = { secretKeyRef: { name: r.secret.name, key: r.secret.key } };
  return { params: { ...p, env }, refs: Object.fromEntries(Object.entries(refs).map(([k, r]) => [k, r.ref])) };
}

/**
 * The env a runInPod task's pod reads from Secrets, as the references podSecretParams maps:
 * ALOFT_CONN_<ID> (a connection's `uri`) and ALOFT_VAR_<KEY> for the connections and
 * variables runInPod names, so ctx.conn and ctx.variable work in the pod.
 */
export function runInPodSecretEnv(o: Pick<RunInPod, 'connections' | 'variables'>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const id of o.connections ?? []) env[`ALOFT_CONN_${envName(id)}`] = secret.conn(id).uri;
  for (const key of o.variables ?? []) env[`ALOFT_VAR_${envName(key)}`] = secret.variable(key);
  return env;
}
