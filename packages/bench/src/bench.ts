/**
 * `pnpm bench`: Aloft against raw BullMQ on this machine, in one run, with its own
 * redis-server and two worker processes each. Prints figures, then one JSON line.
 * BENCH_VERBOSE=1 adds CPU per process role, Redis network bytes and commandstats;
 * BENCH_PROF=1 writes V8 CPU profiles of the Aloft processes to
 * .test-results/bench-profiles; BENCH_NODE_FLAGS adds Node flags to them (say
 * `--single-threaded-gc`, to see GC's share on the main thread); BENCH_QUICK=1
 * stops after the throughput figures; BENCH_REPEAT sets how many runs each throughput figure
 * is the median of (3; 1 with BENCH_QUICK).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { QueueEvents, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createClient, type AloftClient } from '@aloft/core';
import { freePort, startRedis } from '@aloft/core/testing';
import { startEmulator } from '@aloft/k8s-emulator';
import { apiBench, apiBenchDag, API_TASKS } from './api-bench.js';
import { pct } from './stats.js';

const ROOT = new URL('../../..', import.meta.url).pathname.replace(/\/$/, '');
const WIDE = Number(process.env['BENCH_WIDE'] ?? 10_000);
const CHAIN_RUNS = Number(process.env['BENCH_CHAIN_RUNS'] ?? 1_000);
const HOPS = Number(process.env['BENCH_HOPS'] ?? 2_000);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 16);
const PODS = Number(process.env['BENCH_PODS'] ?? 1_000);
const API_RUNS = Number(process.env['BENCH_API_RUNS'] ?? 1_000);
const API_REQUESTS = Number(process.env['BENCH_API_REQUESTS'] ?? 1_000);
const HOP_CHAIN = 201; // tasks per hop-latency run: 200 hops each
// Each throughput figure is the median of this many runs, raw BullMQ's as Aloft's: on a
// shared VM one run moves ±15%.
const REPEAT = Number(process.env['BENCH_REPEAT'] ?? (process.env['BENCH_QUICK'] ? 1 : 3));
const median = (xs: number[]) => pct(xs, 50);
const runsNote = (xs: number[]) => (xs.length > 1 ? ` (median of ${xs.length}: ${xs.map((x) => round(x, 0)).join(', ')})` : '');

const say = (s: string) => process.stdout.write(`${s}\n`);
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

async function redisStats(redis: Redis): Promise<{ cmds: number; bytes: number; netIn: number; netOut: number }> {
  const info = await redis.info();
  const get = (k: string) => Number(new RegExp(`^${k}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return { cmds: get('total_commands_processed'), bytes: get('used_memory'), netIn: get('total_net_input_bytes'), netOut: get('total_net_output_bytes') };
}

/** CPU milliseconds used so far by this machine's processes, grouped by role (Linux). */
function cpuByRole(): Map<string, number> {
  const out = new Map<string, number>();
  const tick = 10; // USER_HZ is 100 on Linux
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const role = /redis-server/.test(cmd)
        ? 'redis-server'
        : /apps\/worker\/src\/main/.test(cmd)
          ? 'workers (with their function-runner threads)'
          : /apps\/scheduler\/src\/main/.test(cmd)
            ? 'scheduler'
            : /bench\.ts/.test(cmd)
              ? 'bench (client)'
              : undefined;
      if (!role) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(role, (out.get(role) ?? 0) + (Number(f[11]) + Number(f[12])) * tick);
    } catch {
      // The process ended meanwhile.
    }
  }
  return out;
}

function cpuDelta(before: Map<string, number>, after: Map<string, number>, tasks: number): string {
  return [...after]
    .map(([role, ms]) => [role, ms - (before.get(role) ?? 0)] as const)
    .sort((a, b) => b[1] - a[1])
    .map(([role, ms]) => `  cpu ${role}: ${ms} ms (${round((ms * 1000) / tasks, 0)} µs per task)`)
    .join('\n');
}

