import { attemptSignal } from './attempt-signal.js';
import type { Callback, CallbackContext } from './callback-context.js';
import { parseDuration, type Duration } from './durations.js';

export interface WebhookNotifierOptions {
  /** Where to POST. It may hold a secret (a token in the path): it is never logged, only its host. */
  url: string;
  /** Extra request headers (e.g. `authorization`); never logged. */
  headers?: Record<string, string>;
  /** Per attempt. Default 10s. */
  timeout?: Duration;
  /** Attempts after the first on a network error, a timeout, HTTP 429 or 5xx. Default 3. */
  retries?: number;
  /** Before the first retry; doubles for each further one. Default 1s. */
  retryDelay?: Duration;
  /** The JSON body to send instead of the default event description (e.g. Slack's `{ text }`). */
  body?: (event: WebhookEvent, ctx: CallbackContext) => unknown;
}

/** The JSON body a webhook notifier POSTs by default. */
export interface WebhookEvent {
  event: string;
  scope: 'task' | 'dag';
  dagId: string;
  runId: string;
  taskId: string | null;
  mapIndex: number;
  tryNumber: number | null;
  state: string;
  reason: string | null;
  logicalDate: string;
  dataIntervalStart: string;
  dataIntervalEnd: string;
  ds: string;
  sla: { kind: 'task' | 'run'; dueAt: string; state: string } | null;
  at: string;
}

/**
 * A callback for any slot (onFailure, onSuccess, onRetry, onExecute, onSlaMiss, task or DAG)
 * that POSTs the event as JSON, retrying with backoff; it throws once the attempts are spent,
 * which the worker logs without changing any state. Errors and log lines name the host only.
 *
 *   dag({ id: 'etl', onFailure: webhookNotifier({ url: 'https://hooks.example.com/T/123' }) })
 */
export function webhookNotifier(options: WebhookNotifierOptions): Callback {
  const url = parseUrl(options?.url);
  const timeoutMs = durationOption(options.timeout ?? '10s', 'timeout');
  const delayMs = durationOption(options.retryDelay ?? '1s', 'retryDelay');
  const retries = options.retries ?? 3;
  if (!Number.isInteger(retries) || retries < 0) throw new Error(`webhookNotifier: retries must be a whole number ≥ 0 (got ${JSON.stringify(retries)})`);
  const headers = { ...(options.headers ?? {}) };
  const host = url.host;

  return async (ctx: CallbackContext) => {
    const event = webhookEvent(ctx);
    const body = JSON.stringify(options.body ? options.body(event, ctx) : event);
    let last = '';
    for (let attempt = 1; attempt <= retries + 1; attempt++) {
      const outcome = await post(url, headers, body, timeoutMs, ctx.signal);
      if (outcome.ok) {
        ctx.log.info('webhook to %s: HTTP %d (attempt %d)', host, outcome.status, attempt);
        return;
      }
      last = outcome.problem;
      if (!outcome.retryable || attempt > retries) break;
      const wait = delayMs * 2 ** (attempt - 1);
      ctx.log.warn('webhook to %s: attempt %d failed (%s); retrying in %d ms', host, attempt, last, wait);
      await sleep(wait, ctx.signal);
    }
    throw new Error(`webhook to ${host} failed: ${last}`);
  };
}

/** The default body: what happened, to which run, task and try, and why. */
export function webhookEvent(ctx: CallbackContext): WebhookEvent {
  return {
    event: ctx.callback,
    scope: ctx.scope,
    dagId: ctx.dagId,
    runId: ctx.runId,
    taskId: ctx.taskId,
    mapIndex: ctx.mapIndex,
    tryNumber: ctx.tryNumber,
    state: ctx.state,
    reason: ctx.reason ?? null,
    logicalDate: ctx.logicalDate.toISOString(),
    dataIntervalStart: ctx.dataIntervalStart.toISOString(),
    dataIntervalEnd: ctx.dataIntervalEnd.toISOString(),
    ds: ctx.ds,
    sla: ctx.sla ? { kind: ctx.sla.kind, dueAt: new Date(ctx.sla.dueAt).toISOString(), state: ctx.sla.state } : null,
    at: new Date().toISOString(),
  };
}

type PostOutcome = { ok: true; status: number } | { ok: false; retryable: boolean; problem: string };

async function post(url: URL, headers: Record<string, string>, body: string, timeoutMs: number, signal: AbortSignal): Promise<PostOutcome> {
  const attempt = attemptSignal(signal, timeoutMs);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'aloft-webhook', ...headers },
      body,
      signal: attempt.signal,
      redirect: 'error',
    });
    // The body is the receiver's business; read it only to free the connection.
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return { ok: true, status: res.status };
    return { ok: false, retryable: res.status === 429 || res.status >= 500, problem: `HTTP ${res.status}` };
  } catch (err) {
    if (signal.aborted) return { ok: false, retryable: false, problem: 'the callback was stopped' };
    // Only the error's kind: an undici message or cause may quote the URL.
    const e = err as { name?: string; cause?: { code?: string } };
    const problem = attempt.timedOut() ? `no answer within ${timeoutMs} ms` : `request failed (${e.cause?.code ?? e.name ?? 'error'})`;
    return { ok: false, retryable: true, problem };
  } finally {
    attempt.done();
  }
}

function parseUrl(raw: unknown): URL {
  let url: URL | undefined;
  try {
    url = typeof raw === 'string' ? new URL(raw) : undefined;
  } catch {
    url = undefined;
  }
  // The value itself is not quoted: it may hold a secret.
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new Error('webhookNotifier: url must be an http:// or https:// URL');
  return url;
}

function durationOption(v: Duration, field: string): number {
  const ms = parseDuration(v);
  if (typeof ms === 'string') throw new Error(`webhookNotifier: ${field} ${ms}`);
  return ms;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
