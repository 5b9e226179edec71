import type { TaskKind } from '../model/dag.js';

type Targets = TaskRef<unknown> | readonly TaskRef<unknown>[] | TaskList;

function targetsOf(next: Targets): readonly TaskRef<unknown>[] {
  if (next instanceof TaskList) return next.items;
  if (next instanceof TaskRef) return [next];
  return next;
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
  then(next: readonly TaskRef<unknown>[] | TaskList): TaskList;
  then(next: Targets): TaskRef<unknown> | TaskList {
    // `await ref` (or returning a ref from an async branch function) calls then(resolve,
    // reject): a TaskRef resolves to a plain `{ id, kind }` instead of linking anything.
    if (typeof next === 'function') {
      (next as (v: unknown) => void)({ id: this.id, kind: this.kind });
      return this as unknown as TaskRef<unknown>;
    }
    const targets = targetsOf(next);
    this.#link(targets.map((t) => t.id));
    return next instanceof TaskRef || next instanceof TaskList ? next : new TaskList(targets);
  }
}

/** A list of tasks, for fan-in: `a.then([b, c]).then(d)`. */
export class TaskList {
  readonly items: readonly TaskRef<unknown>[];
  constructor(items: readonly TaskRef<unknown>[]) {
    this.items = items;
  }
  then<U>(next: TaskRef<U>): TaskRef<U>;
  then(next: readonly TaskRef<unknown>[] | TaskList): TaskList;
  then(next: Targets): TaskRef<unknown> | TaskList {
    for (const item of this.items) item.then(new TaskList(targetsOf(next)));
    return next instanceof TaskRef || next instanceof TaskList ? next : new TaskList(targetsOf(next));
  }
}

/** `chain(a, [b, c], d)`: a before b and c, both before d. */
export function chain(...steps: (TaskRef<unknown> | readonly TaskRef<unknown>[])[]): void {
  for (let i = 0; i + 1 < steps.length; i++) {
    new TaskList(targetsOf(steps[i]!)).then(new TaskList(targetsOf(steps[i + 1]!)));
  }
}
