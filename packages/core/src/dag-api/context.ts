import type { Connection } from '../secrets/connection.js';
import type { TaskRef } from './task-ref.js';

export interface TaskLogger {
  info(msg: string, ...args: unknown[]): void;
  warn(msg: string, ...args: unknown[]): void;
  error(msg: string, ...args: unknown[]): void;
}

/** The run a task function or a callback is about; shared by both contexts. */
export interface RunContext<P = Record<string, unknown>> {
  dagId: string;
  runId: string;
  /** −1 unless the task is mapped; then the instance's position, from 0. */
  mapIndex: number;
  /** Start of the data interval for scheduled runs; the trigger time for manual ones. */
  logicalDate: Date;
  /** Logical date as YYYY-MM-DD in the DAG's time zone. */
  ds: string;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  /** The DAG's params with the run's conf applied on top. */
  params: P;
  conf: Record<string, unknown>;
  log: TaskLogger;
}

/** What a `fn`, `branch` or `shortCircuit` function receives. */
export interface TaskContext<P = Record<string, unknown>> extends RunContext<P> {
  taskId: string;
  tryNumber: number;
  /** The task's fixed `args` with, for a mapped instance, its own element of each mapped one. */
  args: Record<string, unknown>;
  /** Output of a direct upstream task, typed by the upstream's declaration. */
  output<T>(upstream: TaskRef<T>): T;
  /** Outputs of all direct upstream tasks by task id; a mapped upstream gives the list of its instances' outputs, in order. */
  outputs: Record<string, unknown>;
  /** Ends the task as skipped. */
  skip(reason?: string): never;
  /** Aborted when the task is cancelled or times out. */
  signal: AbortSignal;
  /**
   * A connection, read by the worker from its secrets backends when asked (never stored with
   * the task); its password and secret extras are masked in the task's log, output and errors.
   * Unknown: rejects naming the connection and every backend tried.
   */
  conn(id: string): Promise<Connection>;
  /** A variable's value (`fallback` when no backend has it); `.json(key)` parses it. */
  variable: VariableReader;
}

export interface VariableReader {
  (key: string, fallback?: string): Promise<string>;
  json<T = unknown>(key: string, fallback?: T): Promise<T>;
}

/** Thrown by `ctx.skip()`; the worker records the task as skipped. */
export class SkipSignal extends Error {
  constructor(reason = 'skipped by the task') {
    super(reason);
    this.name = 'SkipSignal';
  }
}
