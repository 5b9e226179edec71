import { z } from 'zod';
import { InvalidInputError } from '../errors/index.js';
import { SECRET_ID } from './secret-id.js';

export { SECRET_ID };

/**
 * A connection: how a task reaches an outside system, as Airflow's Connection. Given by a
 * backend as a URI (`postgres://etl:pw@db.internal:5432/warehouse?sslmode=require`) or as
 * JSON ({"type":"postgres","host":…}); tasks read it with `ctx.conn(id)` and templates with
 * `{{ conn.<id>.host }}`.
 */
export interface Connection {
  id: string;
  /** The URI's scheme, `-` read as `_` (Airflow's conn_type): `postgres`, `http`, `aws`. */
  type: string;
  host?: string;
  port?: number;
  login?: string;
  password?: string;
  /** The URI's path (Airflow's schema): a database, a bucket. */
  schema?: string;
  extra: Record<string, unknown>;
  /** The connection as one URI, password included (masked wherever a task prints it). */
  uri: string;
}

export function checkSecretId(kind: 'connection' | 'variable', id: string): string {
  if (!SECRET_ID.test(id))
    throw new InvalidInputError(
      `${kind} id ${JSON.stringify(id.slice(0, 80))} must be 1–250 letters, digits, "_", "-" or "." (not starting with "-" or ".")`,
      'id',
    );
  return id;
}

const FIELDS = z
  .object({
    type: z.string().min(1).optional(),
    conn_type: z.string().min(1).optional(),
    host: z.string().optional(),
    port: z
      .union([
        z.number().int().min(0).max(65535),
        z
          .string()
          .regex(/^\d{1,5}$/)
          .transform(Number),
      ])
      .optional(),
    login: z.string().optional(),
    password: z.string().optional(),
    schema: z.string().optional(),
    extra: z.union([z.record(z.string(), z.unknown()), z.string()]).optional(),
  })
  .strict();

/** The parts a connection is made of, before it has an id and a URI. */
export type ConnectionFields = Omit<Connection, 'id' | 'uri'>;

/**
 * Reads a connection from a backend's text: a URI, or a JSON object (starting with `{`).
 * `where` names the source in errors ("ALOFT_CONN_WAREHOUSE", "/run/conns/warehouse"); an
 * error never repeats the text, which may hold a password.
 */
export function parseConnection(id: string, text: string, where: string): Connection {
  const t = text.trim();
  const fields = t.startsWith('{') ? fromJson(t, where) : fromUri(t, where);
  return withUri(id, fields);
}

/** A connection from its fields, with its URI. */
export function withUri(id: string, f: ConnectionFields): Connection {
  return { id, ...f, uri: connectionUri(f) };
}

function fromJson(text: string, where: string): ConnectionFields {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InvalidInputError(`${where}: not a connection URI nor valid JSON`, where);
  }
  const parsed = FIELDS.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new InvalidInputError(`${where}: ${i.path.join('.') || 'value'}: ${i.message}`, where);
  }
  const v = parsed.data;
  const type = v.type ?? v.conn_type;
  if (!type) throw new InvalidInputError(`${where}: "type" is required`, where);
  let extra: Record<string, unknown> = {};
  if (typeof v.extra === 'string') {
    try {
      const e: unknown = JSON.parse(v.extra);
      if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new Error('not an object');
      extra = e as Record<string, unknown>;
    } catch {
      throw new InvalidInputError(`${where}: extra: must be a JSON object`, where);
    }
  } else if (v.extra) extra = v.extra;
  return clean({ type: type.replaceAll('-', '_'), host: v.host, port: v.port, login: v.login, password: v.password, schema: v.schema, extra });
}

function fromUri(text: string, where: string): ConnectionFields {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(text);
  if (!m) throw new InvalidInputError(`${where}: not a connection URI (type://login:password@host:port/schema?extra) nor JSON`, where);
  const type = m[1]!.replaceAll('-', '_');
  let rest = m[2]!;
  let query = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  let path: string | undefined;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    path = rest.slice(slash + 1);
    rest = rest.slice(0, slash);
  }
  let login: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = user.indexOf(':');
    login = decode(colon >= 0 ? user.slice(0, colon) : user, where, 'login');
    if (colon >= 0) password = decode(user.slice(colon + 1), where, 'password');
  }
  let host = rest;
  let port: number | undefined;
  const pm = /^(.*):(\d{1,5})$/.exec(rest);
  if (pm) {
    host = pm[1]!;
    port = Number(pm[2]);
    if (port > 65535) throw new InvalidInputError(`${where}: port ${port} is above 65535`, where);
  }
  const extra: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(query)) {
    if (k === '__extra__') {
      try {
        Object.assign(extra, JSON.parse(v) as object);
      } catch {
        throw new InvalidInputError(`${where}: __extra__ must be a JSON object`, where);
      }
    } else extra[k] = v;
  }
  return clean({
    type,
    host: host ? decode(host, where, 'host') : undefined,
    port,
    login: login || undefined,
    password,
    schema: path ? decode(path, where, 'schema') : undefined,
    extra,
  });
}

function decode(s: string, where: string, field: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new InvalidInputError(`${where}: ${field} has a malformed %-escape`, where);
  }
}

function clean(f: ConnectionFields): ConnectionFields {
  const out: ConnectionFields = { type: f.type, extra: f.extra };
  if (f.host !== undefined && f.host !== '') out.host = f.host;
  if (f.port !== undefined) out.port = f.port;
  if (f.login !== undefined && f.login !== '') out.login = f.login;
  if (f.password !== undefined) out.password = f.password;
  if (f.schema !== undefined && f.schema !== '') out.schema = f.schema;
  return out;
}

/** The URI form: every part %-encoded, extra as query parameters (objects and arrays as `__extra__`). */
export function connectionUri(f: ConnectionFields): string {
  const enc = encodeURIComponent;
  let uri = `${f.type.replaceAll('_', '-')}://`;
  if (f.login !== undefined || f.password !== undefined) uri += `${enc(f.login ?? '')}${f.password !== undefined ? `:${enc(f.password)}` : ''}@`;
  uri += enc(f.host ?? '');
  if (f.port !== undefined) uri += `:${f.port}`;
  if (f.schema !== undefined) uri += `/${enc(f.schema)}`;
  const flat = Object.entries(f.extra).every(([, v]) => typeof v === 'string');
  const entries = Object.entries(f.extra);
  if (entries.length > 0) uri += `?${flat ? new URLSearchParams(entries as [string, string][]).toString() : `__extra__=${enc(JSON.stringify(f.extra))}`}`;
  return uri;
}

/** Names in extra (and variable keys) whose values are secret: masked, and encrypted in Aloft's store. */
export const SENSITIVE_NAME = /pass|secret|token|api[-_]?key|private|credential|auth|access[-_]?key|cookie|session|signature/i;
