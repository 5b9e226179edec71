import type { SensorSpec } from './dag.js';

/** Airflow's sensor defaults: poke every minute, give up after seven days. */
export const DEFAULT_SENSOR_POKE_INTERVAL_MS = 60_000;
export const DEFAULT_SENSOR_TIMEOUT_MS = 7 * 24 * 3_600_000;

/** What one poke said: not yet, or done (with the task's output, JSON, when it has one). */
export type PokeVerdict = { done: false } | { done: true; outputJson?: string | undefined };

/**
 * Reads a poke's return value (JSON, undefined when nothing was returned) as Airflow reads
 * a PokeReturnValue: falsy is "not yet", `true` is done, any other truthy value is done and
 * becomes the task's output for downstream tasks.
 */
export function pokeVerdict(valueJson: string | undefined): PokeVerdict {
  if (valueJson === undefined) return { done: false };
  const value = JSON.parse(valueJson) as unknown;
  if (!value) return { done: false };
  return value === true ? { done: true } : { done: true, outputJson: valueJson };
}

/**
 * Milliseconds until the next poke after `pokes` pokes (≥ 1) that said "not yet", `elapsedMs`
 * after the first one. Without backoff: the poke interval. With exponentialBackoff: a random
 * delay in [b, 2b) where b = interval × 2^(pokes − 1), so gaps grow and sensors started
 * together spread out (Airflow jitters the same way), capped by maxWait. Never past the
 * timeout: the last poke happens when the timeout is reached.
 */
export function nextPokeDelay(
  spec: Pick<SensorSpec, 'pokeIntervalMs' | 'timeoutMs' | 'exponentialBackoff' | 'maxWaitMs'>,
  pokes: number,
  elapsedMs: number,
  random: () => number = Math.random,
): number {
  let delay = spec.pokeIntervalMs;
  if (spec.exponentialBackoff) {
    const base = Math.max(1, spec.pokeIntervalMs * 2 ** Math.min(Math.max(pokes - 1, 0), 40));
    delay = base + Math.floor(random() * base);
    if (spec.maxWaitMs !== null) delay = Math.min(delay, spec.maxWaitMs);
  }
  return Math.max(0, Math.min(delay, spec.timeoutMs - elapsedMs));
}
