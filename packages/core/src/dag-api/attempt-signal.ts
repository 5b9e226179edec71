/**
 * The signal for one attempt of an outgoing request: aborted by `signal` (the task or callback
 * was stopped) or after `timeoutMs`. A timer of its own rather than AbortSignal.timeout inside
 * AbortSignal.any: on Node 20 that timer holds its signal only weakly, and once garbage
 * collection takes it the timeout never fires (a request to a host that never answers then
 * waited until the task's or callback's own limit). Call `done()` when the attempt is over.
 */
export function attemptSignal(signal: AbortSignal, timeoutMs: number): { signal: AbortSignal; timedOut: () => boolean; done: () => void } {
  const attempt = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    attempt.abort();
  }, timeoutMs);
  const stop = () => attempt.abort();
  signal.addEventListener('abort', stop, { once: true });
  if (signal.aborted) attempt.abort();
  return {
    signal: attempt.signal,
    timedOut: () => timedOut,
    done: () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
    },
  };
}