/** Where Redis spent its time: the costliest commands by total microseconds. */
async function topCommands(redis: Redis): Promise<string> {
  const rows = (await redis.info('commandstats'))
    .split('\n')
    .map((l) => /^cmdstat_(\S+):calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ cmd: m[1]!, calls: Number(m[2]), usec: Number(m[3]), per: Number(m[4]) }))
    .sort((a, b) => b.usec - a.usec)
    .slice(0, 8);
  return rows.map((r) => `  ${r.cmd}: ${r.calls} calls, ${round(r.usec / 1000, 0)} ms, ${r.per} µs/call`).join('\n');
}

/** Every process the bench started that has not exited: a SIGTERM or Ctrl-C to the bench stops them too. */
const live = new Set<ChildProcess>();
function tracked(c: ChildProcess): ChildProcess {
  live.add(c);
  c.once('exit', () => live.delete(c));
  return c;
}
/** What a signal must clean up besides `live`: set once the bench's redis-server runs. */
let stopRedis: (() => Promise<void>) | undefined;
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  // `on`, not `once`: Ctrl-C reaches the bench twice (from the terminal and from scripts/bench.mjs).
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    say(`\n${signal}: stopping the bench's processes and its redis-server`);
    void stopAll([...live])
      .then(() => stopRedis?.())
      .finally(() => {
        rmSync(join(ROOT, '.bench'), { recursive: true, force: true });
        process.exit(signal === 'SIGINT' ? 130 : 143);
      });
  });
}

function startRaw(mode: 'noop' | 'hop', queue: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = tracked(
    fork(join(ROOT, 'packages', 'bench', 'src', 'raw-worker.ts'), [mode, queue, String(CONCURRENCY)], {
      execArgv: ['--import', 'tsx'],
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  return new Promise((resolve) => child.once('message', () => resolve(child)));
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 10_000);
        }),
    ),
  );
}

async function rawThroughput(url: string): Promise<number> {
  const env = { ...process.env, REDIS_URL: url };
  const workers = await Promise.all([startRaw('noop', 'raw-noop', env), startRaw('noop', 'raw-noop', env)]);
  const conn = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue('raw-noop', { connection: conn });
  const evConn = new Redis(url, { maxRetriesPerRequest: null });
  const events = new QueueEvents('raw-noop', { connection: evConn });
  await events.waitUntilReady();
  let done = 0;
  const finished = new Promise<void>((resolve) =>
    events.on('completed', () => {
      if (++done === WIDE) resolve();
    }),
  );
  const t0 = performance.now();
  for (let i = 0; i < WIDE; i += 1000) {
    await queue.addBulk(
      Array.from({ length: Math.min(1000, WIDE - i) }, (_, j) => ({ name: 'noop', data: { i: i + j }, opts: { removeOnComplete: true, removeOnFail: true } })),
    );
  }
  await finished;
  const perS = WIDE / ((performance.now() - t0) / 1000);
  await events.close();
  await queue.close();
  conn.disconnect();
  evConn.disconnect();
  await stopAll(workers);
  return perS;
}

/** CHAIN_RUNS runs of the 10-task chain; tasks per second. */
async function chainThroughput(client: AloftClient): Promise<number> {
  const t0 = performance.now();
  const runs: string[] = [];
  // Triggered 32 at a time, as a busy scheduler or a backfill creates runs: one at a time,
  // the client's own round trips (about 3 ms each under this load) would be what is measured.
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (runs.length < CHAIN_RUNS) {
        const slot = runs.push('') - 1;
        runs[slot] = (await client.trigger('bench_chain')).runId;
      }
    }),
  );
  await waitRuns(client, 'bench_chain', runs);
  return (CHAIN_RUNS * 10) / ((performance.now() - t0) / 1000);
}

