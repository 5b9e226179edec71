import type { TaskKind } from '../model/dag.js';

export type Targets = TaskRef<unknown> | readonly (TaskRef<unknown> | GroupRef)[] | TaskList | GroupRef;

/**
 * A task group as a dependency: edges into it reach its roots (members with no upstream
 * inside the group), edges out of it leave from its leaves.
 */
export interface GroupRef {
  readonly id: string;
  roots(): readonly TaskRef<unknown>[];
  leaves(): readonly TaskRef<unknown>[];
}

export function isGroup(x: unknown): x is GroupRef {
  return typeof x === 'object' && x !== null && typeof (x as GroupRef).roots === 'function' && typeof (x as GroupRef).leaves === 'function';
}

/** The tasks an edge into `next` reaches. */
function targetsOf(next: Targets): readonly TaskRef<unknown>[] {
  if (next instanceof TaskList) return next.items;
  if (next instanceof TaskRef) return [next];
  if (isGroup(next)) return next.roots();
  return next.flatMap((n) => (isGroup(n) ? n.roots() : [n]));
}

/** The tasks an edge out of `step` leaves from. */
export function sourcesOf(step: Targets): readonly TaskRef<unknown>[] {
  if (step instanceof TaskList || step instanceof TaskRef) return targetsOf(step);
  if (isGroup(step)) return step.leaves();
  return step.flatMap((n) => (isGroup(n) ? n.leaves() : [n]));
}

/**
 * A task as returned by the DAG API. `T` is its output type, so downstream functions get
 * typed outputs through `ctx.output(ref)`.
 */
export class TaskRef<T = unknown> {
  declare readonly __output?: T;
  readonly id: string;
  readonly kind: TaskKind;
  readonly #link: (downstreamIds: string[]) => void;

  constructor(id: string, kind: TaskKind, link: (downstreamIds: string[]) => void) {
    this.id = id;
    this.kind = kind;
    this.#link = link;
  }

  /** `a.then(b)` makes b downstream of a; `a.then([b, c])` fans out. Returns its argument. */
  then<U>(next: TaskRef<U>): TaskRef<U>;
  then(next: readonly (TaskRef<unknown> | GroupRef)[] | TaskList | GroupRef): TaskList;
  then(next: Targets): TaskRef<unknown> | TaskList {
    // `await ref` (or returning a ref from an async branch function) calls then(resolve,
    // reject): a TaskRef resolves to a plain `{ id, kind }` instead of linking anything.
    if (typeof next === 'function') {
      (next as (v: unknown) => void)({ id: this.id, kind: this.kind });
      return this as unknown as TaskRef<unknown>;
    }
    const targets = targetsOf(next);
    this.#link(targets.map((t) => t.id));
    return next instanceof TaskRef || next instanceof TaskList ? next : new TaskList(sourcesOf(next));
  }
}

/** A list of tasks, for fan-in: `a.then([b, c]).then(d)`. */
export class TaskList {
  readonly items: readonly TaskRef<unknown>[];
  constructor(items: readonly TaskRef<unknown>[]) {
    this.items = items;
  }
  then<U>(next: TaskRef<U>): TaskRef<U>;
  then(next: readonly (TaskRef<unknown> | GroupRef)[] | TaskList | GroupRef): TaskList;
  then(next: Targets): TaskRef<unknown> | TaskList {
    for (const item of this.items) item.then(new TaskList(targetsOf(next)));
    return next instanceof TaskRef || next instanceof TaskList ? next : new TaskList(sourcesOf(next));
  }
}

/** `chain(a, [b, c], group, d)`: a before b and c, both before the group, the group before d. */
export function chain(...steps: (TaskRef<unknown> | GroupRef | readonly (TaskRef<unknown> | GroupRef)[])[]): void {
  for (let i = 0; i + 1 < steps.length; i++) {
    new TaskList(sourcesOf(steps[i]!)).then(new TaskList(targetsOf(steps[i + 1]!)));
  }
}
