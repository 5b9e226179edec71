import { DagImportError } from '../errors/index.js';
import { SECRET_ID } from '../secrets/secret-id.js';

/**
 * References to connections and variables for a task's templated fields, above all a
 * command's `env`, so that a value reaches the process's environment and never its command
 * line: `env: { PGPASSWORD: secret.conn('warehouse').password }`. Each is the template that
 * reads it (`{{ conn.warehouse.password }}`), rendered by the worker when the task runs.
 * A name that cannot be a connection or variable id is an import error.
 */
export const secret = {
  conn(id: string): ConnectionRef {
    const at = `conn${access(check('connection', id))}`;
    const field = (f: string) => `{{ ${at}.${f} }}`;
    return {
      host: field('host'),
      port: field('port'),
      login: field('login'),
      password: field('password'),
      schema: field('schema'),
      uri: field('uri'),
      type: field('type'),
      extra: (key: string) => `{{ ${at}.extra${access(key)} }}`,
    };
  },
  variable(key: string): string {
    return `{{ var${access(check('variable', key))} }}`;
  },
};

export interface ConnectionRef {
  host: string;
  port: string;
  login: string;
  password: string;
  schema: string;
  uri: string;
  type: string;
  extra(key: string): string;
}

function check(kind: 'connection' | 'variable', id: string): string {
  if (typeof id !== 'string' || !SECRET_ID.test(id)) {
    const call = `secret.${kind === 'connection' ? 'conn' : 'variable'}(${JSON.stringify(id)})`;
    throw new DagImportError({ message: `${call}: not a ${kind} id (1–250 letters, digits, "_", "-" or ".")`, field: call });
  }
  return id;
}

/** `.name` when `name` is an identifier, `['name']` otherwise. */
function access(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `.${name}` : `['${name.replace(/['\\]/g, '\\$&')}']`;
}
