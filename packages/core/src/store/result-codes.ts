import type { AloftError } from '../errors/aloft-error.js';
import { NotFoundError } from '../errors/not-found-error.js';
import { UNMAPPED } from '../model/ids.js';

/**
 * The entry scripts' negative replies, as lua/includes/result-codes.lua defines them
 * (result-codes.int.test.ts checks the two agree). Non-negative replies are results.
 */
export const RESULT_CODES = {
  DAG_NOT_STORED: -1,
  RUN_NOT_FOUND: -2,
  TI_NOT_FOUND: -3,
} as const;

export type ResultCode = (typeof RESULT_CODES)[keyof typeof RESULT_CODES];

/** What a script was called about, for the error's fields and message. */
export interface ScriptSubject {
  dagId: string;
  runId?: string;
  taskId?: string;
  mapIndex?: number;
}

const isResultCode = (r: unknown): r is ResultCode => typeof r === 'number' && (Object.values(RESULT_CODES) as number[]).includes(r);

function errorFor(code: ResultCode, s: ScriptSubject): AloftError {
  const run = `run "${s.runId ?? ''}" of DAG "${s.dagId}"`;
  switch (code) {
    case RESULT_CODES.DAG_NOT_STORED:
      return new NotFoundError('dag', s.dagId, `DAG "${s.dagId}" is not stored; is its file in the DAG folder?`);
    case RESULT_CODES.RUN_NOT_FOUND:
      return new NotFoundError('run', `${s.dagId}/${s.runId ?? ''}`, `${run} does not exist`);
    case RESULT_CODES.TI_NOT_FOUND: {
      const which = s.mapIndex === undefined || s.mapIndex === UNMAPPED ? '' : ` [${s.mapIndex}]`;
      return new NotFoundError(
        'task instance',
        `${s.dagId}/${s.runId ?? ''}/${s.taskId ?? ''}${which}`,
        `task "${s.taskId ?? ''}"${which} of ${run} does not exist`,
      );
    }
  }
}

/** A script's reply, or the typed error its result code stands for. */
export function checkResult<T>(reply: T, subject: ScriptSubject): T {
  if (isResultCode(reply)) throw errorFor(reply, subject);
  return reply;
}
