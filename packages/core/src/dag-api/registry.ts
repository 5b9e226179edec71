import type { Dag } from './dag.js';

const defined: Dag[] = [];

/** Every DAG constructed in this process, in order; the DAG file processor reads it. */
export function registerDag(d: Dag): void {
  defined.push(d);
}

export function takeDefinedDags(): Dag[] {
  return defined.splice(0, defined.length);
}
