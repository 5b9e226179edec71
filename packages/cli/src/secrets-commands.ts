/**
 * `aloft connections …`, `aloft variables …` and `aloft secrets rotate|audit`: Aloft's own
 * store of connections and variables (SecretStore), straight in Redis. Sealing needs the
 * keyring (ALOFT_SECRETS_KEYS or ALOFT_SECRETS_KEYS_FILE) in the CLI's environment, as on the
 * services. A password never travels on the command line: it comes from stdin.
 */
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { parseConnection, SecretCipher, type ConnectionFields, type SecretStore } from '@aloft/core';
import type { AloftHttpClient, AuditEntry, ConnectionSummary, VariableSummary } from '@aloft/sdk';

/** What the commands do, straight in Redis (storeOps) or through the dashboard's API (httpOps). */
export interface SecretOps {
  setConnection(id: string, c: ConnectionFields & { description?: string }): Promise<ConnectionSummary>;
  listConnections(): Promise<ConnectionSummary[]>;
  getConnection(id: string): Promise<ConnectionSummary>;
  delete(kind: 'connection' | 'variable', id: string): Promise<void>;
  setVariable(key: string, value: string, o: { secret?: boolean; description?: string }): Promise<VariableSummary>;
  listVariables(): Promise<VariableSummary[]>;
  /** A variable's value, undefined for a secret one. */
  value(key: string): Promise<string | undefined>;
  rotate(): Promise<{ resealed: number; total: number }>;
  audit(count: number): Promise<AuditEntry[]>;
}

export function storeOps(store: SecretStore): SecretOps {
  const by = actor();
  return {
    setConnection: (id, c) => store.setConnection(id, c, by),
    listConnections: () => store.listConnections(),
    getConnection: (id) => store.getConnectionSummary(id),
    delete: (kind, id) => store.delete(kind, id, by),
    setVariable: (key, value, o) => store.setVariable(key, value, o, by),
    listVariables: () => store.listVariables(),
    value: async (key) => {
      const v = await store.variable(key);
      return v && !v.secret ? v.value : undefined;
    },
    rotate: () => store.rotate(by),
    audit: (n) => store.audit(n),
  };
}

/** Through `--server`: the dashboard seals with its keyring and records the token's name as who. */
export function httpOps(api: AloftHttpClient, usage: (m: string) => Error): SecretOps {
  return {
    setConnection: (id, c) => api.setConnection(id, c),
    listConnections: () => api.listConnections(),
    getConnection: (id) => api.getConnection(id),
    delete: (kind, id) => (kind === 'connection' ? api.deleteConnection(id) : api.deleteVariable(id)),
    setVariable: (key, value, o) => api.setVariable(key, value, o),
    listVariables: () => api.listVariables(),
    value: async (key) => (await api.listVariables()).find((v) => v.key === key)?.value,
    rotate: () => Promise.reject(usage('secrets rotate runs where the keyring is, straight in Redis: leave out --server')),
    audit: async (n) => (await api.secretsAudit()).slice(0, n),
  };
}

export interface SecretsCommandDeps {
  store(): SecretOps;
  print(value: unknown, table: () => string): void;
  table(rows: (string | number | undefined)[][], head: string[]): string;
  usage(message: string): Error;
}

/** The keyring from the CLI's environment, as the services read it. */
export function cliCipher(env: NodeJS.ProcessEnv): SecretCipher | undefined {
  const file = env['ALOFT_SECRETS_KEYS_FILE'];
  return SecretCipher.fromSetting(file ? readFileSync(file, 'utf8').trim() : env['ALOFT_SECRETS_KEYS']);
}

/** Who made a change, for the audit stream: the operating-system user and host. */
function actor(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry: said as unknown.
  }
  return `cli:${user}@${hostname()}`;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

const when = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

