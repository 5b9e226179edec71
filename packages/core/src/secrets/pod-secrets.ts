import { DNS1123_SUBDOMAIN } from '../dag-api/validation.js';
import { hasSecretRefs, SECRET_NAME_ACCESS, secretRefs } from './template-refs.js';

/**
 * How a pod reaches connections and variables: by reference to Kubernetes Secrets that the
 * cluster's operator manages, never by value in the pod spec (a pod spec is readable by
 * anyone who may list pods). Connection `<id>` is the Secret `aloft-conn-<name>` with one key
 * per field (uri, host, port, login, password, schema, type); every variable is a key of the
 * one Secret `aloft-variables`. `<name>` is the id lower-cased, `_` and `.` read as `-`.
 */
export const POD_CONN_SECRET_PREFIX = 'aloft-conn-';
export const POD_VARIABLES_SECRET = 'aloft-variables';
/** The fields of a connection that its Secret holds, one key each. */
export const POD_CONN_FIELDS = ['uri', 'host', 'port', 'login', 'password', 'schema', 'type'] as const;
/** The pod's environment variable naming (comma-separated) which of its variables hold secrets, for run-task to mask. */
export const POD_SECRET_ENV = 'ALOFT_SECRET_ENV';
/** The reason a pod task gets when a template would put a secret's value in its spec. */
export const POD_SECRETS_BY_REFERENCE = "pod tasks get connections by Secret reference only: use env: { X: secret.conn('id').password }";

/** A pod env value that is exactly one secret reference, as secret.conn()/secret.variable() write it. */
export type PodSecretRef = { kind: 'conn'; id: string; field: string } | { kind: 'var'; key: string };

/** A Kubernetes secretKeyRef. */
export interface SecretKeyRef {
  name: string;
  key: string;
}

const EXACT_CONN = new RegExp(String.raw`^\{\{\s*conn${SECRET_NAME_ACCESS}\.([A-Za-z_]+)\s*\}\}$`);
const EXACT_VAR = new RegExp(String.raw`^\{\{\s*var${SECRET_NAME_ACCESS}\s*\}\}$`);

/** The reference `value` is, when it is exactly `{{ conn.<id>.<field> }}`, `{{ conn['<id>'].<field> }}` or `{{ var.<key> }}`. */
export function podSecretRef(value: string): PodSecretRef | undefined {
  const c = EXACT_CONN.exec(value);
  if (c) return { kind: 'conn', id: c[1] ?? c[3]!, field: c[4]! };
  const v = EXACT_VAR.exec(value);
  if (v && (v[1] ?? v[3]) !== 'json') return { kind: 'var', key: v[1] ?? v[3]! };
  return undefined;
}

/** `aloft-conn-<name>` for connection `id`, or why there can be no such Secret. */
export function connSecretName(id: string): { name: string } | { problem: string } {
  const name = `${POD_CONN_SECRET_PREFIX}${id.toLowerCase().replace(/[_.]/g, '-')}`;
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    return {
      problem: `connection "${id}" cannot reach a pod: its Secret would be "${name.slice(0, 80)}", not a DNS-1123 name (lower-case letters, digits and "-", ending in a letter or digit)`,
    };
  }
  return { name };
}

/** The Secret and key a reference reads, or why it cannot be one. */
export function secretKeyRefOf(ref: PodSecretRef): SecretKeyRef | { problem: string } {
  if (ref.kind === 'var') return { name: POD_VARIABLES_SECRET, key: ref.key };
  if (!(POD_CONN_FIELDS as readonly string[]).includes(ref.field)) {
    return { problem: `conn.${ref.id}.${ref.field}: a pod reads only the fields ${POD_CONN_FIELDS.join(', ')} of a connection's Secret` };
  }
  const s = connSecretName(ref.id);
  return 'problem' in s ? s : { name: s.name, key: ref.field };
}

/** Whether any of `texts` is a template naming a connection or variable. */
export function namesSecrets(texts: Iterable<string>): boolean {
  return hasSecretRefs(secretRefs(texts));
}

/** A problem with a pod's secret references, by the field it is in (`env.PGPASSWORD`, `cmds`). */
export interface PodSecretProblem {
  field: string;
  message: string;
}

/**
 * A pod's environment with each value that is exactly a secret reference taken out as a
 * secretKeyRef (`refs`), and the problems: a reference that cannot map to a Secret, and any
 * other template, in `env` or in the `templated` fields (cmds, arguments, a command), that
 * names a connection or variable and would so put its value in the pod spec.
 */
export function podEnvSecrets(
  env: Readonly<Record<string, unknown>>,
  templated: Readonly<Record<string, readonly string[] | string | undefined>>,
): { refs: Record<string, { ref: PodSecretRef; secret: SecretKeyRef }>; rest: Record<string, unknown>; problems: PodSecretProblem[] } {
  const refs: Record<string, { ref: PodSecretRef; secret: SecretKeyRef }> = {};
  const rest: Record<string, unknown> = {};
  const problems: PodSecretProblem[] = [];
  for (const [name, v] of Object.entries(env)) {
    if (typeof v !== 'string') {
      rest[name] = v;
      continue;
    }
    const ref = podSecretRef(v);
    if (ref) {
      const k = secretKeyRefOf(ref);
      if ('problem' in k) problems.push({ field: `env.${name}`, message: k.problem });
      else refs[name] = { ref, secret: k };
    } else {
      if (namesSecrets([v])) problems.push({ field: `env.${name}`, message: POD_SECRETS_BY_REFERENCE });
      rest[name] = v;
    }
  }
  for (const [field, v] of Object.entries(templated)) {
    if (v !== undefined && namesSecrets(typeof v === 'string' ? [v] : v)) problems.push({ field, message: POD_SECRETS_BY_REFERENCE });
  }
  return { refs, rest, problems };
}