async function rawHops(url: string): Promise<number[]> {
  const env = { ...process.env, REDIS_URL: url, HOPS: String(HOPS) };
  const workers = await Promise.all([startRaw('hop', 'raw-hop', env), startRaw('hop', 'raw-hop', env)]);
  const conn = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue('raw-hop', { connection: conn });
  await queue.add('hop', { i: 0, t: Date.now() }, { removeOnComplete: true });
  while ((await conn.get('raw-hop:done')) !== '1') await new Promise((r) => setTimeout(r, 50));
  const lat = (await conn.lrange('raw-hop:latencies', 1, -1)).map(Number);
  await queue.close();
  await conn.quit();
  await stopAll(workers);
  return lat;
}

function writeBenchDags(folder: string): void {
  mkdirSync(folder, { recursive: true });
  writeFileSync(
    join(folder, 'bench_wide.ts'),
    `import { dag } from '@aloft/core';
const d = dag({ id: 'bench_wide', maxActiveTasks: 1000000 });
for (let i = 0; i < ${WIDE}; i++) d.fn({ id: 't' + i, run: () => undefined });
// Mapped fan-out/fan-in: one list, one no-op instance per element, one reduce of all outputs.
const m = dag({ id: 'bench_mapped', maxActiveTasks: 1000000 });
const src = m.fn({ id: 'src', run: () => Array.from({ length: ${WIDE} }, (_, i) => i) });
const each = m.fn({ id: 'each', expand: { x: src }, maxMapLength: ${WIDE}, run: () => undefined });
m.fn({ id: 'reduce', upstream: [each], run: (ctx) => (ctx.outputs['each'] as unknown[]).length });
// Same file, so warming up loads it into every function runner.
const w = dag({ id: 'bench_warm', maxActiveTasks: 1000000 });
for (let i = 0; i < ${4 * CONCURRENCY}; i++) w.fn({ id: 't' + i, run: () => new Promise((r) => setTimeout(r, 200)) });
`,
  );
  writeFileSync(
    join(folder, 'bench_chain.ts'),
    `import { dag, chain } from '@aloft/core';
const d = dag({ id: 'bench_chain', maxActiveRuns: 100000, maxActiveTasks: 1000000 });
chain(...Array.from({ length: 10 }, (_, i) => d.fn({ id: 't' + i, run: () => undefined })));
`,
  );
  writeFileSync(
    join(folder, 'bench_hops.ts'),
    `import { dag, chain } from '@aloft/core';
// Each task returns when it started and ended, in wall-clock ms with sub-millisecond
// resolution (performance.timeOrigin + performance.now(), as the raw BullMQ hop does): the
// instance's startDate and endDate are whole ms, and a finish and the next claim share one
// script's clock, so they would show every hop as 0 ms.
const now = () => performance.timeOrigin + performance.now();
const d = dag({ id: 'bench_hops', maxActiveTasks: 1000000 });
chain(...Array.from({ length: ${HOP_CHAIN} }, (_, i) => d.fn({ id: 't' + i, run: () => { const start = now(); return { start, end: now() }; } })));
`,
  );
  writeFileSync(join(folder, 'bench_api.ts'), apiBenchDag());
  writeFileSync(
    join(folder, 'bench_pods.ts'),
    `import { dag } from '@aloft/core';
const d = dag({ id: 'bench_pods', maxActiveTasks: 1000000 });
for (let i = 0; i < ${PODS}; i++) d.kubernetesPod({ id: 'p' + i, queue: 'pods', image: 'busybox:1.36', cmds: ['true'], startupTimeout: '10m' });
`,
  );
}

interface PodFigures {
  podsPerS: number;
  requestsPerPod: number;
  enqueueToCreate: number[];
  succeededToSuccess: number[];
}

/**
 * PODS pod tasks that exit at once, through a worker on the Kubernetes API emulator:
 * pods per second, enqueue → create request, pod Succeeded (in the API) → task success,
 * and API requests per pod apart from the shared watch.
 */