export function addSecretsCommands(program: Command, d: SecretsCommandDeps): void {
  const conns = program.command('connections').description("connections in Aloft's own store (passwords sealed; never shown again)");
  conns
    .command('add <id>')
    .description('add or replace a connection: from --uri, or its fields; a password only from stdin')
    .option('--uri <uri>', 'the connection as a URI without its password (type://login@host:port/schema?extra)')
    .option('--type <type>', 'the connection type (postgres, http, …)')
    .option('--host <host>')
    .option('--port <port>')
    .option('--login <login>')
    .option('--schema <schema>')
    .option('--extra <json>', 'extra fields (JSON object)')
    .option('--description <text>')
    .option('--password-stdin', 'read the password from stdin')
    .option('--stdin', 'read the whole connection (a URI or JSON, password included) from stdin')
    .option('--if-absent', 'leave an existing connection of that id as it is')
    .action(async (id: string, o: Record<string, string | boolean | undefined>) => {
      if (o['ifAbsent'] && (await d.store().listConnections()).some((c) => c.id === id)) {
        d.print({ kept: id }, () => `connection "${id}" exists; kept`);
        return;
      }
      let fields: ConnectionFields;
      if (o['stdin']) fields = parseConnection(id, await readStdin(), 'stdin');
      else if (typeof o['uri'] === 'string') fields = parseConnection(id, o['uri'], '--uri');
      else {
        if (typeof o['type'] !== 'string') throw d.usage('connections add needs --uri, --stdin or --type');
        let extra: Record<string, unknown> = {};
        if (typeof o['extra'] === 'string') {
          try {
            extra = JSON.parse(o['extra']) as Record<string, unknown>;
          } catch {
            throw d.usage('--extra must be a JSON object');
          }
        }
        const port = o['port'] === undefined ? undefined : Number(o['port']);
        if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535))
          throw d.usage(`--port must be 0 to 65535 (got ${JSON.stringify(o['port'])})`);
        fields = parseConnection(id, JSON.stringify({ type: o['type'], host: o['host'], port, login: o['login'], schema: o['schema'], extra }), 'options');
      }
      if (o['passwordStdin']) fields = { ...fields, password: await readStdin() };
      const { uri: _uri, id: _id, ...rest } = fields as ConnectionFields & { uri?: string; id?: string };
      const s = await d.store().setConnection(id, { ...rest, ...(typeof o['description'] === 'string' ? { description: o['description'] } : {}) });
      d.print(s, () => `connection "${id}" saved (${s.type}${s.host ? ` ${s.host}` : ''}${s.hasPassword ? ', password sealed' : ''})`);
    });
  conns
    .command('list')
    .description('list the connections (no passwords, no extra values)')
    .action(async () => {
      const all = await d.store().listConnections();
      d.print(all, () =>
        d.table(
          all.map((c) => [c.id, c.type, c.host, c.port, c.login, c.hasPassword ? 'yes' : 'no', c.extraKeys.join(','), when(c.updatedAt), c.updatedBy]),
          ['ID', 'TYPE', 'HOST', 'PORT', 'LOGIN', 'PASSWORD', 'EXTRA', 'UPDATED', 'BY'],
        ),
      );
    });
  conns
    .command('get <id>')
    .description('show a connection without its password or extra values')
    .action(async (id: string) => {
      const c = await d.store().getConnection(id);
      d.print(c, () =>
        d.table(
          Object.entries(c).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : typeof v === 'number' && k === 'updatedAt' ? when(v) : String(v)]),
          ['FIELD', 'VALUE'],
        ),
      );
    });
  conns
    .command('delete <id>')
    .description('delete a connection')
    .action(async (id: string) => {
      await d.store().delete('connection', id);
      d.print({ deleted: id }, () => `connection "${id}" deleted`);
    });

  const vars = program.command('variables').description("variables in Aloft's own store (secret ones sealed and never shown again)");
  vars
    .command('set <key> [value]')
    .description('set a variable; a secret one (--secret, or a name such as *_token) needs ALOFT_SECRETS_KEYS')
    .option('--secret', 'mask it in task logs and never show it again')
    .option('--stdin', 'read the value from stdin')
    .option('--description <text>')
    .option('--if-absent', 'leave an existing variable of that key as it is')
    .action(async (key: string, value: string | undefined, o: { secret?: boolean; stdin?: boolean; description?: string; ifAbsent?: boolean }) => {
      if ((value === undefined) === !o.stdin) throw d.usage('variables set needs a value or --stdin (one of them)');
      if (o.ifAbsent && (await d.store().listVariables()).some((v) => v.key === key)) {
        d.print({ kept: key }, () => `variable "${key}" exists; kept`);
        return;
      }
      const v = await d.store().setVariable(key, o.stdin ? await readStdin() : value!, {
        ...(o.secret ? { secret: true } : {}),
        ...(o.description !== undefined ? { description: o.description } : {}),
      });
      d.print(v, () => `variable "${key}" set${v.secret ? ' (secret, sealed)' : ''}`);
    });
  vars
    .command('get <key>')
    .description("print a variable's value (not for secret variables)")
    .action(async (key: string) => {
      const list = await d.store().listVariables();
      const meta = list.find((v) => v.key === key);
      if (!meta) throw new Error(`variable "${key}" not found`);
      if (meta.secret) throw new Error(`variable "${key}" is secret: its value is not shown after it is set`);
      const v = await d.store().value(key);
      d.print({ key, value: v }, () => v ?? '');
    });
  vars
    .command('list')
    .description('list the variables (names, not values)')
    .action(async () => {
      const all = await d.store().listVariables();
      d.print(all, () =>
        d.table(
          all.map((v) => [v.key, v.secret ? 'yes' : 'no', v.description, when(v.updatedAt), v.updatedBy]),
          ['KEY', 'SECRET', 'DESCRIPTION', 'UPDATED', 'BY'],
        ),
      );
    });
  vars
    .command('delete <key>')
    .description('delete a variable')
    .action(async (key: string) => {
      await d.store().delete('variable', key);
      d.print({ deleted: key }, () => `variable "${key}" deleted`);
    });
  vars
    .command('import <file>')
    .description('set every variable of a JSON object file ({"key": value}; non-strings stored as JSON), as Airflow does')
    .action(async (file: string) => {
      let obj: unknown;
      try {
        obj = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new Error(`${file}: not a JSON object (${(err as Error).message})`);
      }
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new Error(`${file}: not a JSON object of key → value`);
      const done: string[] = [];
      const failed: { key: string; error: string }[] = [];
      for (const [k, v] of Object.entries(obj)) {
        try {
          await d.store().setVariable(k, typeof v === 'string' ? v : JSON.stringify(v), {});
          done.push(k);
        } catch (err) {
          failed.push({ key: k, error: (err as Error).message });
        }
      }
      d.print({ imported: done, failed }, () => [`imported ${done.length} variable(s)`, ...failed.map((f) => `not imported: ${f.error}`)].join('\n'));
      if (failed.length) process.exitCode = 1;
    });

  const secrets = program.command('secrets').description("Aloft's own secret store: key rotation and the audit trail");
  secrets
    .command('rotate')
    .description('re-seal every stored value with the first key of ALOFT_SECRETS_KEYS, so older keys can be dropped')
    .action(async () => {
      const r = await d.store().rotate();
      d.print(r, () => `re-sealed ${r.resealed} of ${r.total} value(s) with the current key`);
    });
  secrets
    .command('audit')
    .description('who created, changed or deleted a connection or variable (never the value)')
    .option('--count <n>', 'entries, newest first', '50')
    .action(async (o: { count: string }) => {
      const n = Number(o.count);
      if (!Number.isInteger(n) || n < 1) throw d.usage(`--count must be a whole number ≥ 1 (got ${JSON.stringify(o.count)})`);
      const all = await d.store().audit(n);
      d.print(all, () =>
        d.table(
          all.map((a) => [when(a.at), a.actor, a.action, a.kind, a.id]),
          ['AT', 'BY', 'ACTION', 'KIND', 'ID'],
        ),
      );
    });
}
