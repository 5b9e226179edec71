import type { TaskKind } from '../model/dag.js';
import type { TaskFunction } from './dag.js';
import type { BaseTaskOptions, MappableOptions, TaskArgsInput } from './options.js';
import { Operators } from './operators.js';
import { callSiteLine } from './call-site.js';
import { TaskList, type GroupRef, type TaskRef, type Targets } from './task-ref.js';

export interface TaskGroupOptions {
  /** Letters, digits, `_` or `-`; task ids inside become `group.task` (nested: `outer.inner.task`). */
  id: string;
  /** Shown in the dashboard's graph. */
  tooltip?: string;
  /** Defaults for the group's tasks, over the DAG's defaultArgs; a task's own options win. */
  defaultArgs?: TaskArgsInput;
  /**
   * Maps the whole group, like Airflow's mapped task groups: one copy of the group per
   * element, each task of copy i seeing element i in `ctx.args` and the outputs of copy i
   * of its upstreams in the group; tasks after the group get lists. Its tasks must be
   * command, fn or kubernetesPod tasks and are not mapped themselves.
   */
  expand?: MappableOptions['expand'];
  /** Fixed arguments for every task of a mapped group (a task's own `args` win). */
  args?: Record<string, unknown>;
  maxMapLength?: number;
}

/** What a group needs from its DAG: declare a task in a group, and the edges among tasks. */
export interface GroupHost {
  declare<T>(kind: TaskKind, options: BaseTaskOptions, fn: TaskFunction | undefined, group: TaskGroup<never>): TaskRef<T>;
  downstreamOf(taskId: string): ReadonlySet<string>;
  /** `options` as the author wrote them, for the check of their keys. */
  addGroup(group: TaskGroup<never>, line: number | undefined, options: TaskGroupOptions): void;
}

/**
 * Tasks declared together under a group id, like Airflow's TaskGroup: their ids get the
 * group's prefix, the group can be a dependency as a whole, groups nest, and the stored
 * DAG keeps the grouping for the dashboard's graph.
 */
export class TaskGroup<P extends Record<string, unknown> = Record<string, unknown>> extends Operators<P> implements GroupRef {
  readonly id: string;
  readonly localId: string;
  readonly parent: TaskGroup<never> | undefined;
  readonly tooltip: string | undefined;
  readonly defaultArgs: TaskArgsInput;
  /** The mapped group this one is (or is inside), if any. */
  readonly mapped:
    { id: string; expand: NonNullable<TaskGroupOptions['expand']>; args: Record<string, unknown> | undefined; maxMapLength: number | undefined } | undefined;
  readonly #members: TaskRef<unknown>[] = [];
  readonly #host: GroupHost;

  constructor(host: GroupHost, options: TaskGroupOptions, parent: TaskGroup<never> | undefined, line: number | undefined) {
    super();
    this.#host = host;
    this.localId = String(options?.id);
    this.id = parent ? `${parent.id}.${this.localId}` : this.localId;
    this.parent = parent;
    this.tooltip = options?.tooltip;
    this.defaultArgs = { ...(parent?.defaultArgs ?? {}), ...(options?.defaultArgs ?? {}) };
    this.mapped =
      options?.expand !== undefined ? { id: this.id, expand: options.expand, args: options.args, maxMapLength: options.maxMapLength } : parent?.mapped;
    host.addGroup(this as unknown as TaskGroup<never>, line, options);
  }

  /** Called by the DAG for every task declared in this group or a group inside it. */
  addMember(ref: TaskRef<unknown>): void {
    this.#members.push(ref);
    this.parent?.addMember(ref);
  }

  get members(): readonly TaskRef<unknown>[] {
    return this.#members;
  }

  roots(): readonly TaskRef<unknown>[] {
    const inside = new Set(this.#members.map((m) => m.id));
    const reached = new Set<string>();
    for (const m of this.#members) for (const d of this.#host.downstreamOf(m.id)) if (inside.has(d)) reached.add(d);
    return this.#members.filter((m) => !reached.has(m.id));
  }

  leaves(): readonly TaskRef<unknown>[] {
    const inside = new Set(this.#members.map((m) => m.id));
    return this.#members.filter((m) => ![...this.#host.downstreamOf(m.id)].some((d) => inside.has(d)));
  }

  /** `group.then(x)`: every leaf of the group before x. */
  then<U>(next: TaskRef<U>): TaskRef<U>;
  then(next: readonly (TaskRef<unknown> | GroupRef)[] | TaskList | GroupRef): TaskList;
  then(next: Targets): TaskRef<unknown> | TaskList {
    return new TaskList(this.leaves()).then(next as TaskList);
  }

  protected declareTask<T>(kind: TaskKind, options: BaseTaskOptions, fn?: TaskFunction): TaskRef<T> {
    return this.#host.declare<T>(kind, options, fn, this as unknown as TaskGroup<never>);
  }

  protected newGroup(options: TaskGroupOptions): TaskGroup<P> {
    return new TaskGroup<P>(this.#host, options, this as unknown as TaskGroup<never>, callSiteLine());
  }
}
