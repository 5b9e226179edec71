import { hasSecretRefs, SecretMasker, SecretResolver, secretRefs, type SecretsBackend, type TemplateSecrets } from '@aloft/core';
import type { ExecResult } from './executors/types.js';

/** What a function asks its worker for over the fn host's channel: a connection, or a variable (undefined when `optional` and absent). */
export type SecretLookup = (kind: 'conn' | 'var', name: string, optional: boolean) => Promise<unknown>;

/**
 * One try's connections and variables: read from the worker's secrets backends when the task
 * asks (ctx.conn, ctx.variable, a template naming conn.* or var.*), never stored with the
 * task instance, and each secret handed out masked from then on in what the try leaves
 * behind: its log lines (TaskLog), its output and its failure's reason (mask).
 */
export class TrySecrets {
  readonly masker = new SecretMasker();
  readonly #resolver: SecretResolver;

  constructor(backends: readonly SecretsBackend[]) {
    this.#resolver = new SecretResolver(backends, this.masker);
  }

  readonly lookup: SecretLookup = async (kind, name, optional) => {
    if (kind === 'conn') return this.#resolver.connection(name);
    return optional ? this.#resolver.findVariable(name) : this.#resolver.variable(name);
  };

  /** The connections and variables `texts` name in their templates, read; undefined when they name none. */
  async forTemplates(texts: readonly string[]): Promise<TemplateSecrets | undefined> {
    const refs = secretRefs(texts);
    if (!hasSecretRefs(refs)) return undefined;
    const out: TemplateSecrets = { conn: {}, var: {}, json: {} };
    for (const id of refs.conns) out.conn[id] = await this.#resolver.connection(id);
    for (const key of refs.vars) out.var[key] = await this.#resolver.variable(key);
    for (const key of refs.jsonVars) {
      const text = await this.#resolver.variable(key);
      try {
        out.json[key] = JSON.parse(text);
      } catch {
        throw new Error(`variable "${key}" is not JSON (read as var.json.${key})`);
      }
    }
    return out;
  }

  /** The result with every secret handed out masked in its reason and output. */
  mask(r: ExecResult): ExecResult {
    if (this.masker.size === 0) return r;
    const out = { ...r };
    if (r.reason !== undefined) out.reason = this.masker.mask(r.reason);
    if (r.outputJson !== undefined && this.masker.mask(r.outputJson) !== r.outputJson) {
      // Masked value by value, so the output stays valid JSON whatever the secret looks like.
      out.outputJson = JSON.stringify(this.masker.maskDeep(JSON.parse(r.outputJson) as unknown));
    }
    return out;
  }
}
