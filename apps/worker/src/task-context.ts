import { SkipSignal, type CallbackContext, type Connection, type TaskContext, type TaskRef, type VariableReader } from '@aloft/core';
import type { RunMessage } from './fn-runner.js';

type Level = 'info' | 'warn' | 'error';

/**
 * The context a task function receives, from the plain data a runner thread or a task pod
 * gets: dates as Date, outputs by upstream, a logger, skip() and the cancel signal.
 */
export function taskContext(
  c: RunMessage['ctx'],
  log: (level: Level, msg: string, args: unknown[]) => void,
  signal: AbortSignal,
  secret: (kind: 'conn' | 'var', name: string, optional: boolean) => Promise<unknown>,
): TaskContext {
  const at =
    (level: Level) =>
    (msg: string, ...args: unknown[]) =>
      log(level, msg, args);
  const variable = (async (key: string, fallback?: string) =>
    ((await secret('var', key, fallback !== undefined)) as string | undefined) ?? fallback) as VariableReader;
  variable.json = async <T>(key: string, fallback?: T): Promise<T> => {
    const text = (await secret('var', key, fallback !== undefined)) as string | undefined;
    if (text === undefined) return fallback as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new Error(`variable "${key}" is not JSON (read with ctx.variable.json)`);
    }
  };
  return {
    dagId: c.dagId,
    runId: c.runId,
    taskId: c.taskId,
    mapIndex: c.mapIndex,
    tryNumber: c.tryNumber,
    args: c.args,
    logicalDate: new Date(c.logicalDate),
    ds: c.ds,
    dataIntervalStart: new Date(c.dataIntervalStart),
    dataIntervalEnd: new Date(c.dataIntervalEnd),
    params: c.params,
    conf: c.conf,
    outputs: c.outputs,
    output<T>(upstream: TaskRef<T>): T {
      const id = typeof upstream === 'string' ? upstream : upstream.id;
      if (!(id in c.outputs)) throw new Error(`task "${id}" is not a direct upstream of "${c.taskId}" with an output`);
      return c.outputs[id] as T;
    },
    log: { info: at('info'), warn: at('warn'), error: at('error') },
    skip(reason?: string): never {
      throw new SkipSignal(reason);
    },
    signal,
    conn: async (id: string) => (await secret('conn', id, false)) as Connection,
    variable,
  };
}

/** What a callback's context is built from, as plain data for a runner thread: dates as ms. */
export type CallbackContextData = Omit<CallbackContext, 'logicalDate' | 'dataIntervalStart' | 'dataIntervalEnd' | 'log' | 'signal'> &
  Record<'logicalDate' | 'dataIntervalStart' | 'dataIntervalEnd', number>;

export function callbackContext(c: CallbackContextData, log: (level: Level, msg: string, args: unknown[]) => void, signal: AbortSignal): CallbackContext {
  const at =
    (level: Level) =>
    (msg: string, ...args: unknown[]) =>
      log(level, msg, args);
  return {
    ...c,
    logicalDate: new Date(c.logicalDate),
    dataIntervalStart: new Date(c.dataIntervalStart),
    dataIntervalEnd: new Date(c.dataIntervalEnd),
    log: { info: at('info'), warn: at('warn'), error: at('error') },
    signal,
  };
}
