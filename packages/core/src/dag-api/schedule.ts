import { Cron } from 'croner';
import type { Schedule, TimeSchedule } from '../model/dag.js';
import { parseDuration, type Duration } from './durations.js';

/** Cron presets as Airflow (and cron) name them. */
const PRESETS: Record<string, string> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

export interface DataInterval {
  start: Date;
  end: Date;
}

/** A schedule as DAG authors write it. */
export type ScheduleInput = string | { every: Duration } | { datasets: readonly string[] } | null;

/** Parses a DAG's schedule; returns an error message (to be placed by the caller) when it is bad. */
export function parseSchedule(input: ScheduleInput, timezone: string): Schedule | string {
  if (input === null || input === undefined) return null;
  if (typeof input === 'string') {
    const expression = PRESETS[input.trim()] ?? input.trim();
    if (expression.split(/\s+/).length !== 5) {
      return `"${input}" is not a 5-field cron expression (minute hour day-of-month month day-of-week) or a preset (${Object.keys(PRESETS).join(', ')})`;
    }
    try {
      new Cron(expression, { paused: true, timezone: safeZone(timezone) });
    } catch (err) {
      return `"${input}" is not a valid cron expression: ${(err as Error).message}`;
    }
    return { kind: 'cron', expression };
  }
  if (typeof input === 'object' && 'every' in input) {
    const everyMs = parseDuration(input.every);
    if (typeof everyMs === 'string') return `every ${everyMs}`;
    if (everyMs < 1000) return `every must be at least 1s (got ${everyMs} ms)`;
    return { kind: 'interval', everyMs };
  }
  if (typeof input === 'object' && 'datasets' in input) {
    const uris = input.datasets as unknown;
    const problem = datasetListProblem(uris);
    if (problem) return `.datasets ${problem}`;
    return { kind: 'datasets', uris: [...(uris as string[])] };
  }
  return `must be a cron expression, a preset, { every: '10m' }, { datasets: ['uri', …] } or null (got ${JSON.stringify(input)})`;
}

/** What is wrong with a list of dataset URIs (a schedule's or a task's outlets), if anything. */
export function datasetListProblem(v: unknown): string | undefined {
  if (!Array.isArray(v) || v.length === 0) return `must be a non-empty list of dataset URIs or names (got ${JSON.stringify(v)})`;
  const bad = v.find((u) => typeof u !== 'string' || u.trim() === '' || u !== u.trim() || u.length > 1000);
  if (bad !== undefined) return `must hold non-empty strings without surrounding spaces, at most 1000 characters (got ${JSON.stringify(bad)})`;
  const dup = v.find((u, i) => v.indexOf(u) !== i);
  if (dup !== undefined) return `names "${String(dup)}" twice`;
  return undefined;
}

const zones = new Map<string, string>();

/** The zone itself when the runtime knows it, else UTC (validation reports bad zones). */
function safeZone(tz: string): string {
  let z = zones.get(tz);
  if (z === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      z = tz;
    } catch {
      z = 'UTC';
    }
    zones.set(tz, z);
  }
  return z;
}

/** Ticks of a schedule: the boundaries between data intervals. */
interface Ticks {
  /** First tick strictly after `t`. */
  after(t: Date): Date | null;
  /** Last tick strictly before `t`. */
  before(t: Date): Date | null;
}

function ticksOf(schedule: TimeSchedule, timezone: string, startDate: Date): Ticks {
  if (schedule.kind === 'interval') {
    const every = schedule.everyMs;
    const origin = startDate.getTime();
    return {
      after: (t) => new Date(origin + Math.max(0, Math.floor((t.getTime() - origin) / every) + 1) * every),
      before: (t) => {
        const k = Math.ceil((t.getTime() - origin) / every) - 1;
        return k < 0 ? null : new Date(origin + k * every);
      },
    };
  }
  const cron = new Cron(schedule.expression, { paused: true, timezone: safeZone(timezone) });
  const after = (t: Date): Date | null => cron.nextRun(t);
  return {
    after,
    before: (t) => {
      // Look back over growing windows; walking forward inside a window finds the last tick.
      for (let window = 60_000; window <= 800 * 86_400_000; window *= 4) {
        let tick = after(new Date(t.getTime() - window));
        if (tick && tick < t) {
          for (let next = after(tick); next && next < t; next = after(tick)) tick = next;
          return tick;
        }
      }
      return null;
    },
  };
}

