import { readFileSync } from 'node:fs';
import type { Service } from './system.js';

/** What in a service's output says something went wrong, line by line. */
export interface LogProblems {
  /** pino lines at error (50) or fatal (60). */
  errors: string[];
  /** ioredis's "[ioredis] Unhandled error event" (a connection without an 'error' listener). */
  unhandledErrorEvents: string[];
  /** Node's own report of an unhandled rejection, or the services' `unhandled rejection` log. */
  unhandledRejections: string[];
}

/** Reads a service's log (stdout and stderr, JSON lines from pino) and picks out the problems. */
export function logProblems(svc: Pick<Service, 'logFile'>): LogProblems {
  const p: LogProblems = { errors: [], unhandledErrorEvents: [], unhandledRejections: [] };
  for (const line of readFileSync(svc.logFile, 'utf8').split('\n')) {
    if (line.includes('Unhandled error event')) p.unhandledErrorEvents.push(line);
    if (/unhandled ?rejection/i.test(line)) p.unhandledRejections.push(line);
    const level = pinoLevel(line);
    if (level !== undefined && level >= 50) p.errors.push(line);
  }
  return p;
}

/** The pino level of a JSON log line, or undefined for any other line. */
export function pinoLevel(line: string): number | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const v = (JSON.parse(line) as { level?: unknown }).level;
    return typeof v === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The JSON lines of a service's log whose `msg` is `msg`. */
export function logLines(svc: Pick<Service, 'logFile'>, msg: string): Record<string, unknown>[] {
  return readFileSync(svc.logFile, 'utf8')
    .split('\n')
    .filter((l) => pinoLevel(l) !== undefined)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l['msg'] === msg);
}
