import { ds as dsOf, type SerializedDag, type SerializedTask, type TemplateInfo } from '@aloft/core';
import type { RunMessage } from '../fn-runner.js';
import type { CallbackContextData } from '../task-context.js';

/** The DAG's params with the run's conf on top. */
export function runParams(dag: SerializedDag, conf: Record<string, unknown>): Record<string, unknown> {
  return { ...Object.fromEntries(Object.entries(dag.params).map(([k, p]) => [k, p.default])), ...conf };
}

/** The run part of a task's or a callback's context. */
export function runContextData(
  dag: SerializedDag,
  info: Pick<TemplateInfo, 'runId' | 'logicalDate' | 'dataIntervalStart' | 'dataIntervalEnd' | 'params' | 'conf'>,
): Pick<CallbackContextData, 'dagId' | 'runId' | 'logicalDate' | 'dataIntervalStart' | 'dataIntervalEnd' | 'ds' | 'params' | 'conf'> {
  return {
    dagId: dag.id,
    runId: info.runId,
    logicalDate: info.logicalDate.getTime(),
    dataIntervalStart: info.dataIntervalStart.getTime(),
    dataIntervalEnd: info.dataIntervalEnd.getTime(),
    ds: dsOf(info.logicalDate, dag.timezone),
    params: info.params,
    conf: info.conf,
  };
}

/** Variables every command and pod gets: which try of which task this is. */
export function aloftEnv(dag: SerializedDag, task: SerializedTask, info: TemplateInfo): Record<string, string> {
  return {
    ALOFT_DAG_ID: dag.id,
    ALOFT_TASK_ID: task.id,
    ALOFT_RUN_ID: info.runId,
    ALOFT_TRY_NUMBER: String(info.tryNumber),
    ALOFT_LOGICAL_DATE: info.logicalDate.toISOString(),
    ALOFT_DS: dsOf(info.logicalDate, dag.timezone),
  };
}

/** What a function task's context is built from, as plain data (for a runner thread or a pod). */
export function fnContext(dag: SerializedDag, info: TemplateInfo): RunMessage['ctx'] {
  return { ...runContextData(dag, info), taskId: info.taskId, mapIndex: info.mapIndex, tryNumber: info.tryNumber, args: info.args, outputs: info.outputs };
}
