import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient, createRedis, Keys, type TaskInstance } from '@aloft/core';
import { AofRedis } from './support/aof-redis.js';
import { ROOT, System, waitFor, type Service } from './support/system.js';

const dags = join(ROOT, '.test-results', `dags-chaos-${Math.random().toString(36).slice(2, 7)}`);
const marks = join(dags, 'marks');
let sys: System | undefined;
afterAll(async () => {
  await sys?.stop();
  // The marks stay next to the services' logs, for a failure's diagnosis.
  if (existsSync(marks)) copyFileSync(marks, join(ROOT, '.test-results', 'logs', `${sys?.prefix ?? 'chaos'}-marks`));
  rmSync(dags, { recursive: true, force: true });
});

/**
 * Every try appends `start`, a `beat` every 0.1 s and `end` to one file:
 * `<mark> <cmd|fn> <dag>/<run>/<task> <try> <runner> <µs>`. A command's runner is its shell's pid
 * (and process group); a function's is its worker's pid and a token of this run of it.
 */
function writeDags(): void {
  const cmd = (secs: number, exit = 0) =>
    JSON.stringify([
      'bash',
      '-c',
      `mark() { echo "$1 cmd $ALOFT_DAG_ID/$ALOFT_RUN_ID/$ALOFT_TASK_ID $ALOFT_TRY_NUMBER $$ \${EPOCHREALTIME/./}" >> ${marks}; }; ` +
        `mark start; for ((i = 0; i < ${secs * 10}; i++)); do sleep 0.1; mark beat; done; mark end; exit ${exit}`,
    ]);
  const fn = (secs: number) => `async (ctx) => {
    const runner = process.pid + ':' + Math.random().toString(36).slice(2, 8);
    const mark = (m) => appendFileSync(${JSON.stringify(marks)}, \`\${m} fn \${ctx.dagId}/\${ctx.runId}/\${ctx.taskId} \${ctx.tryNumber} \${runner} \${Date.now() * 1000}\\n\`);
    mark('start');
    for (let i = 0; i < ${secs * 10}; i++) {
      await new Promise((r) => setTimeout(r, 100));
      mark('beat');
    }
    mark('end');
    return ctx.taskId;
  }`;
  writeFileSync(
    join(dags, 'chaos.ts'),
    `import { appendFileSync } from 'node:fs';
import { dag } from '@aloft/core';

// Wide and chained: start, then six in parallel and a chain of three, then a join.
const d = dag({ id: 'chaos', defaultArgs: { retries: 0 } });
const start = d.command({ id: 'start', command: ${cmd(0.5)} });
const wide = [0, 1, 2, 3, 4, 5].map((i) =>
  i % 2 === 0 ? d.command({ id: 'w' + i, command: ${cmd(2.5)} }) : d.fn({ id: 'w' + i, run: ${fn(2.5)} }),
);
const c1 = d.command({ id: 'c1', command: ${cmd(1)} });
const c2 = d.fn({ id: 'c2', run: ${fn(1)} });
const c3 = d.command({ id: 'c3', command: ${cmd(1)} });
const join = d.fn({ id: 'join', run: ${fn(0.3)} });
for (const w of wide) start.then(w).then(join);
start.then(c1).then(c2).then(c3).then(join);

// Meant to fail: boom exits 1 (no retries), so never is upstream_failed and the run failed.
const f = dag({ id: 'chaos_fail', defaultArgs: { retries: 0 } });
const a = f.command({ id: 'a', command: ${cmd(1)} });
const boom = f.command({ id: 'boom', command: ${cmd(1, 1)} });
const never = f.fn({ id: 'never', run: ${fn(0.3)} });
f.fn({ id: 'side', run: ${fn(1.5)} });
a.then(boom).then(never);
`,
  );
}

const INTENDED: Record<string, { run: string; tis: Record<string, string> }> = {
  chaos: { run: 'success', tis: {} },
  chaos_fail: { run: 'failed', tis: { a: 'success', boom: 'failed', never: 'upstream_failed', side: 'success' } },
};
/** For waits on services starting: on a loaded 2-core machine a start can take half a minute. */
const SLOW = 90_000;
const TERMINAL = new Set(['success', 'failed', 'skipped', 'upstream_failed']);

interface Mark {
  mark: string;
  kind: string;
  ti: string;
  try: number;
  runner: string;
  us: number;
}

function readMarks(): Mark[] {
  if (!existsSync(marks)) return [];
  return readFileSync(marks, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [mark, kind, ti, tryNo, runner, us] = l.split(' ');
      return { mark: mark!, kind: kind!, ti: ti!, try: Number(tryNo), runner: runner!, us: Number(us) };
    });
}

/** A command of the marks file still alive (its shell, by pid and command line). */
function aliveCommand(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marks);
  } catch {
    return false;
  }
}

