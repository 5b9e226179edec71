import type { SensorCheck, SensorSpec } from '../model/dag.js';
import { ID_PATTERN } from '../model/ids.js';
import { DEFAULT_SENSOR_POKE_INTERVAL_MS, DEFAULT_SENSOR_TIMEOUT_MS } from '../model/sensor.js';
import { RUN_STATES, TASK_STATES } from '../model/states.js';
import { parseDuration, type Duration } from './durations.js';
import type { HttpSensorMethod } from './options.js';
import type { ValidationIssues } from './validation.js';

/** Which sensor an operator declared; set by the operator methods, not by authors. */
export const SENSOR_TYPE = 'sensorType';
export type SensorType = SensorCheck['type'];

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const satisfies readonly HttpSensorMethod[];
const MIN_POKE_INTERVAL_MS = 100;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Validates a sensor's options (wait options and its check); each problem names its field. */
export function validateSensorOptions(o: Record<string, unknown>, at: string, issues: ValidationIssues, line?: number): SensorSpec {
  const duration = (field: string, fallback: number, min = 0): number => {
    const v = o[field];
    if (v === undefined) return fallback;
    const ms = parseDuration(v as Duration);
    if (typeof ms === 'string') issues.add(field, `${at}: ${field} ${ms}`, line);
    else if (ms < min) issues.add(field, `${at}: ${field} must be at least ${min} ms (got ${ms} ms)`, line);
    else return ms;
    return fallback;
  };
  const flag = (field: string): boolean => {
    const v = o[field] ?? false;
    if (typeof v !== 'boolean') issues.add(field, `${at}: ${field} must be true or false (got ${JSON.stringify(v)})`, line);
    return v === true;
  };
  const pokeIntervalMs = duration('pokeInterval', DEFAULT_SENSOR_POKE_INTERVAL_MS, MIN_POKE_INTERVAL_MS);
  const timeoutMs = duration('timeout', DEFAULT_SENSOR_TIMEOUT_MS, 1);
  const mode = o['mode'] ?? 'poke';
  if (mode !== 'poke' && mode !== 'reschedule') issues.add('mode', `${at}: mode must be "poke" or "reschedule" (got ${JSON.stringify(mode)})`, line);
  const exponentialBackoff = flag('exponentialBackoff');
  let maxWaitMs: number | null = null;
  if (o['maxWait'] !== undefined) {
    maxWaitMs = duration('maxWait', pokeIntervalMs, MIN_POKE_INTERVAL_MS);
    if (!exponentialBackoff) issues.add('maxWait', `${at}: maxWait caps the exponential backoff; set exponentialBackoff: true or drop maxWait`, line);
  }
  return {
    check: sensorCheck(o, at, issues, line),
    pokeIntervalMs,
    timeoutMs,
    mode: mode === 'reschedule' ? 'reschedule' : 'poke',
    exponentialBackoff,
    maxWaitMs,
    softFail: flag('softFail'),
  };
}

