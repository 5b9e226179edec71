import { describe, expect, it } from 'vitest';
import { ds, dueIntervals, manualDataInterval, nextRunAt, parseSchedule, type DueInput } from '../src/index.js';

const iso = (d: Date) => d.toISOString();
const HOUR = 3_600_000;

function due(schedule: string | { every: string }, over: Partial<DueInput> & { timezone?: string }): { start: string; end: string }[] {
  const tz = over.timezone ?? 'UTC';
  const s = parseSchedule(schedule, tz);
  if (typeof s === 'string') throw new Error(s);
  return dueIntervals({
    schedule: s,
    timezone: tz,
    startDate: new Date('2026-01-01T00:00:00Z'),
    endDate: null,
    catchup: true,
    lastIntervalEnd: null,
    now: new Date('2026-01-03T12:00:00Z'),
    limit: 100,
    ...over,
  }).map((iv) => ({ start: iso(iv.start), end: iso(iv.end) }));
}

describe('schedules', () => {
  it('parses cron, presets and fixed intervals, and rejects what is not one', () => {
    expect(parseSchedule('*/10 * * * *', 'UTC')).toEqual({ kind: 'cron', expression: '*/10 * * * *' });
    expect(parseSchedule('@daily', 'UTC')).toMatchObject({ kind: 'cron' });
    expect(parseSchedule({ every: '90m' }, 'UTC')).toEqual({ kind: 'interval', everyMs: 90 * 60_000 });
    expect(parseSchedule(null, 'UTC')).toBeNull();
    expect(parseSchedule('61 * * * *', 'UTC')).toMatch(/not a valid cron expression/);
    expect(parseSchedule({ every: '500ms' }, 'UTC')).toMatch(/at least 1s/);
    expect(parseSchedule({ every: 'soon' }, 'UTC')).toMatch(/every/);
  });

  it('with catchup, creates every missed interval since startDate, oldest first, up to the limit', () => {
    const all = due('@daily', {});
    expect(all).toEqual([
      { start: '2026-01-01T00:00:00.000Z', end: '2026-01-02T00:00:00.000Z' },
      { start: '2026-01-02T00:00:00.000Z', end: '2026-01-03T00:00:00.000Z' },
    ]);
    expect(due('@hourly', { limit: 5 })).toHaveLength(5);
    // Resuming after the last run's interval.
    expect(due('@daily', { lastIntervalEnd: new Date('2026-01-02T00:00:00Z') })).toEqual([
      { start: '2026-01-02T00:00:00.000Z', end: '2026-01-03T00:00:00.000Z' },
    ]);
  });

  it('without catchup, creates only the latest complete interval, and nothing twice', () => {
    expect(due('@hourly', { catchup: false })).toEqual([{ start: '2026-01-03T11:00:00.000Z', end: '2026-01-03T12:00:00.000Z' }]);
    expect(due('@hourly', { catchup: false, lastIntervalEnd: new Date('2026-01-03T12:00:00Z') })).toEqual([]);
  });

  it('stops at endDate and does not start before startDate', () => {
    expect(due('@daily', { endDate: new Date('2026-01-01T12:00:00Z') })).toEqual([{ start: '2026-01-01T00:00:00.000Z', end: '2026-01-02T00:00:00.000Z' }]);
    expect(due('@daily', { startDate: new Date('2026-01-05T00:00:00Z') })).toEqual([]);
  });

  it('runs fixed intervals from startDate', () => {
    const ivs = due({ every: '90m' }, { now: new Date('2026-01-01T05:00:00Z') });
    expect(ivs.map((i) => i.start)).toEqual(['2026-01-01T00:00:00.000Z', '2026-01-01T01:30:00.000Z', '2026-01-01T03:00:00.000Z']);
  });

  it('without catchup, lines a fixed interval up on multiples of it since the epoch, as Airflow 2.8+ does', () => {
    // startDate at 00:15 with `every: 30m`: runs on :00 and :30, the latest that has ended.
    const at = (now: string, over: Partial<DueInput> = {}) =>
      due({ every: '30m' }, { catchup: false, startDate: new Date('2026-01-01T00:15:00Z'), now: new Date(now), ...over });
    expect(at('2026-01-03T12:10:00Z')).toEqual([{ start: '2026-01-03T11:30:00.000Z', end: '2026-01-03T12:00:00.000Z' }]);
    // The next once its interval has ended, and nothing twice.
    const last = new Date('2026-01-03T12:00:00Z');
    expect(at('2026-01-03T12:20:00Z', { lastIntervalEnd: last })).toEqual([]);
    expect(at('2026-01-03T12:30:00Z', { lastIntervalEnd: last })).toEqual([{ start: '2026-01-03T12:00:00.000Z', end: '2026-01-03T12:30:00.000Z' }]);
    // After a pause of hours, the latest interval only.
    expect(at('2026-01-03T18:45:00Z', { lastIntervalEnd: last })).toEqual([{ start: '2026-01-03T18:00:00.000Z', end: '2026-01-03T18:30:00.000Z' }]);
    // Never before startDate: a DAG that starts at 12:15 gets [12:15, 12:45) first.
    expect(at('2026-01-03T12:40:00Z', { startDate: new Date('2026-01-03T12:15:00Z') })).toEqual([]);
    expect(at('2026-01-03T12:50:00Z', { startDate: new Date('2026-01-03T12:15:00Z') })).toEqual([
      { start: '2026-01-03T12:15:00.000Z', end: '2026-01-03T12:45:00.000Z' },
    ]);
    const s = parseSchedule({ every: '30m' }, 'UTC');
    if (typeof s === 'string') throw new Error(s);
    const input = {
      schedule: s,
      timezone: 'UTC',
      startDate: new Date('2026-01-01T00:15:00Z'),
      endDate: null,
      catchup: false,
      now: new Date('2026-01-03T12:20:00Z'),
    };
    expect(nextRunAt({ ...input, lastIntervalEnd: last })?.toISOString()).toBe('2026-01-03T12:30:00.000Z');
  });

  it("gives a manual run of a scheduled DAG the last complete interval of its schedule (Airflow 2's inferred interval)", () => {
    const manual = (schedule: string | { every: string }, runAfter: string, tz = 'UTC') => {
      const s = parseSchedule(schedule, tz);
      if (typeof s === 'string') throw new Error(s);
      const iv = manualDataInterval(s, tz, new Date('2026-01-01T00:00:00Z'), new Date(runAfter));
      return iv && { start: iso(iv.start), end: iso(iv.end) };
    };
    // Triggered at 01:00 on the 25th, a daily DAG's run covers the 24th.
    expect(manual('@daily', '2026-01-25T01:00:00Z')).toEqual({ start: '2026-01-24T00:00:00.000Z', end: '2026-01-25T00:00:00.000Z' });
    // On a tick exactly: the interval that ends there.
    expect(manual('@hourly', '2026-01-25T06:00:00Z')).toEqual({ start: '2026-01-25T05:00:00.000Z', end: '2026-01-25T06:00:00.000Z' });
    // In the DAG's time zone: a day in Berlin is 23:00 to 23:00 UTC in winter.
    expect(manual('@daily', '2026-01-25T12:00:00Z', 'Europe/Berlin')).toEqual({ start: '2026-01-23T23:00:00.000Z', end: '2026-01-24T23:00:00.000Z' });
    // A fixed interval: the one that ends when it was triggered.
    expect(manual({ every: '2h' }, '2026-01-25T01:30:00Z')).toEqual({ start: '2026-01-24T23:30:00.000Z', end: '2026-01-25T01:30:00.000Z' });
    expect(manualDataInterval(null, 'UTC', new Date(), new Date())).toBeNull();
  });

  it('keeps cron in the DAG time zone across spring forward (Europe/Berlin, 2026-03-29): a 23-hour day', () => {
    const ivs = due('0 0 * * *', {
      timezone: 'Europe/Berlin',
      startDate: new Date('2026-03-27T23:00:00Z'),
      now: new Date('2026-03-31T00:00:00Z'),
    });
    expect(ivs.map((i) => i.start)).toEqual(['2026-03-27T23:00:00.000Z', '2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z']);
    const lengths = ivs.map((i) => (Date.parse(i.end) - Date.parse(i.start)) / HOUR);
    expect(lengths).toEqual([24, 23, 24]);
    expect(ivs.map((i) => ds(new Date(i.start), 'Europe/Berlin'))).toEqual(['2026-03-28', '2026-03-29', '2026-03-30']);
  });

  it('keeps cron in the DAG time zone across fall back (America/New_York, 2026-11-01): a 25-hour day', () => {
    const ivs = due('0 0 * * *', {
      timezone: 'America/New_York',
      startDate: new Date('2026-10-31T04:00:00Z'),
      now: new Date('2026-11-03T06:00:00Z'),
    });
    expect(ivs.map((i) => i.start)).toEqual(['2026-10-31T04:00:00.000Z', '2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z']);
    expect(ivs.map((i) => (Date.parse(i.end) - Date.parse(i.start)) / HOUR)).toEqual([24, 25, 24]);
  });

  it('formats ds in the DAG time zone', () => {
    const t = new Date('2026-06-30T23:30:00Z');
    expect(ds(t, 'UTC')).toBe('2026-06-30');
    expect(ds(t, 'Europe/Berlin')).toBe('2026-07-01');
    expect(ds(t, 'America/Los_Angeles')).toBe('2026-06-30');
  });
});
