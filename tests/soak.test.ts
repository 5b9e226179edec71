import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DagRun, TaskInstance } from '@aloft/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminPassword, createToken } from './support/dashboard.js';
import { logLines, logProblems } from './support/service-logs.js';
import { ROOT, System, waitFor, type Service } from './support/system.js';

/**
 * The quick start, soaked: what `node scripts/up.mjs` starts (redis-server with AOF, the
 * scheduler, two workers, the dashboard, at the quick start's defaults) with the example
 * DAGs, for SOAK_MS (default 120 s; the whole test stays under about four minutes on a
 * loaded 2-core machine). The scheduled examples run on fast schedules (a copy of each file
 * with its schedule made `{ every: '10s' }`); the manual ones are triggered every 5 s; a
 * dashboard client reads the API and the live events stream meanwhile. It fails on any
 * ERROR or FATAL line, unhandled rejection or "Unhandled error event" in any service's
 * output, and on any run or task instance that did not end as its DAG intends.
 *
 * As in the quick start without a cluster, pods run on the local stand-in
 * (scripts/pod-stand-in.ts), and kubernetes_sample_pod is triggered with the others.
 * pod_pipeline is left out: it needs a Secret the stand-in does not have
 * (tests/kubernetes.test.ts runs it on a real API server).
 */
const SOAK_MS = Number(process.env['SOAK_MS'] ?? 120_000);
const DAGS = join(ROOT, '.test-results', `soak-dags-${process.pid}`);

/** How each example's run must end: the run's state, and every instance's, by task id. */
interface Intended {
  run: 'success' | 'failed';
  /**
   * Per task id: the end state and try number of each of its instances; for a mapped task,
   * how many instances the run expands it to (its record as a whole has no try of its own).
   */
  tasks: Record<string, { state: string; try: number; reason?: string; instances?: (run: DagRun) => number }>;
}
const success = (ids: string[]) => Object.fromEntries(ids.map((id) => [id, { state: 'success', try: 1 }]));
/** An `empty` task succeeds without a worker, so without a try. */
const empty = (id: string) => ({ [id]: { state: 'success', try: 0 } });
const INTENDED: Record<string, Intended> = {
  etl_fan_out: { run: 'success', tasks: success(['extract', 'transform_north', 'transform_south', 'transform_east', 'transform_west', 'load', 'report']) },
  // `failing` runs an interpreter that is not installed: it fails, is retried once, and fails.
  kubernetes_sample: {
    run: 'failed',
    tasks: { ...empty('run_this_first'), ...success(['passing']), failing: { state: 'failed', try: 2, reason: 'command not found: python-not-installed' } },
  },
  grouped_pipeline: {
    run: 'success',
    tasks: { ...empty('start'), ...success(['ingest.orders', 'ingest.refunds', 'check', 'publish.table', 'publish.report.render', 'publish.report.send']) },
  },
  // The group runs once per partition listed; the soak asks for 1 to 5 (conf.partitions).
  partitions_mapped: {
    run: 'success',
    tasks: {
      ...success(['list_partitions', 'report']),
      ...Object.fromEntries(
        ['per_partition.fetch', 'per_partition.count'].map((id) => [
          id,
          { state: 'success', try: 1, instances: (run: DagRun) => Number(run.conf['partitions']) },
        ]),
      ),
    },
  },
};
INTENDED['kubernetes_sample_pod'] = {
  // kubernetes_sample with pods: `failing`'s image has no python, so it fails on both tries.
  run: 'failed',
  tasks: { ...empty('run_this_first'), ...success(['passing']), failing: { state: 'failed', try: 2 } },
};
const SCHEDULED = ['etl_fan_out', 'kubernetes_sample'];
const TRIGGERED = ['grouped_pipeline', 'partitions_mapped', 'kubernetes_sample_pod'];