function sensorCheck(o: Record<string, unknown>, at: string, issues: ValidationIssues, line?: number): SensorCheck {
  const type = o[SENSOR_TYPE] as SensorType;
  const text = (field: string, required: boolean): string | undefined => {
    const v = o[field];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || v.trim() === '') {
      issues.add(field, `${at}: ${field} must be a non-empty string (got ${JSON.stringify(v)})`, line);
      return undefined;
    }
    return v;
  };
  switch (type) {
    case 'fn':
      if (typeof o['poke'] !== 'function')
        issues.add('poke', `${at}: poke must be a function that returns falsy (not yet), true (done) or a value (done, the output)`, line);
      return { type };
    case 'file':
      return { type, path: text('path', true) ?? '' };
    case 'http': {
      const url = text('url', true) ?? '';
      // A URL with templates is checked once rendered; a literal one now.
      if (url && !url.includes('{{') && !/^https?:\/\/[^/\s]+/i.test(url)) {
        issues.add('url', `${at}: url must be an http:// or https:// URL (got ${JSON.stringify(url)})`, line);
      }
      const method = o['method'] ?? 'GET';
      if (!(METHODS as readonly unknown[]).includes(method))
        issues.add('method', `${at}: method must be one of ${METHODS.join(', ')} (got ${JSON.stringify(method)})`, line);
      const headers = o['headers'] ?? {};
      if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
        issues.add('headers', `${at}: headers must be an object of strings`, line);
      } else {
        // Names only: a header's value may be a secret.
        for (const [k, v] of Object.entries(headers)) if (typeof v !== 'string') issues.add(`headers.${k}`, `${at}: headers.${k} must be a string`, line);
      }
      const check = o['responseCheck'];
      if (check !== undefined && typeof check !== 'function')
        issues.add('responseCheck', `${at}: responseCheck must be a function (got ${typeof check})`, line);
      let requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS;
      if (o['requestTimeout'] !== undefined) {
        const ms = parseDuration(o['requestTimeout'] as Duration);
        if (typeof ms === 'string' || ms < 1)
          issues.add('requestTimeout', `${at}: requestTimeout ${typeof ms === 'string' ? ms : 'must be at least 1 ms'}`, line);
        else requestTimeoutMs = ms;
      }
      return {
        type,
        url,
        method: method as string,
        headers: headers as Record<string, string>,
        body: text('body', false),
        requestTimeoutMs,
        hasResponseCheck: typeof check === 'function',
      };
    }
    case 'externalTask': {
      const externalDagId = o['externalDagId'];
      if (typeof externalDagId !== 'string' || !ID_PATTERN.test(externalDagId)) {
        issues.add('externalDagId', `${at}: externalDagId must be a DAG id (letters, digits, "_", "-" or ".") (got ${JSON.stringify(externalDagId)})`, line);
      }
      const externalTaskId = o['externalTaskId'];
      if (externalTaskId !== undefined && (typeof externalTaskId !== 'string' || !ID_PATTERN.test(externalTaskId))) {
        issues.add('externalTaskId', `${at}: externalTaskId must be a task id (got ${JSON.stringify(externalTaskId)})`, line);
      }
      const ofTask = externalTaskId !== undefined;
      const valid: readonly string[] = ofTask ? TASK_STATES : RUN_STATES;
      const states = (field: string, fallback: string[]): string[] => {
        const v = o[field] ?? fallback;
        if (!Array.isArray(v) || !v.every((s) => valid.includes(s as string))) {
          issues.add(field, `${at}: ${field} must be a list of ${ofTask ? 'task' : 'run'} states (${valid.join(', ')}) (got ${JSON.stringify(v)})`, line);
          return [];
        }
        return [...new Set(v as string[])];
      };
      const allowedStates = states('allowedStates', ['success']);
      if (o['allowedStates'] !== undefined && allowedStates.length === 0)
        issues.add('allowedStates', `${at}: allowedStates must name at least one state`, line);
      const failedDefault = (ofTask ? ['failed', 'upstream_failed'] : ['failed']).filter((s) => !allowedStates.includes(s));
      const failedStates = states('failedStates', failedDefault);
      const both = allowedStates.filter((s) => failedStates.includes(s));
      if (both.length) issues.add('failedStates', `${at}: ${both.join(', ')} cannot be in both allowedStates and failedStates`, line);
      let executionDeltaMs = 0;
      if (o['executionDelta'] !== undefined) {
        const ms = parseDuration(o['executionDelta'] as Duration);
        if (typeof ms === 'string') issues.add('executionDelta', `${at}: executionDelta ${ms}`, line);
        else executionDeltaMs = ms;
      }
      return {
        type,
        externalDagId: externalDagId as string,
        ...(typeof externalTaskId === 'string' ? { externalTaskId } : {}),
        allowedStates,
        failedStates,
        executionDeltaMs,
      };
    }
    default:
      issues.add(SENSOR_TYPE, `${at}: unknown sensor type ${JSON.stringify(type)}`, line);
      return { type: 'fn' };
  }
}