/** Prints the unfinished task instances and where BullMQ holds their jobs, for a failure. */
async function diagnose(s: System, runs: { dag: string; runId: string }[]): Promise<void> {
  const redis = createRedis(s.redis.url);
  const q = new Keys(s.prefix).bullQueuePrefix('default');
  try {
    for (const r of runs) {
      for (const ti of await s.client.listTaskInstances(r.dag, r.runId)) {
        if (TERMINAL.has(ti.state)) continue;
        const id = ti.jobId ?? '';
        const where = await Promise.all([
          redis.lpos(`${q}wait`, id),
          redis.lpos(`${q}active`, id),
          redis.zscore(`${q}delayed`, id),
          redis.zscore(`${q}prioritized`, id),
          redis.zscore(`${q}completed`, id),
          redis.zscore(`${q}failed`, id),
          redis.exists(`${q}${id}`),
          redis.exists(`${q}${id}:lock`),
        ]);
        const names = ['wait', 'active', 'delayed', 'prioritized', 'completed', 'failed', 'hash', 'lock'];
        console.log(
          `unfinished: ${r.dag}/${r.runId}/${ti.taskId} ${ti.state} try ${ti.try} on ${ti.worker} job ${id} in [${names.filter((_, i) => where[i] !== null && where[i] !== 0).join(',')}]`,
        );
      }
    }
  } finally {
    redis.disconnect();
  }
}

