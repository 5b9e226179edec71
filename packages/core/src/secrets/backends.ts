import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../errors/index.js';
import { checkSecretId, parseConnection, SENSITIVE_NAME, type Connection } from './connection.js';
import type { SecretMasker } from './masker.js';

/** A variable's value, and whether it is secret (masked wherever a task prints it). */
export interface VariableValue {
  value: string;
  secret: boolean;
}

/**
 * Where connections and variables come from. A backend for HashiCorp Vault or a cloud
 * secret manager implements these two reads (docs/secrets.md shows one); `undefined` means
 * "not here", and the next backend is asked. `describe` names where it looked, for the error
 * a task gets when no backend has the name.
 */
export interface SecretsBackend {
  readonly name: string;
  connection(id: string): Promise<Connection | undefined>;
  variable(key: string): Promise<VariableValue | undefined>;
  describe(kind: 'connection' | 'variable', id: string): string;
}

/** `warehouse-db.eu` → `WAREHOUSE_DB_EU`: the part of an environment variable's name an id becomes. */
export function envName(id: string): string {
  return id.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

/** ALOFT_CONN_<ID> (a URI or JSON) and ALOFT_VAR_<KEY>, from the worker's environment, as Airflow's AIRFLOW_CONN_ and AIRFLOW_VAR_. */
export class EnvSecretsBackend implements SecretsBackend {
  readonly name = 'env';
  constructor(private readonly env: Readonly<Record<string, string | undefined>>) {}

  async connection(id: string): Promise<Connection | undefined> {
    const name = `ALOFT_CONN_${envName(id)}`;
    const text = this.env[name];
    return text === undefined ? undefined : parseConnection(id, text, name);
  }

  async variable(key: string): Promise<VariableValue | undefined> {
    const value = this.env[`ALOFT_VAR_${envName(key)}`];
    return value === undefined ? undefined : { value, secret: SENSITIVE_NAME.test(key) };
  }

  describe(kind: 'connection' | 'variable', id: string): string {
    return `env ${kind === 'connection' ? 'ALOFT_CONN_' : 'ALOFT_VAR_'}${envName(id)}`;
  }
}

/**
 * Files under a folder, as a Kubernetes Secret volume or a Vault agent presents them:
 * `<dir>/connections/<id>` holds a URI or JSON, `<dir>/variables/<key>` a value (one
 * trailing newline dropped). Read at each use, so a rotated Secret is seen at once.
 */
export class DirectorySecretsBackend implements SecretsBackend {
  readonly name = 'dir';
  constructor(private readonly dir: string) {}

  async connection(id: string): Promise<Connection | undefined> {
    const file = join(this.dir, 'connections', checkSecretId('connection', id));
    const text = await readIfThere(file);
    return text === undefined ? undefined : parseConnection(id, text, file);
  }

  async variable(key: string): Promise<VariableValue | undefined> {
    const text = await readIfThere(join(this.dir, 'variables', checkSecretId('variable', key)));
    return text === undefined ? undefined : { value: text.replace(/\r?\n$/, ''), secret: SENSITIVE_NAME.test(key) };
  }

  describe(kind: 'connection' | 'variable', id: string): string {
    return `dir ${join(this.dir, kind === 'connection' ? 'connections' : 'variables', id)}`;
  }
}

async function readIfThere(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new Error(`${file}: cannot read (${code ?? (err as Error).message})`);
  }
}

/**
 * Asks the backends in their configured order (ALOFT_SECRETS_BACKENDS); the first that has
 * a name wins. Every secret it hands out is added to `masker`: a connection's password, its
 * extra values under sensitive names, and secret variables.
 */
export class SecretResolver {
  constructor(
    readonly backends: readonly SecretsBackend[],
    readonly masker?: SecretMasker,
  ) {}

  async connection(id: string): Promise<Connection> {
    checkSecretId('connection', id);
    for (const b of this.backends) {
      const c = await b.connection(id);
      if (!c) continue;
      this.masker?.add(c.password);
      for (const [k, v] of Object.entries(c.extra)) if (SENSITIVE_NAME.test(k)) this.masker?.add(typeof v === 'string' ? v : JSON.stringify(v));
      return c;
    }
    throw new NotFoundError('connection', id, `connection "${id}" not found; tried ${this.tried('connection', id)}`);
  }

  /** A variable's value: `fallback` when no backend has it, an error naming the backends tried when there is no fallback either. */
  async variable(key: string, fallback?: string): Promise<string> {
    const v = (await this.findVariable(key)) ?? fallback;
    if (v !== undefined) return v;
    throw new NotFoundError('variable', key, `variable "${key}" not found; tried ${this.tried('variable', key)}`);
  }

  /** A variable's value from the first backend that has it; undefined when none has. */
  async findVariable(key: string): Promise<string | undefined> {
    checkSecretId('variable', key);
    for (const b of this.backends) {
      const v = await b.variable(key);
      if (!v) continue;
      if (v.secret) this.masker?.add(v.value);
      return v.value;
    }
    return undefined;
  }

  private tried(kind: 'connection' | 'variable', id: string): string {
    return this.backends.length === 0 ? 'no backends (ALOFT_SECRETS_BACKENDS is empty)' : this.backends.map((b) => b.describe(kind, id)).join(', ');
  }
}
