import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '@aloft/core';
import { startRedis } from '@aloft/core/testing';
import { ROOT } from './support/system.js';

const EXAMPLES = join(ROOT, 'examples', 'dags');
const TMP = mkdtempSync(join(tmpdir(), 'aloft-dags-test-'));
const MARK = `ALOFT_DAGS_TEST_MARK=${Math.random().toString(36).slice(2)}`;

/**
 * What `aloft dags test` needs to run each example as the quick start runs it: warehouse_report's
 * connections and variables (scripts/lib/example-secrets.mjs; the store's two, which the quick start
 * seals in Redis, come from the env backend here), and pod_pipeline's Secret for the local pod stand-in.
 */
function exampleEnv(): NodeJS.ProcessEnv {
  const secrets = join(TMP, 'secrets');
  for (const sub of ['connections', 'variables']) mkdirSync(join(secrets, sub), { recursive: true });
  writeFileSync(join(secrets, 'connections', 'reporting_api'), JSON.stringify({ type: 'http', host: 'reports.example.internal', password: 'rpt-example-1' }));
  writeFileSync(join(secrets, 'variables', 'report_title'), 'Daily sales report\n');
  writeFileSync(join(TMP, 'pod-secrets.json'), JSON.stringify({ warehouse: { password: 'wh-pod-example' } }));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ALOFT_SECRETS_DIR: secrets,
    ALOFT_CONN_WAREHOUSE: 'postgres://report:wh-example-2@warehouse.example.internal:5432/sales',
    ALOFT_VAR_REGION: 'eu-west-1',
    ALOFT_CONN_NOTIFY: JSON.stringify({ type: 'smtp', host: 'mail.example.internal', port: 587, login: 'alerts', password: 'ntf-example-3' }),
    ALOFT_VAR_ALERT_THRESHOLD: '0.05',
    // No cluster: pods go to the local stand-in, as in the quick start without a kubeconfig.
    HOME: TMP,
    [MARK.split('=')[0]!]: MARK.split('=')[1]!,
  };
  for (const k of ['KUBECONFIG', 'ALOFT_K8S_KUBECONFIG', 'KUBERNETES_SERVICE_HOST', 'ALOFT_DAGS_FOLDER']) delete env[k];
  return env;
}
const ENV = exampleEnv();

function cli(args: string[], env: NodeJS.ProcessEnv = ENV): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'scripts', 'aloft.mjs'), ...args], { cwd: TMP, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Processes still carrying this file's marker in their environment (the CLI's redis-server, worker helpers). */
function marked(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(MARK)) out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return out;
}

/** How each example DAG is meant to end; the two samples fail on purpose (their `failing` task). */
const INTENDED: Record<string, { state: 'success' | 'failed'; failing?: string }> = {
  etl_fan_out: { state: 'success' },
  grouped_pipeline: { state: 'success' },
  kubernetes_sample: { state: 'failed', failing: 'failing' },
  kubernetes_sample_pod: { state: 'failed', failing: 'failing' },
  partitions_mapped: { state: 'success' },
  pod_pipeline: { state: 'success' },
  warehouse_report: { state: 'success' },
};

afterAll(() => rmSync(TMP, { recursive: true, force: true }));