describe('chaos: workers, a scheduler and Redis killed and restarted during runs', () => {
  it('finishes every run as intended, loses no task instance, never runs one twice at once and leaves no process behind', async () => {
    mkdirSync(dags, { recursive: true });
    writeDags();
    const redis = await AofRedis.start();
    const s = new System({
      dagsFolder: dags,
      env: {
        ALOFT_LOCK_MS: '2000',
        ALOFT_HEARTBEAT_MS: '300',
        ALOFT_KILL_GRACE_MS: '2000',
        ALOFT_WORKER_GRACE_MS: '1000',
        ALOFT_WORKER_CONCURRENCY: '4',
        // Two kills and two Redis outages can all land on one try (seen: a function task claimed
        // by the first worker killed, its lock lapsed in an outage, its next worker killed): that
        // is the default cap of 3, and a poison pill's failure is not what this test judges
        // (tests/poison-pill.test.ts does).
        ALOFT_MAX_TAKEOVERS: '10',
        ALOFT_LOG_LEVEL: 'info',
      },
    });
    // Its Redis is the restartable AOF one (System.stop() stops it).
    s.redis = redis;
    s.client = createClient({ redisUrl: redis.url, prefix: s.prefix });
    sys = s;
    const figures = { runs: 0, tis: 0, workerKills: 0, workerSigterms: 0, schedulerKills: 0, redisRestarts: 0, rerunTries: 0, retries: 0, takeovers: 0 };
    let scheduler = await s.spawn('scheduler', 'scheduler-1');
    const workers: Service[] = [];
    let n = 0;
    const addWorker = async () => workers.push(await s.spawn('worker', `worker-${++n}`));
    for (let i = 0; i < 3; i++) await addWorker();
    await waitFor('DAGs stored', async () => (await s.client.listDags()).length === 2, SLOW);

    const runs: { dag: string; runId: string }[] = [];
    const trigger = async (dag: string) => {
      const r = await waitFor(`a run of ${dag}`, () => s.client.trigger(dag), SLOW);
      runs.push({ dag, runId: r.runId });
    };
    const runningCommands = () =>
      new Set(
        readMarks()
          .filter((m) => m.mark === 'start' && m.kind === 'cmd' && aliveCommand(Number(m.runner)))
          .map((m) => m.ti),
      ).size;
    /** A worker that runs a task now (so the chaos hits one mid-task). */
    const busyWorker = async (): Promise<Service> => {
      const names = await waitFor(
        'a worker running a task',
        async () => {
          const tis = (await Promise.all(runs.map((r) => s.client.listTaskInstances(r.dag, r.runId)))).flat();
          const busy = new Set(tis.filter((t) => t.state === 'running').map((t) => t.worker));
          return workers.some((w) => busy.has(w.name)) && busy;
        },
        SLOW,
      );
      return workers.find((w) => names.has(w.name))!;
    };
    const replace = async (w: Service, signal: 'SIGKILL' | 'SIGTERM') => {
      workers.splice(workers.indexOf(w), 1);
      await w.kill(signal);
      if (signal === 'SIGKILL') figures.workerKills++;
      else figures.workerSigterms++;
      await addWorker();
    };

    await trigger('chaos');
    await trigger('chaos_fail');
    await trigger('chaos');
    await waitFor('commands running', async () => runningCommands() >= 2, SLOW);

    // 1. kill -9 of a worker mid-task, replaced at once.
    await replace(await busyWorker(), 'SIGKILL');
    await trigger('chaos');
    // 2. kill -9 of the scheduler, back a second later.
    await scheduler.kill('SIGKILL');
    figures.schedulerKills++;
    await new Promise((r) => setTimeout(r, 1000));
    scheduler = await s.spawn('scheduler', 'scheduler-2');
    // 3. Redis stopped (SHUTDOWN NOSAVE) for a second and started again from its AOF.
    await waitFor('commands running', async () => runningCommands() >= 1, SLOW);
    await redis.down('nosave');
    await new Promise((r) => setTimeout(r, 1000));
    await redis.up();
    await trigger('chaos_fail');
    // 4. SIGTERM of a worker mid-task: it hands its tasks back after its grace.
    await replace(await busyWorker(), 'SIGTERM');
    await trigger('chaos');
    // 5. Redis killed with kill -9 and started again from its AOF.
    await waitFor('commands running', async () => runningCommands() >= 1, SLOW);
    await redis.down('kill');
    await new Promise((r) => setTimeout(r, 500));
    await redis.up();
    // 6. Another kill -9 of a worker mid-task.
    await replace(await busyWorker(), 'SIGKILL');
    figures.redisRestarts = redis.restarts;

    // Every run finishes in its intended state, every task instance in a terminal one.
    const finished = await Promise.all(
      runs.map((r) =>
        waitFor(
          `run ${r.runId} finished`,
          async () => {
            const run = await s.client.getRun(r.dag, r.runId);
            return run.state === 'success' || run.state === 'failed' ? run : undefined;
          },
          180_000,
        ),
      ),
    ).catch(async (err: unknown) => {
      await diagnose(s, runs);
      throw err;
    });
    figures.runs = runs.length;
    const tis: TaskInstance[] = [];
    for (const [i, r] of runs.entries()) {
      expect(finished[i]!.state, `${r.dag} ${r.runId}`).toBe(INTENDED[r.dag]!.run);
      for (const ti of await s.client.listTaskInstances(r.dag, r.runId)) {
        tis.push(ti);
        expect(TERMINAL.has(ti.state), `${r.dag}/${r.runId}/${ti.taskId} is ${ti.state}`).toBe(true);
        expect(ti.state, `${r.dag}/${r.runId}/${ti.taskId}`).toBe(INTENDED[r.dag]!.tis[ti.taskId] ?? 'success');
      }
    }
    figures.tis = tis.length;
    expect(tis.length).toBe(runs.filter((r) => r.dag === 'chaos').length * 11 + runs.filter((r) => r.dag === 'chaos_fail').length * 4);
    figures.retries = tis.filter((t) => t.try > 1).length;

    // No task instance ran twice at once: per instance, each process's run (start to its last
    // mark) ends before the next one starts. A process dies at most one beat (0.1 s) after its
    // last mark, so an overlap shorter than that could go unseen.
    const all = readMarks();
    const byTi = new Map<string, Mark[]>();
    for (const m of all) byTi.set(m.ti, [...(byTi.get(m.ti) ?? []), m]);
    for (const [ti, ms] of byTi) {
      const spans = new Map<string, { from: number; to: number; try: number; ended: boolean }>();
      for (const m of ms) {
        const sp = spans.get(m.runner) ?? { from: m.us, to: m.us, try: m.try, ended: false };
        sp.from = Math.min(sp.from, m.us);
        sp.to = Math.max(sp.to, m.us);
        sp.ended ||= m.mark === 'end';
        spans.set(m.runner, sp);
      }
      const ordered = [...spans.values()].sort((x, y) => x.from - y.from);
      for (let i = 1; i < ordered.length; i++) {
        expect(ordered[i]!.from, `${ti}: a run started before the one of try ${ordered[i - 1]!.try} ended`).toBeGreaterThan(ordered[i - 1]!.to);
      }
      // Its last run ended. An earlier one may have ended too when its finish could not be
      // recorded (its worker lost the job's lock while Redis was away): the try then runs
      // again, after it, and counts as a re-run below.
      expect(ordered.at(-1)!.ended, `${ti} ended: ${JSON.stringify(ordered)}`).toBe(true);
      const perTry = new Map<number, number>();
      for (const sp of ordered) perTry.set(sp.try, (perTry.get(sp.try) ?? 0) + 1);
      for (const c of perTry.values()) figures.rerunTries += c - 1;
    }
    // Every task instance that ran left marks (empty ones have none; upstream_failed never ran).
    expect(byTi.size).toBe(tis.filter((t) => t.state !== 'upstream_failed').length);

    // Nothing still beats, command or function, and no command of any try is alive.
    const size = statSync(marks).size;
    await new Promise((r) => setTimeout(r, 1000));
    expect(statSync(marks).size, 'marks written after every run finished').toBe(size);
    const pids = [...new Set(all.filter((m) => m.kind === 'cmd').map((m) => Number(m.runner)))];
    expect(pids.filter(aliveCommand)).toEqual([]);

    for (const ti of tis.filter((t) => t.state !== 'upstream_failed')) {
      const log = await s.client.getLog(ti.dagId, ti.runId, ti.taskId);
      if (log.some((l) => l.line.includes('takes this try over'))) figures.takeovers++;
    }
    // Errors the services logged (pino level 50 and up), for the figures.
    let errorLines = 0;
    for (const f of readdirSync(join(ROOT, '.test-results', 'logs')).filter((x) => x.startsWith(`${s.prefix}-`))) {
      errorLines += readFileSync(join(ROOT, '.test-results', 'logs', f), 'utf8')
        .split('\n')
        .filter((l) => /"level":(5|6)0/.test(l)).length;
    }
    console.log(`chaos figures: ${JSON.stringify({ ...figures, commandPids: pids.length, errorLines })}`);
  }, 330_000);
});