/** Copies the examples this soak runs, with each scheduled one's schedule made fast. */
function soakDags(): void {
  rmSync(DAGS, { recursive: true, force: true });
  mkdirSync(DAGS, { recursive: true });
  for (const id of Object.keys(INTENDED)) {
    const src = readFileSync(join(ROOT, 'examples', 'dags', `${id}.ts`), 'utf8');
    const fast = src.replace(/\n {2}schedule: '[^']+',\n/, "\n  schedule: { every: '10s' },\n");
    if (SCHEDULED.includes(id) && fast === src) throw new Error(`examples/dags/${id}.ts: no schedule line to speed up`);
    writeFileSync(join(DAGS, `${id}.ts`), fast);
  }
}

/** What is wrong with one finished run, measured against its DAG's intended end. */
function problemsOf(run: DagRun, tis: TaskInstance[]): string[] {
  const want = INTENDED[run.dagId]!;
  const at = `${run.dagId}/${run.runId}`;
  const out: string[] = [];
  if (run.state !== want.run) out.push(`${at}: run ${run.state}, intended ${want.run}`);
  for (const id of Object.keys(want.tasks)) if (!tis.some((t) => t.taskId === id)) out.push(`${at}: no instance of ${id}`);
  for (const t of tis) {
    const w = want.tasks[t.taskId];
    const what = `${at}: ${t.taskId}${t.mapIndex >= 0 ? `[${t.mapIndex}]` : ''}`;
    if (!w) out.push(`${what}: not a task the DAG declares`);
    else if (w.instances && t.mapIndex < 0) {
      const n = w.instances(run);
      if (t.state !== w.state || JSON.stringify(t.mapped) !== JSON.stringify({ n, states: { [w.state]: n } })) {
        out.push(`${what}: ${t.state} with instances ${JSON.stringify(t.mapped)}, intended ${n} instances, all ${w.state}`);
      }
    } else if (t.state !== w.state || t.try !== w.try || (w.reason !== undefined && t.reason !== w.reason)) {
      out.push(`${what}: ${t.state} on try ${t.try} (${t.reason ?? 'no reason'}), intended ${w.state} on try ${w.try}`);
    }
  }
  return out;
}