describe('aloft dags test on every example DAG (throw-away redis-server, scheduler and worker in the CLI process)', () => {
  it('has an intended outcome for every file in examples/dags', () => {
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.ts'));
    expect(files.map((f) => f.replace(/\.ts$/, '')).sort()).toEqual(Object.keys(INTENDED).sort());
  });

  for (const [dagId, intended] of Object.entries(INTENDED)) {
    it(`${dagId}: ends ${intended.state}, exit code ${intended.state === 'success' ? 0 : 1}`, async () => {
      const r = await cli(['dags', 'test', dagId, '--folder', EXAMPLES, '--pod-secrets', join(TMP, 'pod-secrets.json'), '--json']);
      expect(r.code, r.stderr).toBe(intended.state === 'success' ? 0 : 1);
      const result = JSON.parse(r.stdout) as { state: string; dagId: string; tasks: { taskId: string; state: string; log: string[] }[] };
      expect(result).toMatchObject({ state: intended.state, dagId });
      const failed = result.tasks.filter((t) => t.state !== 'success' && t.state !== 'skipped').map((t) => t.taskId);
      expect(failed).toEqual(intended.failing ? [intended.failing] : []);
      const n = result.tasks.length;
      expect(r.stderr).toContain(`${n}/${n} tasks done`);
      expect(marked()).toEqual([]);
    });
  }

  it('prints each task with its log as it ends, then a table', async () => {
    const r = await cli(['dags', 'test', 'grouped_pipeline', '--folder', EXAMPLES, '--date', '2026-02-03']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('── publish.table: success\n');
    expect(r.stdout).toContain('   net=230 for 2026-02-03\n');
    expect(r.stdout).toMatch(/\nTASK +STATE +TRY +REASON +OUTPUT\n/);
    expect(r.stdout).toMatch(/\ncheck +success +1 +230\n/);
    expect(r.stdout).toMatch(/\nrun manual__2026-02-03T00:00:00\.000Z__test: success\n$/);
  });

  it('finds the DAG in ALOFT_DAGS_FOLDER, and names the DAG and the folder when it is not there (exit 2)', async () => {
    const r = await cli(['dags', 'test', 'no_such_dag'], { ...ENV, ALOFT_DAGS_FOLDER: EXAMPLES });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`aloft: no DAG "no_such_dag" in ${EXAMPLES} (it declares etl_fan_out, grouped_pipeline, kubernetes_sample,`);
    expect(r.stdout).toBe('');
  });

  it('refuses a --conf the DAG does not take (exit 2)', async () => {
    const r = await cli(['dags', 'test', 'partitions_mapped', '--folder', EXAMPLES, '--conf', '[1]']);
    expect(r).toMatchObject({ code: 2, stderr: 'aloft: --conf must be a JSON object (got [1])\n' });
  });
});

describe('aloft dags test with runInPod tasks and no cluster', () => {
  it("runs them in pods on the local stand-in, with this checkout's run-task as the task image", async () => {
    const r = await cli(['dags', 'test', 'in_pods', '--folder', join(ROOT, 'tests', 'fixtures', 'k8s-dags'), '--json']);
    expect(r.code, r.stderr).toBe(1);
    const result = JSON.parse(r.stdout) as { pods: string; tasks: { taskId: string; state: string; output?: unknown; reason?: string }[] };
    expect(result.pods).toBe('stand-in');
    const byId = Object.fromEntries(result.tasks.map((t) => [t.taskId, t]));
    expect(byId['make']).toMatchObject({ state: 'success', output: { n: 3 } });
    expect(byId['shell']).toMatchObject({ state: 'success', output: { ok: true } });
    expect(byId['skipper']).toMatchObject({ state: 'skipped', reason: 'skipped in its pod (exit code 99)' });
    expect(byId['thrower']?.state).toBe('failed');
  });
});

