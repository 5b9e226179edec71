import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, System, waitFor, type Service } from './support/system.js';

describe('dashboard service endpoints', () => {
  const sys = new System({ dagsFolder: join(ROOT, 'examples', 'dags') });
  let dash: Service;
  beforeAll(async () => {
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    dash = await sys.spawn('dashboard', 'dashboard');
    await waitFor('the dashboard', async () => (await fetch(`http://127.0.0.1:${dash.port}/readyz`).catch(() => undefined))?.ok);
    await waitFor('example DAGs stored', async () => (await sys.client.listDags()).some((d) => d.dag.id === 'etl_fan_out'), 60_000);
  });
  afterAll(() => sys.stop());

  it('reports queue depth for autoscalers, counting prioritized jobs, with no worker running', async () => {
    const run = await sys.client.trigger('etl_fan_out');
    await waitFor('extract queued', async () => (await sys.client.getTaskInstance('etl_fan_out', run.runId, 'extract')).state === 'queued');
    const body = (await (await fetch(`http://127.0.0.1:${dash.port}/metrics/queues`)).json()) as { queues: Record<string, { waiting: number; active: number }> };
    expect(body.queues['default']?.waiting).toBeGreaterThanOrEqual(1);
    expect(body.queues['default']?.active).toBe(0);
    const metrics = await (await fetch(`http://127.0.0.1:${dash.port}/metrics`)).text();
    expect(metrics).toMatch(/^aloft_queue_jobs\{queue="default",state="prioritized"\} [1-9]/m);
    expect((await fetch(`http://127.0.0.1:${dash.port}/healthz`)).status).toBe(200);
  });
});
