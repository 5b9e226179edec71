import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminPassword, createToken } from './support/dashboard.js';
import { logLines, logProblems } from './support/service-logs.js';
import { ROOT, System, waitFor, type Service } from './support/system.js';

/**
 * Every Redis connection of every service has an 'error' listener: while redis-server
 * restarts, each service says so once at warn (not ERROR, not ioredis's "Unhandled error
 * event" per reconnect attempt), says when Redis is back, and works on.
 */
describe('a Redis restart under running services (real redis-server with AOF, scheduler, worker, dashboard)', () => {
  const sys = new System({ dagsFolder: join(ROOT, 'examples', 'dags'), appendonly: true });
  let services: Service[];
  let base: string;
  let token: string;
  const ready = (s: Service) =>
    fetch(`http://127.0.0.1:${s.port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );

  beforeAll(async () => {
    await sys.start();
    services = [await sys.spawn('scheduler', 'scheduler'), await sys.spawn('worker', 'worker-1'), await sys.spawn('dashboard', 'dashboard')];
    base = `http://127.0.0.1:${services[2]!.port}`;
    await waitFor('every service ready', async () => (await Promise.all(services.map(ready))).every(Boolean), 60_000);
    token = await createToken(base, await adminPassword(sys), 'restart', 'viewer');
    await waitFor('grouped_pipeline stored', async () => (await sys.client.listDags()).some((d) => d.dag.id === 'grouped_pipeline'), 60_000);
  });
  afterAll(() => sys.stop());

  const runOnce = async () => {
    const run = await sys.client.trigger('grouped_pipeline');
    return (await sys.client.waitForRun('grouped_pipeline', run.runId, { timeoutMs: 60_000 })).state;
  };

  it('logs the outage once per service at warn, recovers, and runs DAGs again', async () => {
    // The dashboard's live events reader (its own connection) is reading while Redis goes.
    const live = await fetch(`${base}/api/v1/events`, { headers: { authorization: `Bearer ${token}` } });
    expect(live.status).toBe(200);
    const reading = live.body!.getReader();
    expect(await runOnce()).toBe('success');

    await sys.redis.restart({ downMs: 3000 });

    await waitFor('every service ready again', async () => (await Promise.all(services.map(ready))).every(Boolean), 60_000);
    expect(await runOnce()).toBe('success');
    const dags = await fetch(`${base}/api/v1/dags`, { headers: { authorization: `Bearer ${token}` } });
    expect(dags.status).toBe(200);
    await reading.cancel();

    for (const s of services) expect(await s.kill('SIGTERM')).toBe(0);
    for (const s of services) {
      expect({ service: s.name, ...logProblems(s) }).toEqual({ service: s.name, errors: [], unhandledErrorEvents: [], unhandledRejections: [] });
      expect({ service: s.name, lost: logLines(s, 'Redis unreachable; retrying').length }).toEqual({ service: s.name, lost: 1 });
      expect({ service: s.name, back: logLines(s, 'Redis reachable again').length }).toEqual({ service: s.name, back: 1 });
    }
  });
});