/** The first data interval, starting at the first tick at or after startDate. */
function firstInterval(ticks: Ticks, startDate: Date): DataInterval | null {
  const start = ticks.after(new Date(startDate.getTime() - 1));
  const end = start && ticks.after(start);
  return start && end ? { start, end } : null;
}

export interface DueInput {
  schedule: Schedule;
  timezone: string;
  startDate: Date;
  endDate: Date | null;
  catchup: boolean;
  /** End of the last interval a run was created for, or null before the first run. */
  lastIntervalEnd: Date | null;
  now: Date;
  /** At most this many intervals (catchup). */
  limit: number;
}

/**
 * Data intervals whose end has passed and that still need a run, oldest first, with
 * Airflow's meaning: a run's logical date is its interval's start, and it is created once the
 * interval has ended. With catchup every missed interval is returned (up to `limit`);
 * without, only the latest complete one.
 */
export function dueIntervals(i: DueInput): DataInterval[] {
  if (!i.schedule || i.schedule.kind === 'datasets') return [];
  if (i.schedule.kind === 'interval' && !i.catchup) {
    const iv = latestInterval(i.schedule.everyMs, i.startDate, i.lastIntervalEnd, i.now);
    return iv.end <= i.now && (!i.endDate || iv.start <= i.endDate) ? [iv] : [];
  }
  const ticks = ticksOf(i.schedule, i.timezone, i.startDate);
  const first = firstInterval(ticks, i.startDate);
  if (!first) return [];
  const inRange = (iv: DataInterval) => iv.end <= i.now && (!i.endDate || iv.start <= i.endDate);
  const out: DataInterval[] = [];
  if (i.catchup || i.lastIntervalEnd === null) {
    let iv: DataInterval | null =
      i.lastIntervalEnd && i.lastIntervalEnd >= first.start ? { start: i.lastIntervalEnd, end: ticks.after(i.lastIntervalEnd)! } : first;
    if (!i.catchup) {
      // First run without catchup: only the latest complete interval.
      const latestEnd = ticks.before(new Date(i.now.getTime() + 1));
      const latestStart = latestEnd && ticks.before(latestEnd);
      if (!latestEnd || !latestStart || latestStart < first.start) return inRange(first) ? [first] : [];
      iv = { start: latestStart, end: latestEnd };
      return inRange(iv) ? [iv] : [];
    }
    while (iv && inRange(iv) && out.length < i.limit) {
      out.push(iv);
      const end: Date | null = ticks.after(iv.end);
      iv = end ? { start: iv.end, end } : null;
    }
    return out;
  }
  // No catchup, runs exist: the latest complete interval if it is newer than the last run's.
  const latestEnd = ticks.before(new Date(i.now.getTime() + 1));
  const latestStart = latestEnd && ticks.before(latestEnd);
  if (!latestEnd || !latestStart || latestEnd <= i.lastIntervalEnd || latestStart < first.start) return [];
  const iv = { start: latestStart, end: latestEnd };
  return inRange(iv) ? [iv] : [];
}

/**
 * The next interval of a fixed-interval schedule without catchup, lined up as Airflow 2.8+
 * does: on multiples of the interval since the Unix epoch (UTC), the latest that has ended,
 * never starting before startDate nor before the end of the last run's interval. So
 * `every: '1h'` runs on the hour, whatever minute startDate names.
 */
function latestInterval(everyMs: number, startDate: Date, lastIntervalEnd: Date | null, now: Date): DataInterval {
  const earliest = Math.max(Math.floor(now.getTime() / everyMs) * everyMs - everyMs, startDate.getTime());
  const start = Math.max(earliest, lastIntervalEnd?.getTime() ?? -Infinity);
  return { start: new Date(start), end: new Date(start + everyMs) };
}

