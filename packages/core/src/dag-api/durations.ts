import ms from 'ms';

/** A duration as DAG authors write it: milliseconds, or a string such as `30s`, `5m`, `1h`. */
export type Duration = number | string;

/** Parses a duration to milliseconds; returns an error message instead of throwing. */
export function parseDuration(value: Duration): number | string {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? value : `must be a non-negative number of ms (got ${value})`;
  }
  const parsed = ms(value as ms.StringValue) as number | undefined;
  if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed < 0) {
    return `must be a duration like "30s", "5m" or a number of ms (got ${JSON.stringify(value)})`;
  }
  return parsed;
}