async function podBench(client: AloftClient, env: NodeJS.ProcessEnv, children: ChildProcess[]): Promise<PodFigures> {
  const emu = await startEmulator();
  try {
    const kubeconfig = join(ROOT, '.bench', 'kubeconfig');
    emu.writeKubeconfig(kubeconfig);
    const port = await freePort();
    children.push(
      startAloft('worker', {
        ...env,
        KUBECONFIG: kubeconfig,
        ALOFT_WORKER_QUEUES: 'pods',
        ALOFT_WORKER_CONCURRENCY: '500',
        ALOFT_WORKER_ID: 'bench-pods',
        ALOFT_WORKER_HTTP_PORT: String(port),
      }),
    );
    // Measure from a ready worker, not its boot.
    while (
      !(await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      ))
    )
      await new Promise((r) => setTimeout(r, 100));
    const from = emu.requests.length;
    const t0 = performance.now();
    const run = await client.trigger('bench_pods');
    await waitRuns(client, 'bench_pods', [run.runId]);
    const podsPerS = PODS / ((performance.now() - t0) / 1000);
    const reqs = emu.requests.slice(from);
    const created = new Map(reqs.filter((r) => r.method === 'POST' && r.status === 201).map((r) => [r.name!, r.at]));
    const tis = await client.listTaskInstances('bench_pods', run.runId);
    const enqueueToCreate: number[] = [];
    const succeededToSuccess: number[] = [];
    for (const ti of tis) {
      const name = ti.pod?.split('/')[1];
      if (!name) continue;
      const at = created.get(name);
      if (at !== undefined && ti.queuedAt) enqueueToCreate.push(at - ti.queuedAt);
      const succeeded = emu.phaseTimes('default', name)['Succeeded'];
      if (succeeded !== undefined && ti.endDate) succeededToSuccess.push(ti.endDate - succeeded);
    }
    const perPod = reqs.filter((r) => r.query['watch'] === undefined).length / PODS;
    return { podsPerS, requestsPerPod: perPod, enqueueToCreate, succeededToSuccess };
  } finally {
    await emu.stop();
  }
}

