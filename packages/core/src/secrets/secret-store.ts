import type { Redis } from 'ioredis';
import { InvalidInputError, NotFoundError } from '../errors/index.js';
import type { Keys } from '../store/keys.js';
import { loadScript } from '../store/script-loader.js';
import type { SecretsBackend, VariableValue } from './backends.js';
import { SecretCipher } from './cipher.js';
import { checkSecretId, SENSITIVE_NAME, withUri, type Connection, type ConnectionFields } from './connection.js';

/** What anyone allowed to see a connection's name and shape sees: never its password or extra values. */
export interface ConnectionSummary {
  id: string;
  type: string;
  host?: string;
  port?: number;
  login?: string;
  schema?: string;
  description?: string;
  hasPassword: boolean;
  extraKeys: string[];
  updatedAt: number;
  updatedBy: string;
}

export interface VariableSummary {
  key: string;
  secret: boolean;
  description?: string;
  updatedAt: number;
  updatedBy: string;
}

/** One audit entry: who did what to which name; never a value. */
export interface AuditEntry {
  at: number;
  actor: string;
  action: 'created' | 'updated' | 'deleted';
  kind: 'connection' | 'variable';
  id: string;
}

interface StoredConnection {
  type: string;
  host?: string;
  port?: number;
  login?: string;
  schema?: string;
  description?: string;
  /** Sealed JSON { password?, extra } when a key is set; else `extra` in clear and no password. */
  sealed?: string;
  extra?: Record<string, unknown>;
  hasPassword: boolean;
  extraKeys: string[];
  updatedAt: number;
  updatedBy: string;
}

interface StoredVariable {
  value?: string;
  sealed?: string;
  secret: boolean;
  description?: string;
  updatedAt: number;
  updatedBy: string;
}

const AUDIT_KEPT = 100_000;

/**
 * Aloft's own store of connections and variables, in Redis, managed through the API and the
 * CLI. With a keyring (ALOFT_SECRETS_KEYS) every password, connection extra and variable
 * value is sealed (SecretCipher); without one it refuses anything secret (a password, an
 * extra value under a sensitive name, a secret variable) rather than write it in clear.
 * Every change appends an audit entry naming who made it.
 */