describe('quick start soak (redis-server with AOF, scheduler, two workers, dashboard, example DAGs)', () => {
  const sys = new System({
    dagsFolder: DAGS,
    appendonly: true,
    // The quick start's defaults, not the fast loops other suites use.
    env: { ALOFT_LOG_LEVEL: 'info', ALOFT_SCHEDULER_LOOP_MS: '1000', ALOFT_SWEEP_MS: '10000', ALOFT_DAG_SCAN_MS: '2000', ALOFT_HEARTBEAT_MS: '2000' },
  });
  let services: Service[];
  let base: string;
  let token: string;
  let standIn: ChildProcess | undefined;
  let standInExit: Promise<number | null> | undefined;

  beforeAll(async () => {
    soakDags();
    await sys.start();
    // The pod stand-in, as `up` starts it when no cluster is configured.
    const kubeconfig = join(DAGS, '..', `soak-kube-${process.pid}`, 'kubeconfig');
    rmSync(kubeconfig, { force: true });
    standIn = spawn(process.execPath, ['--conditions=aloft-source', '--import', 'tsx', join(ROOT, 'scripts', 'pod-stand-in.ts'), kubeconfig], {
      cwd: ROOT,
      stdio: 'ignore',
    });
    standInExit = new Promise((res) => standIn!.once('exit', (code) => res(code)));
    await waitFor('the pod stand-in', async () => existsSync(kubeconfig), 60_000);
    const pods = { KUBECONFIG: kubeconfig, ALOFT_K8S_STAND_IN: '1' };
    services = [
      await sys.spawn('scheduler', 'scheduler'),
      await sys.spawn('worker', 'worker-1', pods),
      await sys.spawn('worker', 'worker-2', pods),
      await sys.spawn('dashboard', 'dashboard', pods),
    ];
    base = `http://127.0.0.1:${services[3]!.port}`;
    const ready = (s: Service) =>
      fetch(`http://127.0.0.1:${s.port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
    await waitFor('every service ready', async () => (await Promise.all(services.map(ready))).every(Boolean), 180_000);
    token = await createToken(base, await adminPassword(sys), 'soak', 'viewer');
    await waitFor(
      'every soaked example stored',
      async () => {
        const ids = new Set((await sys.client.listDags()).map((d) => d.dag.id));
        return Object.keys(INTENDED).every((id) => ids.has(id));
      },
      180_000,
    );
  }, 400_000);
  afterAll(async () => {
    await sys.stop();
    if (standIn && standIn.exitCode === null && standIn.signalCode === null) standIn.kill('SIGKILL');
    rmSync(DAGS, { recursive: true, force: true });
  });

  it(
    `runs the examples for ${SOAK_MS / 1000} s with every run ending as intended and no error in any log`,
    async () => {
      const started = Date.now();
      const api = (path: string) => fetch(`${base}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
      // A browser's live view: the events stream stays open for the whole soak.
      const live = await api('/events');
      expect(live.status).toBe(200);
      const events = live.body!.getReader();
      const apiStatuses = new Map<number, number>();
      let round = 0;
      while (Date.now() - started < SOAK_MS) {
        round++;
        for (const id of TRIGGERED) await sys.client.trigger(id, id === 'partitions_mapped' ? { conf: { partitions: 1 + (round % 5) } } : {});
        for (const path of ['/dags', '/importErrors', '/dags/etl_fan_out/runs', '/dags/kubernetes_sample/grid', '/queues', '/pools']) {
          const s = (await api(path)).status;
          apiStatuses.set(s, (apiStatuses.get(s) ?? 0) + 1);
        }
        await new Promise((r) => setTimeout(r, 5000));
      }
      // Drain: no new scheduled runs, then every run must finish.
      for (const id of SCHEDULED) await sys.client.setPaused(id, true);
      const runs = await waitFor(
        'every run finished',
        async () => {
          const all = (await Promise.all(Object.keys(INTENDED).map((id) => sys.client.listRuns(id, { limit: 10_000 })))).flat();
          return all.every((r) => r.state === 'success' || r.state === 'failed') && all;
        },
        120_000,
      );
      await events.cancel();
      const problems: string[] = [];
      let instances = 0;
      for (const run of runs) {
        const tis = await sys.client.listTaskInstances(run.dagId, run.runId);
        instances += tis.length;
        problems.push(...problemsOf(run, tis));
      }
      for (const s of services) expect({ service: s.name, exit: await s.kill('SIGTERM') }).toEqual({ service: s.name, exit: 0 });
      standIn!.kill('SIGTERM');
      expect({ service: 'pod stand-in', exit: await standInExit }).toEqual({ service: 'pod stand-in', exit: 0 });

      const workers = services.filter((s) => s.name.startsWith('worker'));
      const logs = services.map((s) => ({ service: s.name, ...logProblems(s) }));
      const byDag = Object.fromEntries(Object.keys(INTENDED).map((id) => [id, runs.filter((r) => r.dagId === id).length]));
      const figures = {
        soakMs: SOAK_MS,
        wallMs: Date.now() - started,
        runs: runs.length,
        runsByDag: byDag,
        scheduledRuns: runs.filter((r) => r.runType === 'scheduled').length,
        taskInstances: instances,
        finishes: workers.reduce((n, w) => n + logLines(w, 'task finished').length, 0),
        finishesByWorker: Object.fromEntries(workers.map((w) => [w.name, logLines(w, 'task finished').length])),
        errorLines: logs.reduce((n, l) => n + l.errors.length, 0),
        apiStatuses: Object.fromEntries(apiStatuses),
      };
      console.log(`soak figures ${JSON.stringify(figures)}`);

      expect(problems).toEqual([]);
      expect(await sys.client.importErrors()).toEqual([]);
      for (const l of logs) expect(l).toEqual({ service: l.service, errors: [], unhandledErrorEvents: [], unhandledRejections: [] });
      expect([...apiStatuses.keys()]).toEqual([200]);
      // Each scheduled example ran on its fast schedule, not once.
      for (const id of SCHEDULED) expect(runs.filter((r) => r.dagId === id && r.runType === 'scheduled').length).toBeGreaterThan(1);
    },
    SOAK_MS + 240_000,
  );
});
