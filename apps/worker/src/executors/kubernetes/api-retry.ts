import { ApiException } from '@kubernetes/client-node';

/** At most `max` calls at once; the rest wait their turn in order. */
export class Limiter {
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active >= this.max) await new Promise<void>((r) => this.#waiting.push(r));
    this.#active++;
    try {
      return await fn();
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }
}

/** The HTTP status of a failed API call, when it has one. */
export const codeOf = (err: unknown): number | undefined =>
  err instanceof ApiException ? err.code : ((err as { code?: unknown; statusCode?: unknown })?.statusCode as number | undefined);

export const isCode = (err: unknown, code: number): boolean =>
  err instanceof ApiException ? err.code === code : (err as { code?: number; statusCode?: number })?.code === code;

/** Seconds of a Retry-After header, in ms. */
function retryAfterMs(err: unknown): number | undefined {
  const h = err instanceof ApiException ? (err.headers['retry-after'] ?? err.headers['Retry-After']) : undefined;
  const s = h === undefined ? NaN : Number(h);
  return Number.isFinite(s) ? Math.min(60_000, Math.max(0, s * 1000)) : undefined;
}

/** The API server is busy or failing for now: try again after a pause. */
const isTransient = (err: unknown): boolean => {
  const c = codeOf(err);
  return (
    c === 429 ||
    (c !== undefined && c >= 500) ||
    (!(err instanceof ApiException) && /ECONNREFUSED|ECONNRESET|socket hang up|fetch failed|ETIMEDOUT/.test(String(err)))
  );
};

/** A create refused because the namespace's ResourceQuota is used up. */
export const isQuotaExceeded = (err: unknown): boolean => codeOf(err) === 403 && /exceeded quota/.test(errorText(err));

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Calls retried after 429/5xx or a full quota, for metrics and tests. */
export interface RetryStats {
  transient: number;
  quota: number;
}

/**
 * `fn`, again after 429/5xx (honouring Retry-After) until `deadline`; with `onQuota`, also
 * after a full quota (which frees up as other pods end).
 */
export async function retrying<T>(stats: RetryStats, fn: () => Promise<T>, deadline: number, onQuota?: (message: string) => void): Promise<T> {
  let delay = 200;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const quota = isQuotaExceeded(err);
      if (!(isTransient(err) || (quota && onQuota)) || Date.now() >= deadline) throw err;
      if (quota) {
        stats.quota++;
        onQuota?.(errorText(err));
      } else stats.transient++;
      const wait = retryAfterMs(err) ?? delay;
      delay = Math.min(delay * 2, quota ? 5_000 : 10_000);
      await sleep(Math.min(wait, Math.max(0, deadline - Date.now())));
    }
  }
}

/** What an API error says, with its status: `403: pods "x" is forbidden: …`. */
export function errorText(err: unknown): string {
  if (!(err instanceof ApiException)) return err instanceof Error ? err.message : String(err);
  const body = err.body as { message?: string } | string | undefined;
  if (typeof body === 'string') {
    try {
      return `${err.code}: ${(JSON.parse(body) as { message?: string }).message ?? body}`;
    } catch {
      return `${err.code}: ${body.slice(0, 300)}`;
    }
  }
  return `${err.code}: ${body?.message ?? err.message}`;
}
