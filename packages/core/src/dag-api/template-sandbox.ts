import nunjucks from 'nunjucks';

/** The most numbers `range()` gives in a template (Jinja's sandbox caps it too, at 100,000). */
export const MAX_TEMPLATE_RANGE = 10_000;

/**
 * Names that lead from a value to the JavaScript runtime (`range.constructor` is `Function`,
 * and `Function("return process")()` is the worker's process) or let a template change
 * objects it was given. A template that names one fails, whatever the value.
 */
const FORBIDDEN = new Set(['constructor', '__proto__', 'prototype', '__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__']);

/**
 * nunjucks compiles a template to JavaScript that reads every `a.b`, `a[b]` and name through
 * these runtime functions (`nunjucks/src/runtime.js`); what they return is all a template
 * can reach. Only in the parts of nunjucks this replaces. */
interface NunjucksRuntime {
  memberLookup(obj: unknown, key: unknown): unknown;
  contextOrFrameLookup(
    context: { ctx: Record<string, unknown>; env: { globals: Record<string, unknown> } },
    frame: { lookup(name: string): unknown },
    name: string,
  ): unknown;
  inOperator(key: unknown, val: unknown): boolean;
  SafeString: new (val: string) => object;
}

const runtime = (nunjucks as unknown as { runtime: NunjucksRuntime }).runtime;

function forbidden(name: string): Error {
  return new Error(
    `"${name}" cannot be used in a template: a template sees data (strings, numbers, lists, objects) and the functions Aloft gives it, nothing of JavaScript`,
  );
}

/** An object a template may look into: data made of plain objects (JSON, object literals). */
function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * `obj.key` in a template: an own data property of a plain object, an array or a string
 * (their items and `length`), and nothing else: no inherited property, no property of a
 * function, a class instance, a regular expression or a number. A method of a string or
 * list is refused in words, since a filter does the same (`| replace`, `| join`).
 */
function memberLookup(obj: unknown, key: unknown): unknown {
  if (obj === undefined || obj === null) return undefined;
  const name = String(key);
  if (FORBIDDEN.has(name)) throw forbidden(name);
  let target = obj;
  if (target instanceof runtime.SafeString) target = String(target);
  if (typeof target === 'string' || Array.isArray(target)) {
    const boxed = Object(target) as Record<string, unknown>;
    if (Object.hasOwn(boxed, name)) return boxed[name];
    if (typeof boxed[name] === 'function') {
      throw new Error(
        `"${name}" is a JavaScript method of a ${typeof target === 'string' ? 'string' : 'list'}, which a template cannot call; use a filter instead (| replace, | upper, | lower, | trim, | join, | first, | length, …)`,
      );
    }
    return undefined;
  }
  if (typeof target !== 'object' || !isPlainObject(target) || !Object.hasOwn(target, name)) return undefined;
  const desc = Object.getOwnPropertyDescriptor(target, name)!;
  // A getter would run code a template did not write; only values are read.
  if (!('value' in desc)) return undefined;
  const v: unknown = desc.value;
  if (typeof v !== 'function') return v;
  // A function the template was given inside an object (cycler().next): called on its object.
  const fn = v as (...args: unknown[]) => unknown;
  return (...args: unknown[]) => fn.apply(target, args);
}

/** A name in a template: a variable it set, then the context, then the globals, own properties only. */
function contextOrFrameLookup(
  context: { ctx: Record<string, unknown>; env: { globals: Record<string, unknown> } },
  frame: { lookup(name: string): unknown },
  name: string,
): unknown {
  if (FORBIDDEN.has(name)) throw forbidden(name);
  const v = frame.lookup(name);
  if (v !== undefined) return v;
  if (Object.hasOwn(context.ctx, name)) return context.ctx[name];
  if (Object.hasOwn(context.env.globals, name)) return context.env.globals[name];
  return undefined;
}

/** `a in b`: an item of a list, a substring, or an own key of a plain object. */
function inOperator(key: unknown, val: unknown): boolean {
  if (typeof val === 'string') return val.includes(String(key));
  if (Array.isArray(val)) return val.includes(key);
  if (val !== null && typeof val === 'object' && isPlainObject(val)) return Object.hasOwn(val, String(key));
  throw new Error(`cannot use "in" to look for ${JSON.stringify(key) ?? String(key)} in a value that is not a list, a string or an object`);
}

let hardened = false;

/**
 * Replaces nunjucks' lookups for the whole process: nunjucks is used in this module only,
 * and every template goes through it.
 */
function hardenRuntime(): void {
  if (hardened) return;
  runtime.memberLookup = memberLookup;
  runtime.contextOrFrameLookup = contextOrFrameLookup;
  runtime.inOperator = inOperator;
  hardened = true;
}

/** `range(stop)`, `range(start, stop[, step])`, as nunjucks' own, refused past MAX_TEMPLATE_RANGE numbers. */
function range(...args: unknown[]): number[] {
  for (const a of args) {
    if (typeof a !== 'number' || !Number.isFinite(a)) throw new Error(`range() takes numbers (got ${JSON.stringify(a) ?? String(a)})`);
  }
  const [a, b, c] = args as number[];
  const [start, stop, step] = b === undefined ? [0, a ?? 0, 1] : [a!, b, c ?? 1];
  if (step === 0) throw new Error('range() step must not be zero');
  const count = Math.max(0, Math.ceil((stop - start) / step));
  if (count > MAX_TEMPLATE_RANGE) throw new Error(`range() of ${count} numbers is over the limit of ${MAX_TEMPLATE_RANGE}`);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(start + i * step);
  return out;
}

/**
 * A nunjucks environment for task templates: no loaders (so no `include`, `import` or
 * `extends` of files), no autoescape, an undefined value in output is an error, and every
 * lookup goes through the hardened runtime above. Globals, filters and tests are found by
 * their own names only (`| constructor` or `is __defineGetter__` find nothing).
 */
export function sandboxEnvironment(): nunjucks.Environment {
  hardenRuntime();
  const env = new nunjucks.Environment([], { autoescape: false, throwOnUndefined: true });
  const e = env as unknown as { globals: Record<string, unknown>; filters: Record<string, unknown>; tests: Record<string, unknown> };
  const defaults = e.globals;
  e.globals = Object.assign(Object.create(null) as Record<string, unknown>, { range, cycler: defaults['cycler'], joiner: defaults['joiner'] });
  const own = (table: Record<string, unknown>, kind: string) => (name: string) => {
    if (!Object.hasOwn(table, name)) throw new Error(`${kind} not found: ${name}`);
    return table[name];
  };
  Object.assign(env, { getFilter: own(e.filters, 'filter'), getTest: own(e.tests, 'test') });
  return env;
}
