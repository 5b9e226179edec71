import type { TaskKind } from '../model/dag.js';
import type { TaskFunction } from './dag.js';
import type {
  BaseTaskOptions,
  BranchTaskOptions,
  CommandTaskOptions,
  ExternalTaskSensorOptions,
  FileSensorOptions,
  FnTaskOptions,
  HttpSensorOptions,
  KubernetesPodTaskOptions,
  SensorTaskOptions,
  ShortCircuitTaskOptions,
  TriggerDagRunTaskOptions,
} from './options.js';
import { SENSOR_TYPE, type SensorType } from './sensor-options.js';
import type { TaskGroup, TaskGroupOptions } from './task-group.js';
import type { TaskRef } from './task-ref.js';

/** A sensor's output: the truthy non-`true` values its check returns (undefined when it only returns booleans). */
export type SensorOutput<T> = [Exclude<Awaited<T>, boolean | null | undefined | 0 | ''>] extends [never]
  ? undefined
  : Exclude<Awaited<T>, boolean | null | undefined | 0 | ''>;

/** The operators, shared by a DAG and its task groups; each declares tasks its own way. */
export abstract class Operators<P extends Record<string, unknown>> {
  protected abstract declareTask<T>(kind: TaskKind, options: BaseTaskOptions, fn?: TaskFunction): TaskRef<T>;
  protected abstract newGroup(options: TaskGroupOptions): TaskGroup<P>;

  /** A task that does nothing, like Airflow's EmptyOperator; useful to join branches. */
  empty(options: BaseTaskOptions): TaskRef<undefined> {
    return this.declareTask<undefined>('empty', options);
  }

  /** A shell command (string) or program with arguments (array), run by a local worker. */
  command(options: CommandTaskOptions): TaskRef<unknown> {
    return this.declareTask('command', options);
  }

  /** A TypeScript function from this file, run isolated in a worker thread of its own. */
  fn<T>(options: FnTaskOptions<T, P>): TaskRef<Awaited<T>> {
    return this.declareTask<Awaited<T>>('fn', options, options.run as TaskFunction);
  }

  /** Runs a function that returns the direct downstream tasks to follow; the rest are skipped. */
  branch(options: BranchTaskOptions<P>): TaskRef<string[]> {
    return this.declareTask<string[]>('branch', options, options.run as TaskFunction);
  }

  /** Runs a predicate; false skips every task downstream of it. */
  shortCircuit(options: ShortCircuitTaskOptions<P>): TaskRef<boolean> {
    return this.declareTask<boolean>('shortCircuit', options, options.run as TaskFunction);
  }

  /** A Kubernetes pod; validated here, run by a worker's Kubernetes executor. */
  kubernetesPod(options: KubernetesPodTaskOptions): TaskRef<unknown> {
    return this.declareTask('kubernetesPod', options);
  }

  /**
   * Starts a run of another DAG with a templated conf (optionally waiting for it to end);
   * its output is the started run's id.
   */
  triggerDagRun(options: TriggerDagRunTaskOptions): TaskRef<string> {
    return this.declareTask<string>('triggerDagRun', options);
  }

  /**
   * A sensor, like Airflow's PythonSensor: `poke` runs every `pokeInterval` until it returns
   * something truthy or `timeout` passes; a value other than `true` is the task's output.
   */
  sensor<T>(options: SensorTaskOptions<T, P>): TaskRef<SensorOutput<T>> {
    return this.#sensor<SensorOutput<T>>('fn', options, options.poke as TaskFunction);
  }

  /** Waits until a path (templated) exists on the worker, like Airflow's FileSensor. */
  fileSensor(options: FileSensorOptions): TaskRef<undefined> {
    return this.#sensor<undefined>('file', options);
  }

  /** Waits until an HTTP endpoint answers 2xx (and `responseCheck`, if given, agrees), like Airflow's HttpSensor. */
  httpSensor<T = true>(options: HttpSensorOptions<T, P>): TaskRef<SensorOutput<T>> {
    return this.#sensor<SensorOutput<T>>('http', options, options.responseCheck as TaskFunction | undefined);
  }

  /** Waits for another DAG's run (or one of its tasks) for the same logical date, like Airflow's ExternalTaskSensor. */
  externalTaskSensor(options: ExternalTaskSensorOptions): TaskRef<undefined> {
    return this.#sensor<undefined>('externalTask', options);
  }

  #sensor<T>(type: SensorType, options: BaseTaskOptions, fn?: TaskFunction): TaskRef<T> {
    return this.declareTask<T>('sensor', { ...options, [SENSOR_TYPE]: type } as BaseTaskOptions, fn);
  }

  /**
   * Tasks declared in `build` get the group's id as a prefix (`extract.orders`); the group
   * can then be a dependency as a whole: `start.then(group)`, `group.then(end)`. Groups nest.
   */
  group(options: TaskGroupOptions, build: (g: TaskGroup<P>) => void): TaskGroup<P> {
    const g = this.newGroup(options);
    build(g);
    return g;
  }
}