/**
 * The data interval of a manual run of a time-scheduled DAG triggered at `runAfter`, as
 * Airflow 2 infers it: for a cron schedule the last complete interval (triggered at 01:00
 * on the 25th, a daily DAG's run covers the 24th), for a fixed interval the one that ends at
 * `runAfter`. Null for a DAG without a time schedule: its run's interval is empty.
 */
export function manualDataInterval(schedule: Schedule, timezone: string, startDate: Date, runAfter: Date): DataInterval | null {
  if (!schedule || schedule.kind === 'datasets') return null;
  if (schedule.kind === 'interval') return { start: new Date(runAfter.getTime() - schedule.everyMs), end: runAfter };
  const ticks = ticksOf(schedule, timezone, startDate);
  const end = ticks.before(new Date(runAfter.getTime() + 1));
  const start = end && ticks.before(end);
  return end && start ? { start, end } : null;
}

/**
 * Every data interval whose start (the run's logical date) lies in [from, to], oldest first,
 * for a backfill. At most `limit`; more is an error naming the range.
 */
export function intervalsBetween(schedule: TimeSchedule, timezone: string, startDate: Date, from: Date, to: Date, limit = 10_000): DataInterval[] {
  const ticks = ticksOf(schedule, timezone, startDate);
  const out: DataInterval[] = [];
  // Each interval's end is the next one's start: one tick computed per interval.
  for (let start = ticks.after(new Date(from.getTime() - 1)), end: Date | null; start && start <= to; start = end) {
    end = ticks.after(start);
    if (!end) break;
    if (out.length === limit) throw new Error(`the range ${from.toISOString()} .. ${to.toISOString()} holds more than ${limit} intervals`);
    out.push({ start, end });
  }
  return out;
}

/** When the next run will be created (the end of the next interval), for display. */
export function nextRunAt(i: Omit<DueInput, 'limit'>): Date | null {
  if (!i.schedule || i.schedule.kind === 'datasets') return null;
  const ticks = ticksOf(i.schedule, i.timezone, i.startDate);
  const first = firstInterval(ticks, i.startDate);
  if (!first) return null;
  if (i.schedule.kind === 'interval' && !i.catchup) {
    const iv = latestInterval(i.schedule.everyMs, i.startDate, i.lastIntervalEnd, i.now);
    // Due now (the scheduler makes it at its next tick), or once its interval has ended.
    return i.endDate && iv.start > i.endDate ? null : iv.end;
  }
  const from = i.lastIntervalEnd && i.lastIntervalEnd > first.start ? i.lastIntervalEnd : first.start;
  let end = ticks.after(from);
  if (!i.catchup) {
    const nowEnd = ticks.after(i.now);
    if (nowEnd && end && nowEnd > end) end = nowEnd;
  }
  if (!end) return null;
  const start = ticks.before(end);
  if (i.endDate && start && start > i.endDate) return null;
  return end;
}

/** A schedule in a few words. */
export function describeSchedule(schedule: Schedule): string {
  if (!schedule) return 'manual only';
  if (schedule.kind === 'datasets') return `on datasets ${schedule.uris.join(', ')}`;
  if (schedule.kind === 'interval') {
    const s = schedule.everyMs / 1000;
    if (s % 86400 === 0) return `every ${s / 86400} day(s)`;
    if (s % 3600 === 0) return `every ${s / 3600} hour(s)`;
    if (s % 60 === 0) return `every ${s / 60} minute(s)`;
    return `every ${s} s`;
  }
  return `cron ${schedule.expression}`;
}

/** A date as YYYY-MM-DD in a time zone (Airflow's `ds`). */
const dayFormats = new Map<string, Intl.DateTimeFormat>();

export function ds(date: Date, timezone: string): string {
  if (timezone === 'UTC' || timezone === 'Etc/UTC') return date.toISOString().slice(0, 10);
  let f = dayFormats.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: safeZone(timezone), year: 'numeric', month: '2-digit', day: '2-digit' });
    dayFormats.set(timezone, f);
  }
  const parts = f.formatToParts(date);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')}`;
}
