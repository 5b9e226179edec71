import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, System, waitFor, type Service } from './support/system.js';

const dags = join(ROOT, '.test-results', `dags-template-limits-${Math.random().toString(36).slice(2, 7)}`);
const sys = new System({ dagsFolder: dags, env: { ALOFT_TEMPLATE_TIMEOUT_MS: '2000' } });
let worker: Service;

beforeAll(async () => {
  mkdirSync(dags, { recursive: true });
  await sys.start();
  worker = await sys.spawn('worker', 'worker-1');
});
afterAll(async () => {
  await sys.stop();
  rmSync(dags, { recursive: true, force: true });
});

/** The run's end, or an error as soon as the worker process dies. */
async function ended(dagId: string, runId: string) {
  const died = worker.exited.then((code) => {
    throw new Error(`worker-1 died (exit code ${code}) while its task rendered a template`);
  });
  return Promise.race([sys.client.waitForRun(dagId, runId, { timeoutMs: 60_000, pollMs: 100 }), died]);
}

describe('a template that would exhaust the worker', () => {
  it('fails its task with the limit named, and the worker lives on to run the next task', async () => {
    const bad = await sys.client.submitCommand({ taskId: 'huge', command: 'echo {{ range(1000000000) | length }}' });
    expect((await ended(bad.dagId, bad.runId)).state).toBe('failed');
    const ti = await sys.client.getTaskInstance(bad.dagId, bad.runId, 'huge');
    expect(ti.reason).toMatch(/^could not run the task: template in adhoc\.huge command: range\(\) of 1000000000 numbers is over the limit of 10000/);

    // A filter: rendered by the template process, which lives on (or was started again).
    const next = await sys.client.submitCommand({ taskId: 'next', command: 'echo day {{ ds | string }}' });
    expect((await ended(next.dagId, next.runId)).state).toBe('success');
    const log = await sys.client.getLog(next.dagId, next.runId, 'next');
    expect(log.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual([expect.stringMatching(/^day \d{4}-\d\d-\d\d$/)]);
    expect(worker.child.exitCode).toBeNull();
  });

  it('stops a template that runs too long, names the task, the field and the limit, and renders the next one', async () => {
    // Nested loops of 10,000 each: 10^12 steps, far past the 2 s limit.
    const slow = await sys.client.submitCommand({
      taskId: 'slow',
      command: 'echo hi',
      env: { SPIN: '{% for a in range(10000) %}{% for b in range(10000) %}{% for c in range(10000) %}{% endfor %}{% endfor %}{% endfor %}' },
    });
    expect((await ended(slow.dagId, slow.runId)).state).toBe('failed');
    const ti = await sys.client.getTaskInstance(slow.dagId, slow.runId, 'slow');
    expect(ti.reason).toBe(
      'could not run the task: template in adhoc.slow env.SPIN: still rendering after 2000 ms, the limit (ALOFT_TEMPLATE_TIMEOUT_MS); it was stopped',
    );

    const next = await sys.client.submitCommand({ taskId: 'after', command: 'echo {{ dag_id | upper }}' });
    expect((await ended(next.dagId, next.runId)).state).toBe('success');
    expect(worker.child.exitCode).toBeNull();
  });

  it('leaves no template process spinning behind a worker killed with kill -9 in the middle of a render', async () => {
    const w2 = await sys.spawn('worker', 'worker-2', { ALOFT_TEMPLATE_TIMEOUT_MS: '600000', ALOFT_WORKER_QUEUES: 'spin' });
    const templateProcess = () =>
      execFileSync('ps', ['--ppid', String(w2.child.pid), '-o', 'pid=,args='], { encoding: 'utf8' })
        .split('\n')
        .find((l) => l.includes('template-process-boot'))
        ?.trim()
        .split(' ')[0];
    const pid = Number(await waitFor('worker-2 to start its template process', async () => templateProcess(), 60_000));
    const spin = await sys.client.submitCommand({
      taskId: 'spin',
      queue: 'spin',
      command: 'echo {% for a in range(10000) %}{% for b in range(10000) %}{% for c in range(10000) %}{% endfor %}{% endfor %}{% endfor %}',
    });
    await waitFor('the spin task to be running', async () => (await sys.client.getTaskInstance(spin.dagId, spin.runId, 'spin')).state === 'running', 60_000);
    // Rendering (the process works on it): its CPU time grows.
    const cpu = () => Number(execFileSync('ps', ['-p', String(pid), '-o', 'times='], { encoding: 'utf8' }).trim());
    const before = cpu();
    await waitFor('the render to use the CPU', async () => cpu() > before, 30_000);
    await w2.kill('SIGKILL');
    // The worker's reaper ends it (its own group), at once, not when the render ends (never).
    await waitFor(
      'the template process to end',
      async () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      15_000,
    );
  });
});
