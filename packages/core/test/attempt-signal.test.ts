import { createServer, type Server } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attemptSignal } from '../src/index.js';

/** One attempt's signal for outgoing requests (webhook notifier, HTTP sensor). */
describe('attemptSignal', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    // A receiver that reads the request and never answers.
    server = createServer(() => undefined).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('ends a request to a receiver that never answers after its timeout, with garbage collection running', async () => {
    // AbortSignal.any([signal, AbortSignal.timeout(ms)]) never fired here once collected.
    setFlagsFromString('--expose_gc');
    const gc = runInNewContext('gc') as () => void;
    const collecting = setInterval(gc, 20);
    const attempt = attemptSignal(new AbortController().signal, 300);
    const t0 = Date.now();
    try {
      await expect(fetch(url, { method: 'POST', body: 'x', signal: attempt.signal })).rejects.toThrow();
    } finally {
      attempt.done();
      clearInterval(collecting);
    }
    // Ended, where the bug hung forever (a bound for a loaded machine, not a figure).
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(attempt.timedOut()).toBe(true);
  });

  it('ends with the outer signal and says it was not the timeout', async () => {
    const outer = new AbortController();
    const attempt = attemptSignal(outer.signal, 60_000);
    setTimeout(() => outer.abort(), 50);
    await expect(fetch(url, { method: 'POST', body: 'x', signal: attempt.signal })).rejects.toThrow();
    attempt.done();
    expect(attempt.timedOut()).toBe(false);
    expect(attempt.signal.aborted).toBe(true);
  });

  it('is aborted at once when the outer signal already is, and done() stops its timer', async () => {
    const outer = new AbortController();
    outer.abort();
    expect(attemptSignal(outer.signal, 60_000).signal.aborted).toBe(true);
    const a = attemptSignal(new AbortController().signal, 20);
    a.done();
    await new Promise((r) => setTimeout(r, 60));
    expect(a.signal.aborted).toBe(false);
  });
});
