import { DagImportError } from '../errors/dag-import-error.js';

/** Collects problems found in one DAG so they are reported together, each with its place. */
export class ValidationIssues {
  readonly #issues: { message: string; line?: number | undefined; field: string }[] = [];
  constructor(readonly file: string | undefined) {}

  add(field: string, message: string, line?: number): void {
    this.#issues.push({ field, message, line });
  }

  get count(): number {
    return this.#issues.length;
  }

  list(): readonly { message: string; line?: number | undefined; field: string }[] {
    return this.#issues;
  }

  throwIfAny(): void {
    const first = this.#issues[0];
    if (!first) return;
    const rest = this.#issues.slice(1).map((i) => `${i.line ? `line ${i.line}: ` : ''}${i.message}`);
    const message = rest.length ? `${first.message}; also: ${rest.join('; ')}` : first.message;
    throw new DagImportError({ message, file: this.file, line: first.line, field: first.field });
  }
}

export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** An object name such as a Secret's (at most 253 characters, checked apart). */
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Kubernetes resource quantity, e.g. `500m`, `1.5`, `256Mi`, `1G`, `1e3`. */
export const K8S_QUANTITY = /^([+-]?[0-9.]+)([eE][+-]?[0-9]+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_KEY_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  if (prefix !== undefined && (prefix.length > 253 || !prefix.split('.').every((p) => DNS1123_LABEL.test(p)))) {
    return `label key prefix "${prefix}" must be a DNS subdomain`;
  }
  if (name.length > 63 || !LABEL_KEY_NAME.test(name)) return `label key "${key}" is not a valid Kubernetes label name`;
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value.length > 63 || !LABEL_VALUE.test(value)) return `label value "${value}" is not a valid Kubernetes label value`;
  return undefined;
}
