/**
 * The connections and variables a template names, so the worker reads them before it renders:
 * `{{ conn.warehouse.host }}`, `{{ conn['my-db'].uri }}`, `{{ var.region }}`,
 * `{{ var.json.limits.max }}`, `{{ var['eu.region'] }}`. Only what is inside `{{ }}` and
 * `{% %}` counts; a name computed at render time is not seen and renders as undefined.
 */
export interface SecretRefs {
  conns: Set<string>;
  vars: Set<string>;
  jsonVars: Set<string>;
}

const BLOCK = /\{\{([\s\S]*?)\}\}|\{%([\s\S]*?)%\}/g;
/** `.name` or `['name']` after `conn`/`var`: the name is group 1, or group 3 (group 2 is the quote). */
export const SECRET_NAME_ACCESS = String.raw`(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*(['"])([A-Za-z0-9_][A-Za-z0-9_.-]*)\2\s*\])`;
const CONN = new RegExp(String.raw`(?<![\w.])conn${SECRET_NAME_ACCESS}`, 'g');
const VAR_JSON = new RegExp(String.raw`(?<![\w.])var\.json${SECRET_NAME_ACCESS}`, 'g');
const VAR = new RegExp(String.raw`(?<![\w.])var${SECRET_NAME_ACCESS}`, 'g');

export function secretRefs(texts: Iterable<string>): SecretRefs {
  const refs: SecretRefs = { conns: new Set(), vars: new Set(), jsonVars: new Set() };
  for (const text of texts) {
    if (!text.includes('conn') && !text.includes('var')) continue;
    for (const b of text.matchAll(BLOCK)) {
      const code = b[1] ?? b[2] ?? '';
      for (const m of code.matchAll(CONN)) refs.conns.add(m[1] ?? m[3]!);
      for (const m of code.matchAll(VAR_JSON)) refs.jsonVars.add(m[1] ?? m[3]!);
      for (const m of code.matchAll(VAR)) {
        const name = m[1] ?? m[3]!;
        if (!(m[1] === 'json' && code.slice(m.index + m[0].length).match(/^\s*[.[]/))) refs.vars.add(name);
      }
    }
  }
  return refs;
}

export function hasSecretRefs(r: SecretRefs): boolean {
  return r.conns.size + r.vars.size + r.jsonVars.size > 0;
}