function startAloft(app: string, env: NodeJS.ProcessEnv): ChildProcess {
  return tracked(
    spawn(
      process.execPath,
      [
        ...(process.env['BENCH_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, '.test-results', 'bench-profiles')}`] : []),
        ...(process.env['BENCH_NODE_FLAGS'] ? process.env['BENCH_NODE_FLAGS'].split(' ') : []),
        '--conditions=aloft-source',
        '--import',
        'tsx',
        join(ROOT, 'apps', app, 'src', 'main.ts'),
      ],
      {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    ),
  );
}

/** Polls the runs' states in one pipeline per round, so waiting costs the system little. */
async function waitRuns(client: AloftClient, dagId: string, runIds: string[]): Promise<void> {
  let pending = runIds;
  const { store } = client;
  while (pending.length) {
    const pipe = store.redis.pipeline();
    for (const id of pending) pipe.hget(store.keys.run(dagId, id), 'state');
    const states = ((await pipe.exec()) ?? []).map(([, v]) => v as string | null);
    const failed = pending.find((_, i) => states[i] === 'failed');
    if (failed) throw new Error(`bench run ${dagId}/${failed} failed`);
    pending = pending.filter((_, i) => states[i] !== 'success');
    if (pending.length) await new Promise((r) => setTimeout(r, 20));
  }
}

async function main(): Promise<void> {
  say(`aloft bench: ${cpus().length} cores, node ${process.version}, 2 worker processes × concurrency ${CONCURRENCY}`);
  const redisHandle = await startRedis();
  stopRedis = () => redisHandle.stop();
  const url = redisHandle.url;
  const admin = new Redis(url);
  const children: ChildProcess[] = [];
  const folder = join(ROOT, '.bench', 'dags');
  try {
    say('\n— raw BullMQ —');
    // Raw BullMQ's throughput runs take turns with Aloft's (below): this VM's speed drifts
    // by 10–20% over minutes, and a ratio of figures taken minutes apart carried that drift.
    const rawCpu0 = cpuByRole();
    const rawRuns: number[] = [await rawThroughput(url)];
    if (process.env['BENCH_VERBOSE']) say(cpuDelta(rawCpu0, cpuByRole(), WIDE));
    say(`no-op jobs: ${WIDE} in one batch: ${round(rawRuns[0]!, 0)} jobs/s (first run; the others alternate with Aloft's)`);
    const rawLat = await rawHops(url);
    say(`hop (a job adds the next): p50 ${round(pct(rawLat, 50))} ms, p99 ${round(pct(rawLat, 99))} ms over ${rawLat.length} hops`);
    await admin.flushall();

    say('\n— Aloft —');
    writeBenchDags(folder);
    const env = {
      ...process.env,
      REDIS_URL: url,
      ALOFT_DAGS_FOLDER: folder,
      ALOFT_LOG_LEVEL: 'warn',
      ALOFT_WORKER_CONCURRENCY: String(CONCURRENCY),
      // Steady state: every function runner is started before measuring.
      ALOFT_FN_RUNNERS_WARM: String(CONCURRENCY),
      ALOFT_SCHEDULER_HTTP_PORT: String(await freePort()),
      ALOFT_DAG_PARSE_TIMEOUT_MS: '120000',
      // The API figures are for a DAG with API_RUNS runs: retention (500 by default) must not
      // trim them while they are measured.
      ALOFT_RETENTION_MAX_RUNS: String(100_000),
    };
    children.push(startAloft('scheduler', env));
    for (const id of ['bench-1', 'bench-2']) {
      children.push(startAloft('worker', { ...env, ALOFT_WORKER_ID: id, ALOFT_WORKER_HTTP_PORT: String(await freePort()) }));
    }
    const client = createClient({ redisUrl: url });
    while ((await client.listDags()).length < 7) await new Promise((r) => setTimeout(r, 200));
    // Warm up: every function runner imports the DAG files.
    for (const id of ['bench_warm', 'bench_chain', 'bench_hops']) {
      const r = await client.trigger(id);
      await waitRuns(client, id, [r.runId]);
    }

    const wideRuns: number[] = [];
    const chainRuns: number[] = [];
    let cmdsPerTask = 0;
    let bytesPerTask = 0;
    for (let i = 0; i < REPEAT; i++) {
      // Raw BullMQ's next run (its own queue and worker processes; Aloft's sit idle meanwhile).
      if (i > 0) rawRuns.push(await rawThroughput(url));
      if (i === 0) await admin.config('RESETSTAT');
      const before = await redisStats(admin);
      const cpuBefore = cpuByRole();
      const t = performance.now();
      const wide = await client.trigger('bench_wide');
      await waitRuns(client, 'bench_wide', [wide.runId]);
      wideRuns.push(WIDE / ((performance.now() - t) / 1000));
      if (i === 0) {
        const after = await redisStats(admin);
        cmdsPerTask = (after.cmds - before.cmds) / WIDE;
        bytesPerTask = (after.bytes - before.bytes) / WIDE;
        say(`redis: ${round(cmdsPerTask, 1)} commands and ${round(bytesPerTask, 0)} bytes of memory per task instance (retained run)`);
        if (process.env['BENCH_VERBOSE']) {
          say(
            `  redis network: ${round((after.netIn - before.netIn) / WIDE, 0)} bytes in, ${round((after.netOut - before.netOut) / WIDE, 0)} bytes out per task`,
          );
          say(cpuDelta(cpuBefore, cpuByRole(), WIDE));
          say(await topCommands(admin));
        }
      }
      chainRuns.push(await chainThroughput(client));
    }
    const rawPerS = median(rawRuns);
    say(`raw BullMQ, all runs: ${round(rawPerS, 0)} jobs/s${runsNote(rawRuns)}`);
    const widePerS = median(wideRuns);
    say(`one run of ${WIDE} independent no-op tasks: ${round(widePerS, 0)} tasks/s${runsNote(wideRuns)}`);

    let t0 = performance.now();
    const mapped = await client.trigger('bench_mapped');
    await waitRuns(client, 'bench_mapped', [mapped.runId]);
    const mappedPerS = (WIDE + 2) / ((performance.now() - t0) / 1000);
    const reduced = await client.getOutput('bench_mapped', mapped.runId, 'reduce');
    if (reduced !== WIDE) throw new Error(`bench_mapped: reduce saw ${String(reduced)} outputs, not ${WIDE}`);
    say(
      `one task mapped over a ${WIDE}-element upstream list, reduced: ${round(mappedPerS, 0)} tasks/s (${round(mappedPerS / widePerS, 2)} × the independent tasks)`,
    );

    const chainPerS = median(chainRuns);
    say(`${CHAIN_RUNS} runs of a 10-task chain: ${round(chainPerS, 0)} tasks/s${runsNote(chainRuns)}`);
    const tasksPerS = Math.min(widePerS, chainPerS);
    const throughput = {
      tasks_per_s: round(tasksPerS, 0),
      wide_tasks_per_s: round(widePerS, 0),
      chain_tasks_per_s: round(chainPerS, 0),
      mapped_tasks_per_s: round(mappedPerS, 0),
      mapped_to_wide_ratio: round(mappedPerS / widePerS, 2),
      raw_jobs_per_s: round(rawPerS, 0),
      throughput_ratio: round(tasksPerS / rawPerS, 3),
      throughput_runs: REPEAT,
    };
    if (process.env['BENCH_QUICK']) {
      // Throughput only, for trying engine changes: no hops, API or pods.
      say(`\n${JSON.stringify({ ...throughput, redis_cmds_per_task: round(cmdsPerTask, 1) })}`);
      await client.close();
      return;
    }

    const hops: number[] = [];
    while (hops.length < HOPS) {
      const r = await client.trigger('bench_hops');
      await waitRuns(client, 'bench_hops', [r.runId]);
      const ids = Array.from({ length: HOP_CHAIN }, (_, i) => `t${i}`);
      const times = (await client.store.getOutputs('bench_hops', r.runId, ids)) as Record<string, { start: number; end: number }>;
      // From the upstream function's return to the downstream function's first line.
      for (let i = 1; i < HOP_CHAIN; i++) hops.push(times[`t${i}`]!.start - times[`t${i - 1}`]!.end);
    }
    say(`hop (upstream return → downstream function start): p50 ${round(pct(hops, 50), 3)} ms, p99 ${round(pct(hops, 99), 3)} ms over ${hops.length} hops`);

    say('\n— Dashboard API —');
    t0 = performance.now();
    const apiRuns: string[] = [];
    for (let i = 0; i < API_RUNS; i++) apiRuns.push((await client.trigger('bench_api')).runId);
    await waitRuns(client, 'bench_api', apiRuns);
    say(`${API_RUNS} runs × ${API_TASKS} tasks of bench_api made in ${round((performance.now() - t0) / 1000, 1)} s`);
    const password = 'bench-admin-password';
    const dashPort = await freePort();
    children.push(
      startAloft('dashboard', { ...env, ALOFT_DASHBOARD_PORT: String(dashPort), ALOFT_DASHBOARD_ADMIN_PASSWORD: password, ALOFT_LOG_LEVEL: 'warn' }),
    );
    const base = `http://127.0.0.1:${dashPort}`;
    while (
      !(await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      ))
    )
      await new Promise((r) => setTimeout(r, 200));
    let backgroundTasks = 0;
    const api = await apiBench({
      base,
      password,
      requests: API_REQUESTS,
      clients: 8,
      runs: API_RUNS,
      // Workers stay busy with chain runs, 20 at a time, while the API is measured.
      async background(stop) {
        while (!stop()) {
          const batch: string[] = [];
          for (let i = 0; i < 20; i++) batch.push((await client.trigger('bench_chain')).runId);
          await waitRuns(client, 'bench_chain', batch);
          backgroundTasks += batch.length * 10;
        }
      },
    });
    for (const e of api.endpoints)
      say(`GET ${e.name}: p50 ${round(e.p50, 1)} ms, p99 ${round(e.p99, 1)} ms, ${round(e.reqPerS, 0)} req/s (${round(e.bytes / 1024, 1)} KiB)`);
    say(`(8 concurrent clients, ${API_REQUESTS} requests each endpoint, while workers ran ${backgroundTasks} chain tasks)`);
    if (api.uiGridMs !== undefined)
      say(
        `web UI in Chromium: DAG page to ${Math.min(25, API_RUNS)} × ${API_TASKS} grid cells drawn p50 ${round(api.uiGridMs, 0)} ms; grid → graph of ${API_TASKS} nodes p50 ${round(api.uiGraphMs ?? 0, 0)} ms`,
      );

    say('\n— Aloft pods (Kubernetes API emulator) —');
    const pods = await podBench(client, env, children);
    say(
      `${PODS} pod tasks that exit at once: ${round(pods.podsPerS, 1)} pods/s, ${round(pods.requestsPerPod, 2)} API requests per pod besides the shared watch`,
    );
    say(`enqueued → create request: p50 ${pct(pods.enqueueToCreate, 50)} ms, p99 ${pct(pods.enqueueToCreate, 99)} ms`);
    say(`pod Succeeded → task success: p50 ${pct(pods.succeededToSuccess, 50)} ms, p99 ${pct(pods.succeededToSuccess, 99)} ms`);
    await client.close();

    const result = {
      ...throughput,
      hop_p50_ms: round(pct(hops, 50), 3),
      hop_p99_ms: round(pct(hops, 99), 3),
      raw_hop_p50_ms: round(pct(rawLat, 50), 3),
      raw_hop_p99_ms: round(pct(rawLat, 99), 3),
      hop_ratio: round(pct(hops, 50) / Math.max(pct(rawLat, 50), 0.5), 2),
      redis_cmds_per_task: round(cmdsPerTask, 1),
      redis_bytes_per_task: round(bytesPerTask, 0),
      api_grid_p50_ms: round(api.endpoints[0]!.p50, 1),
      api_grid_p99_ms: round(api.endpoints[0]!.p99, 1),
      api_grid_req_per_s: round(api.endpoints[0]!.reqPerS, 0),
      api_runs_p50_ms: round(api.endpoints[2]!.p50, 1),
      api_runs_p99_ms: round(api.endpoints[2]!.p99, 1),
      api_runs_req_per_s: round(api.endpoints[2]!.reqPerS, 0),
      ui_grid_ms: api.uiGridMs === undefined ? null : round(api.uiGridMs, 0),
      pods_per_s: round(pods.podsPerS, 1),
      k8s_requests_per_pod: round(pods.requestsPerPod, 2),
      pod_enqueue_to_create_p50_ms: pct(pods.enqueueToCreate, 50),
      pod_enqueue_to_create_p99_ms: pct(pods.enqueueToCreate, 99),
      pod_succeeded_to_success_p50_ms: pct(pods.succeededToSuccess, 50),
      pod_succeeded_to_success_p99_ms: pct(pods.succeededToSuccess, 99),
    };
    say('');
    say(JSON.stringify(result));
  } finally {
    await stopAll(children);
    await admin.quit();
    await redisHandle.stop();
    rmSync(join(ROOT, '.bench'), { recursive: true, force: true });
  }
}

await main();