export class SecretStore implements SecretsBackend {
  readonly name = 'store';

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly cipher: SecretCipher | undefined,
  ) {}

  describe(kind: 'connection' | 'variable', id: string): string {
    return `store ${kind === 'connection' ? 'connections' : 'variables'}/${id}`;
  }

  async setConnection(id: string, f: ConnectionFields & { description?: string }, actor: string): Promise<ConnectionSummary> {
    checkSecretId('connection', id);
    if (!/^[a-z][a-z0-9_+.]*$/i.test(f.type)) throw new InvalidInputError(`connection "${id}": type must be a word such as postgres or http`, 'type');
    const secretExtra = Object.keys(f.extra).filter((k) => SENSITIVE_NAME.test(k));
    if (!this.cipher && (f.password !== undefined || secretExtra.length > 0)) {
      const what = f.password !== undefined ? 'a password' : `extra ${secretExtra.map((k) => `"${k}"`).join(', ')}`;
      throw new InvalidInputError(
        `connection "${id}" has ${what}, and Aloft's store keeps secrets only sealed: set ALOFT_SECRETS_KEYS (see docs/secrets.md), or provide it through the env or dir backend`,
        f.password !== undefined ? 'password' : 'extra',
      );
    }
    const rec: StoredConnection = {
      type: f.type.replaceAll('-', '_'),
      ...(f.host !== undefined ? { host: f.host } : {}),
      ...(f.port !== undefined ? { port: f.port } : {}),
      ...(f.login !== undefined ? { login: f.login } : {}),
      ...(f.schema !== undefined ? { schema: f.schema } : {}),
      ...(f.description !== undefined ? { description: f.description } : {}),
      hasPassword: f.password !== undefined,
      extraKeys: Object.keys(f.extra),
      updatedAt: Date.now(),
      updatedBy: actor,
    };
    if (this.cipher) rec.sealed = this.cipher.seal(JSON.stringify({ password: f.password, extra: f.extra }), this.#aad('connection', id));
    else rec.extra = f.extra;
    const created = await this.redis.hset(this.keys.connections, id, JSON.stringify(rec));
    await this.#audit(created === 1 ? 'created' : 'updated', 'connection', id, actor);
    return summary(id, rec);
  }

  async setVariable(key: string, value: string, o: { secret?: boolean; description?: string }, actor: string): Promise<VariableSummary> {
    checkSecretId('variable', key);
    const secret = o.secret ?? SENSITIVE_NAME.test(key);
    if (secret && !this.cipher) {
      throw new InvalidInputError(
        `variable "${key}" is secret${o.secret ? '' : ' (its name says so)'}, and Aloft's store keeps secrets only sealed: set ALOFT_SECRETS_KEYS (see docs/secrets.md), or provide it through the env or dir backend`,
        o.secret ? 'secret' : 'key',
      );
    }
    const rec: StoredVariable = { secret, ...(o.description !== undefined ? { description: o.description } : {}), updatedAt: Date.now(), updatedBy: actor };
    if (this.cipher) rec.sealed = this.cipher.seal(value, this.#aad('variable', key));
    else rec.value = value;
    const created = await this.redis.hset(this.keys.variables, key, JSON.stringify(rec));
    await this.#audit(created === 1 ? 'created' : 'updated', 'variable', key, actor);
    return { key, secret, ...(rec.description !== undefined ? { description: rec.description } : {}), updatedAt: rec.updatedAt, updatedBy: actor };
  }

  async delete(kind: 'connection' | 'variable', id: string, actor: string): Promise<void> {
    const n = await this.redis.hdel(kind === 'connection' ? this.keys.connections : this.keys.variables, id);
    if (n === 0) throw new NotFoundError(kind, id);
    await this.#audit('deleted', kind, id, actor);
  }

  async listConnections(): Promise<ConnectionSummary[]> {
    const all = await this.redis.hgetall(this.keys.connections);
    return Object.entries(all)
      .map(([id, json]) => summary(id, JSON.parse(json) as StoredConnection))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  async getConnectionSummary(id: string): Promise<ConnectionSummary> {
    const json = await this.redis.hget(this.keys.connections, id);
    if (json === null) throw new NotFoundError('connection', id);
    return summary(id, JSON.parse(json) as StoredConnection);
  }

  async listVariables(): Promise<VariableSummary[]> {
    const all = await this.redis.hgetall(this.keys.variables);
    return Object.entries(all)
      .map(([key, json]) => {
        const r = JSON.parse(json) as StoredVariable;
        return {
          key,
          secret: r.secret,
          ...(r.description !== undefined ? { description: r.description } : {}),
          updatedAt: r.updatedAt,
          updatedBy: r.updatedBy,
        };
      })
      .sort((a, b) => a.key.localeCompare(b.key));
  }

  /** The whole connection, password included: for the worker running a task, never for the API. */
  async connection(id: string): Promise<Connection | undefined> {
    const json = await this.redis.hget(this.keys.connections, id);
    if (json === null) return undefined;
    const r = JSON.parse(json) as StoredConnection;
    let password: string | undefined;
    let extra = r.extra ?? {};
    if (r.sealed !== undefined) {
      const open = JSON.parse(this.#open(r.sealed, 'connection', id)) as { password?: string; extra: Record<string, unknown> };
      password = open.password;
      extra = open.extra;
    }
    return withUri(id, { type: r.type, host: r.host, port: r.port, login: r.login, ...(password !== undefined ? { password } : {}), schema: r.schema, extra });
  }

  async variable(key: string): Promise<VariableValue | undefined> {
    const json = await this.redis.hget(this.keys.variables, key);
    if (json === null) return undefined;
    const r = JSON.parse(json) as StoredVariable;
    return { value: r.sealed !== undefined ? this.#open(r.sealed, 'variable', key) : (r.value ?? ''), secret: r.secret };
  }

  /**
   * Re-seals every value sealed with an older key with the current one, so the old key can be
   * dropped from ALOFT_SECRETS_KEYS; also seals values stored in clear before a key was set.
   */
  async rotate(actor: string): Promise<{ resealed: number; total: number }> {
    const cipher = this.cipher;
    if (!cipher) throw new InvalidInputError('rotating needs ALOFT_SECRETS_KEYS', 'ALOFT_SECRETS_KEYS');
    let resealed = 0;
    let total = 0;
    for (const kind of ['connection', 'variable'] as const) {
      const hash = kind === 'connection' ? this.keys.connections : this.keys.variables;
      for (const [id, json] of Object.entries(await this.redis.hgetall(hash))) {
        total++;
        const r = JSON.parse(json) as StoredConnection & StoredVariable;
        if (r.sealed !== undefined && cipher.currentKeyId === SecretCipher.keyIdOf(r.sealed)) continue;
        if (kind === 'connection') {
          const plain = r.sealed !== undefined ? this.#open(r.sealed, kind, id) : JSON.stringify({ extra: r.extra ?? {} });
          delete r.extra;
          r.sealed = cipher.seal(plain, this.#aad(kind, id));
        } else {
          const plain = r.sealed !== undefined ? this.#open(r.sealed, kind, id) : (r.value ?? '');
          delete r.value;
          r.sealed = cipher.seal(plain, this.#aad(kind, id));
        }
        // Only if unchanged since read: a concurrent set wins over the rotation.
        const done = await this.#swap(hash, id, json, JSON.stringify(r));
        if (done === 1) resealed++;
      }
    }
    await this.#audit('updated', 'connection', '*', `${actor} (rotate)`);
    return { resealed, total };
  }

  async audit(count = 100): Promise<AuditEntry[]> {
    const rows = await this.redis.xrevrange(this.keys.audit, '+', '-', 'COUNT', count);
    return rows.map(([, f]) => {
      const m: Record<string, string> = {};
      for (let i = 0; i + 1 < f.length; i += 2) m[f[i]!] = f[i + 1]!;
      return {
        at: Number(m['at']),
        actor: m['actor'] ?? '',
        action: m['action'] as AuditEntry['action'],
        kind: m['kind'] as AuditEntry['kind'],
        id: m['id'] ?? '',
      };
    });
  }

  async #swap(hash: string, field: string, was: string, value: string): Promise<number> {
    const r = this.redis as Redis & { aloftSwapField?: (k: string, f: string, was: string, v: string) => Promise<number> };
    if (!r.aloftSwapField) r.defineCommand('aloftSwapField', loadScript('swapField'));
    return r.aloftSwapField!(hash, field, was, value);
  }

  #aad(kind: string, id: string): string {
    return `${this.keys.prefix}:${kind}:${id}`;
  }

  #open(sealed: string, kind: 'connection' | 'variable', id: string): string {
    if (!this.cipher) throw new Error(`${kind} "${id}" is sealed, and ALOFT_SECRETS_KEYS is not set on this service`);
    return this.cipher.open(sealed, this.#aad(kind, id));
  }

  async #audit(action: AuditEntry['action'], kind: AuditEntry['kind'], id: string, actor: string): Promise<void> {
    await this.redis.xadd(this.keys.audit, 'MAXLEN', '~', AUDIT_KEPT, '*', 'at', Date.now(), 'actor', actor, 'action', action, 'kind', kind, 'id', id);
  }
}

function summary(id: string, r: StoredConnection): ConnectionSummary {
  return {
    id,
    type: r.type,
    ...(r.host !== undefined ? { host: r.host } : {}),
    ...(r.port !== undefined ? { port: r.port } : {}),
    ...(r.login !== undefined ? { login: r.login } : {}),
    ...(r.schema !== undefined ? { schema: r.schema } : {}),
    ...(r.description !== undefined ? { description: r.description } : {}),
    hasPassword: r.hasPassword,
    extraKeys: r.extraKeys,
    updatedAt: r.updatedAt,
    updatedBy: r.updatedBy,
  };
}
