import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, System, waitFor } from './support/system.js';

const dags = join(ROOT, '.test-results', `dags-fence-${Math.random().toString(36).slice(2, 7)}`);
const marks = join(dags, 'marks');
let sys: System | undefined;
afterAll(async () => {
  if (sys?.redis.process?.signalCode === null) sys.redis.process.kill('SIGCONT');
  await sys?.stop();
  rmSync(dags, { recursive: true, force: true });
});

describe('a worker cut off from Redis for longer than its job lock', () => {
  it('stops its try before the lock expires, so the worker that takes it over never runs beside it', async () => {
    mkdirSync(dags, { recursive: true });
    // Beats every 0.1 s for 30 s or more on the first run, 1 s on a later one; each mark has
    // the shell's pid and the time in µs.
    const command =
      `if [ -e ${marks} ]; then n=10; else n=300; fi; mark() { echo "$1 $$ \${EPOCHREALTIME/./}" >> ${marks}; }; ` +
      `mark start; for ((i = 0; i < n; i++)); do sleep 0.1; mark beat; done; mark end`;
    writeFileSync(
      join(dags, 'long.ts'),
      `import { dag } from '@aloft/core';
const d = dag({ id: 'long' });
d.command({ id: 'long', command: ${JSON.stringify(['bash', '-c', command])} });
`,
    );
    sys = await new System({ dagsFolder: dags, env: { ALOFT_LOCK_MS: '2000', ALOFT_KILL_GRACE_MS: '300' } }).start();
    const s = sys;
    await s.spawn('scheduler', 'scheduler');
    await s.spawn('worker', 'worker-1', { ALOFT_WORKER_CONCURRENCY: '1' });
    await waitFor('DAG stored', async () => (await s.client.listDags()).length === 1, 90_000);
    const run = await s.client.trigger('long');
    await waitFor('the command running on worker-1', async () => existsSync(marks) && readFileSync(marks, 'utf8').includes('beat'), 90_000);
    // Another host's worker, ready before the outage so it can take the try over after it.
    await s.spawn('worker', 'worker-2', { ALOFT_WORKER_CONCURRENCY: '1', ALOFT_WORKER_HOST: 'another-host' });
    await new Promise((r) => setTimeout(r, 3000));

    // Redis frozen for 4 s (twice the lock): no lock is renewed, and every lock expires.
    s.redis.process!.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 4000));
    s.redis.process!.kill('SIGCONT');

    const done = await s.client.waitForRun('long', run.runId, { timeoutMs: 60_000 });
    expect(done.state).toBe('success');
    const lines = readFileSync(marks, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '));
    const pids = [...new Set(lines.map(([, pid]) => pid))];
    expect(pids).toHaveLength(2);
    const span = (pid: string) => lines.filter(([, p]) => p === pid).map(([, , us]) => Number(us));
    // The first run was stopped (it never ended) before the second one started.
    expect(lines.filter(([m, p]) => m === 'end' && p === pids[0])).toHaveLength(0);
    expect(Math.max(...span(pids[0]!))).toBeLessThan(Math.min(...span(pids[1]!)));
    expect(lines.filter(([m]) => m === 'end')).toHaveLength(1);
    const log = await s.client.getLog('long', run.runId, 'long');
    expect(log.some((l) => l.line.includes('stopping this try before the lock expires'))).toBe(true);
  });
});