describe('aloft tasks test, beside aloft tasks <dag> <run>', () => {
  it('runs one task with the upstream outputs given; nothing else runs', async () => {
    const upstream = { transform_north: { revenue: 1 }, transform_south: { revenue: 2 }, transform_east: { revenue: 3 }, transform_west: { revenue: 4 } };
    const r = await cli(['tasks', 'test', 'etl_fan_out', 'load', '--folder', EXAMPLES, '--upstream', JSON.stringify(upstream), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { state: string; tasks: { taskId: string; output: unknown }[] };
    expect(result.state).toBe('success');
    expect(result.tasks.map((t) => [t.taskId, t.output])).toEqual([['load', { regions: 4, revenue: 10, currency: 'EUR' }]]);
  });

  it('exits 1 when the task fails, and 2 for a task the DAG does not have', async () => {
    const failing = await cli(['tasks', 'test', 'kubernetes_sample', 'failing', '--folder', EXAMPLES]);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/── failing: failed \(try 2\)/);
    const unknown = await cli(['tasks', 'test', 'kubernetes_sample', 'nope', '--folder', EXAMPLES]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('aloft: DAG "kubernetes_sample" has no task "nope" (its tasks: run_this_first, passing, failing)\n');
  });

  it('still lists the task instances of a run with `aloft tasks <dag> <run>`', async () => {
    const redis = await startRedis();
    const client = createClient({ redisUrl: redis.url, prefix: 'tt' });
    try {
      const run = await client.submitCommand({ command: ['true'] });
      const r = await cli(['tasks', run.dagId, run.runId, '--json'], { ...ENV, REDIS_URL: redis.url, ALOFT_KEY_PREFIX: 'tt' });
      expect(r.code, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as { taskId: string; state: string }[]).map((t) => [t.taskId, t.state])).toEqual([['command', 'queued']]);
    } finally {
      await client.close();
      await redis.stop();
    }
  });
});

describe('aloft tasks render (a dry run: nothing runs, no pod is created)', () => {
  it('prints a command with its templates rendered, and the names of its variables, not their values', async () => {
    const r = await cli(['tasks', 'render', 'warehouse_report', 'publish', '--folder', EXAMPLES, '--date', '2026-01-01']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      [
        'warehouse_report.publish (command)',
        'command: echo "Daily sales report for eu-west-1 to reports.example.internal"; echo "token set: ${API_TOKEN:+yes}, printed: $API_TOKEN"',
        'args: {}',
        'env (names): ALOFT_DAG_ID, ALOFT_TASK_ID, ALOFT_RUN_ID, ALOFT_TRY_NUMBER, ALOFT_LOGICAL_DATE, ALOFT_DS, API_TOKEN',
        '',
      ].join('\n'),
    );
    expect(r.stdout).not.toContain('rpt-example-1');
  });

  it('renders templates over the upstream outputs given', async () => {
    const r = await cli([
      'tasks',
      'render',
      'etl_fan_out',
      'report',
      '--folder',
      EXAMPLES,
      '--date',
      '2026-01-01T05:00:00Z',
      '--upstream',
      '{"load":{"revenue":7}}',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('command: echo "report for 2026-01-01: revenue 7 EUR"\n');
  });

  it("prints a pod task's pod as the worker builds it", async () => {
    const r = await cli(['tasks', 'render', 'pod_pipeline', 'transform', '--folder', EXAMPLES, '--upstream', '{"extract":{"orders":42,"rows":2}}', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { kind, pod, env } = JSON.parse(r.stdout) as { kind: string; env: string[]; pod: any };
    expect(kind).toBe('kubernetesPod');
    expect(pod).toMatchObject({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { namespace: 'default', labels: { 'aloft.dev/dag': 'pod_pipeline', 'aloft.dev/task': 'transform' } },
    });
    const base = pod.spec.containers[0];
    expect(base).toMatchObject({ name: 'base', image: 'busybox:1.36', command: ['sh', '-c'], resources: { limits: { memory: '64Mi' } } });
    expect(base.args[0]).toContain('echo "42 orders in 2 rows"');
    expect(env).toContain('ALOFT_DAG_ID');
    const extract = JSON.parse((await cli(['tasks', 'render', 'pod_pipeline', 'extract', '--folder', EXAMPLES, '--json'])).stdout) as { pod: any };
    expect(extract.pod.spec.containers[0].env).toContainEqual({
      name: 'WAREHOUSE_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'warehouse', key: 'password' } },
    });
  });

  it('names the task and the DAG when the task does not exist (exit 2)', async () => {
    const r = await cli(['tasks', 'render', 'pod_pipeline', 'load', '--folder', EXAMPLES]);
    expect(r).toMatchObject({ code: 2, stdout: '', stderr: 'aloft: DAG "pod_pipeline" has no task "load" (its tasks: extract, transform, report)\n' });
  });
});
