import type { TriggerDagRunSpec } from '../model/dag.js';
import { ID_PATTERN } from '../model/ids.js';
import { parseDuration } from './durations.js';
import type { ValidationIssues } from './validation.js';

const END_STATES = ['success', 'failed'] as const;
type EndState = (typeof END_STATES)[number];

/** Default time between two checks of the triggered run while waiting for it. */
export const DEFAULT_POKE_INTERVAL_MS = 5000;

/** Validates a `triggerDagRun` task's options; each problem names its field. */
export function validateTriggerDagRunOptions(o: Record<string, unknown>, at: string, issues: ValidationIssues, line?: number): TriggerDagRunSpec {
  const dagId = o['dagId'];
  if (typeof dagId !== 'string' || !ID_PATTERN.test(dagId)) {
    issues.add('dagId', `${at}: dagId must be the id of the DAG to trigger (letters, digits, "_", "-" or ".") (got ${JSON.stringify(dagId)})`, line);
  }
  const conf = o['conf'] ?? {};
  if (conf === null || typeof conf !== 'object' || Array.isArray(conf)) {
    issues.add('conf', `${at}: conf must be an object (got ${JSON.stringify(conf)})`, line);
  } else {
    try {
      JSON.stringify(conf);
    } catch (err) {
      issues.add('conf', `${at}: conf must be JSON: ${(err as Error).message}`, line);
    }
  }
  const runId = o['runId'];
  if (runId !== undefined && (typeof runId !== 'string' || runId.trim() === '' || runId.length > 250)) {
    issues.add('runId', `${at}: runId must be a non-empty string of at most 250 characters (got ${JSON.stringify(runId)})`, line);
  }
  const wait = o['waitForCompletion'] ?? false;
  if (typeof wait !== 'boolean') issues.add('waitForCompletion', `${at}: waitForCompletion must be true or false (got ${JSON.stringify(wait)})`, line);
  let pokeIntervalMs = DEFAULT_POKE_INTERVAL_MS;
  if (o['pokeInterval'] !== undefined) {
    const ms = parseDuration(o['pokeInterval'] as number | string);
    if (typeof ms === 'string') issues.add('pokeInterval', `${at}: pokeInterval ${ms}`, line);
    else if (ms < 100) issues.add('pokeInterval', `${at}: pokeInterval must be at least 100 ms (got ${ms} ms)`, line);
    else pokeIntervalMs = ms;
  }
  const allowedStates = endStates(o['allowedStates'] ?? ['success'], 'allowedStates', at, issues, line);
  const failedStates = endStates(o['failedStates'] ?? ['failed'], 'failedStates', at, issues, line);
  const both = allowedStates.filter((s) => failedStates.includes(s));
  if (both.length) issues.add('failedStates', `${at}: ${both.join(', ')} cannot be in both allowedStates and failedStates`, line);
  return {
    dagId: dagId as string,
    conf: conf as Record<string, unknown>,
    ...(typeof runId === 'string' ? { runId } : {}),
    waitForCompletion: wait === true,
    pokeIntervalMs,
    allowedStates,
    failedStates,
  };
}

function endStates(v: unknown, field: string, at: string, issues: ValidationIssues, line?: number): EndState[] {
  if (!Array.isArray(v) || !v.every((s) => (END_STATES as readonly unknown[]).includes(s))) {
    issues.add(field, `${at}: ${field} must be a list of run end states (${END_STATES.join(', ')}) (got ${JSON.stringify(v)})`, line);
    return [];
  }
  return [...new Set(v as EndState[])];
}
