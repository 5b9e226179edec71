import type { Dag } from './dag.js';

const defined: Dag[] = [];

/**
 * How many DAGs every copy of this module in the process has constructed. A process can hold
 * two copies of @aloft/core: a DAG file loaded as CommonJS gets a CommonJS copy of its own,
 * whose DAGs this copy never sees. The count lives on globalThis, where both copies meet,
 * so the loader can tell such a file from one that declares no DAG.
 */
const DECLARED = Symbol.for('aloft.dags-declared');
const counter = globalThis as { [DECLARED]?: number };

/** Every DAG constructed in this process, in order; the DAG file processor reads it. */
export function registerDag(d: Dag): void {
  defined.push(d);
  counter[DECLARED] = declaredByAnyCopy() + 1;
}

export function takeDefinedDags(): Dag[] {
  return defined.splice(0, defined.length);
}

/** DAGs constructed so far by any copy of @aloft/core in this process (see DECLARED). */
export function declaredByAnyCopy(): number {
  return counter[DECLARED] ?? 0;
}
