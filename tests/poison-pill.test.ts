import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, System, waitFor, type Service } from './support/system.js';

const dags = join(ROOT, '.test-results', `dags-poison-${Math.random().toString(36).slice(2, 7)}`);
/** Set when the test ends, however it ends: the supervisor below starts no worker after it. */
let stop = false;
const sys = new System({ dagsFolder: dags, env: { ALOFT_LOCK_MS: '2000', ALOFT_MAX_TAKEOVERS: '3' } });

beforeAll(async () => {
  mkdirSync(dags, { recursive: true });
  // `pill` kills the worker that runs it, as a V8 fatal error or an OOM kill of the worker
  // would: a command's parent is its worker (the System runs user code as the worker's own
  // user, so the kill is allowed). A function could not: it runs in the fn host, whose death
  // fails only the function's try.
  writeFileSync(
    join(dags, 'poison.ts'),
    `import { appendFileSync } from 'node:fs';
import { dag } from '@aloft/core';
const d = dag({ id: 'poison', defaultArgs: { retries: 0 } });
export function failed(ctx) {
  appendFileSync(${JSON.stringify(join(dags, 'failed.jsonl'))}, JSON.stringify({ task: ctx.taskId, try: ctx.tryNumber, state: ctx.state, reason: ctx.reason }) + '\\n');
}
const pill = d.command({ id: 'pill', command: 'kill -9 $PPID; sleep 5', onFailure: failed });
pill.then(d.fn({ id: 'cleanup', triggerRule: 'all_done', run: () => 'cleaned' }));
`,
  );
  await sys.start();
  await sys.spawn('scheduler', 'scheduler');
});
afterAll(async () => {
  stop = true;
  await sys.stop();
  rmSync(dags, { recursive: true, force: true });
});

describe('a try that kills its worker every time (a poison pill)', () => {
  it('fails after ALOFT_MAX_TAKEOVERS deaths with the reason in words, and the next worker lives', async () => {
    await waitFor('DAG stored', async () => (await sys.client.listDags()).some((d) => d.dag.id === 'poison'), 60_000);
    // A supervisor, as Kubernetes or systemd would be: a worker that dies is replaced.
    let worker: Service | undefined;
    let deaths = 0;
    const supervise = async () => {
      for (let n = 1; !stop; n++) {
        worker = await sys.spawn('worker', `worker-${n}`, { ALOFT_WORKER_CONCURRENCY: '2' });
        if (stop) return void (await worker.kill('SIGKILL'));
        await worker.exited;
        if (stop) return;
        deaths++;
        // Past twice the cap the try came back after the cap: the bug.
        if (deaths > 6) return;
      }
    };
    const supervisor = supervise();
    const run = await sys.client.trigger('poison');
    const done = await waitFor(
      'the run to end, or the try to come back past twice the cap',
      async () => {
        if (deaths > 6) return { state: `still running after ${deaths} worker deaths` };
        const r = await sys.client.getRun('poison', run.runId);
        return (r.state === 'success' || r.state === 'failed') && r;
      },
      180_000,
    );
    // As in Airflow, the run's state is its leaves': cleanup (all_done) succeeded.
    expect(done.state).toBe('success');
    const pill = await sys.client.getTaskInstance('poison', run.runId, 'pill');
    expect(pill.state).toBe('failed');
    expect(pill.try).toBe(1);
    expect(pill.reason).toBe(
      'the worker running this try died 3 times (killed, crashed, or cut off from Redis for longer than its lock); it is not started again',
    );
    const log = await sys.client.getLog('poison', run.runId, 'pill');
    // The claims' lines (written with each claim; a worker's own lines may die with it):
    // worker-1's, then the two takeovers, then the refusal.
    expect(log.filter((l) => l.line.startsWith('try 1 of poison.pill')).map((l) => l.line.replace(/.* on /, ''))).toEqual(['worker-1', 'worker-2', 'worker-3']);
    expect(log.some((l) => l.line.includes('died 3 times'))).toBe(true);
    // As Airflow does for a zombie's try, the failure callback runs, once (after the state is
    // recorded, so it may still be running now).
    const file = join(dags, 'failed.jsonl');
    await waitFor('the failure callback', async () => existsSync(file), 30_000);
    // The run goes on by its trigger rules once the try is failed.
    const cleanup = await sys.client.getTaskInstance('poison', run.runId, 'cleanup');
    expect(cleanup.state, cleanup.reason).toBe('success');
    expect(deaths).toBe(3);
    // The worker that refused the try runs on, and runs other work.
    const again = await sys.client.submitCommand({ command: 'echo still here' });
    expect((await sys.client.waitForRun(again.dagId, again.runId, { timeoutMs: 60_000 })).state).toBe('success');
    expect(worker!.child.exitCode).toBeNull();
    // Read last, so a second call would have had time to show.
    const called = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
    expect(called).toEqual([{ task: 'pill', try: 1, state: 'failed', reason: pill.reason }]);
    stop = true;
    await worker!.kill('SIGKILL');
    await supervisor;
  }, 240_000);
});
