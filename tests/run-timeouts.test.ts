import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueWorkers } from '@aloft/core';
import { ROOT, System, waitFor } from './support/system.js';

/**
 * Airflow's `dagrun_timeout`: a run still running `dagrunTimeout` after it started fails
 * with a reason that says so, its running task is stopped (its try fails) and the tasks not
 * yet run are skipped; a run that finishes in time is not touched. And Airflow's
 * task_queued_timeout: an instance queued past ALOFT_TASK_QUEUED_TIMEOUT_MS on a queue no
 * worker listens on fails with a reason naming the queue; its downstream does not run.
 */
describe('dagrunTimeout and the queued timeout (real scheduler and worker)', () => {
  const sys = new System({ dagsFolder: join(ROOT, 'tests', 'fixtures', 'timeout-dags'), env: { ALOFT_TASK_QUEUED_TIMEOUT_MS: '2000' } });

  beforeAll(async () => {
    await sys.start();
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker-1');
    await waitFor('the DAGs stored', async () => (await sys.client.listDags()).length === 3, 60_000);
    // The queued timeout here is 2 s: the worker must be listening on `default` first, as a
    // worker that is still starting counts as none (a busy machine can take longer than that).
    const workers = new QueueWorkers(sys.client.store.redis, sys.client.store.keys);
    await waitFor('the worker listening on default', async () => (await workers.unserved(['default'])).length === 0, 60_000);
    await workers.close();
  });
  afterAll(() => sys.stop());

  it('fails a run past its timeout, stopping its running task, and leaves a run in time alone', async () => {
    const late = await sys.client.trigger('run_too_long');
    const ok = await sys.client.trigger('run_in_time');
    expect((await sys.client.waitForRun('run_in_time', ok.runId, { timeoutMs: 30_000 })).state).toBe('success');
    // The sleep would take about two minutes; the run ends about two seconds after it started.
    const done = await sys.client.waitForRun('run_too_long', late.runId, { timeoutMs: 60_000 });
    expect(done.state).toBe('failed');
    expect(done.reason).toBe('run timed out: still running 2 s after it started (dagrunTimeout)');
    const tis = Object.fromEntries((await sys.client.listTaskInstances('run_too_long', late.runId)).map((t) => [t.taskId, t]));
    expect(tis['sleeper']?.state).toBe('failed');
    expect(tis['after']?.state).toBe('skipped');
    const log = (await sys.client.readLog('run_too_long', late.runId, 'sleeper')).lines.map((l) => l.line);
    expect(log).toContain('started');
    // The worker stopped the process: no `sleep 121.25` (this fixture's own) is left.
    await waitFor('the sleeper process gone', () => Promise.resolve(!execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes('sleep 121.25')));
  });

  it('fails an instance queued past the timeout on a queue no worker listens on, naming the queue', async () => {
    const run = await sys.client.trigger('no_worker_queue');
    const done = await sys.client.waitForRun('no_worker_queue', run.runId, { timeoutMs: 60_000 });
    expect(done.state).toBe('failed');
    const tis = Object.fromEntries((await sys.client.listTaskInstances('no_worker_queue', run.runId)).map((t) => [t.taskId, t]));
    expect(tis['on_gpu']).toMatchObject({ state: 'failed' });
    expect(tis['on_gpu']?.reason).toBe(
      'queued for more than 2 s on queue "nobody_listens", where no worker is listening: start a worker with ALOFT_WORKER_QUEUES naming nobody_listens (ALOFT_TASK_QUEUED_TIMEOUT_MS sets this limit)',
    );
    expect(tis['report']?.state).toBe('upstream_failed');
  });
});
