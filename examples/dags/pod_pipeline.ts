/**
 * Pods that pass data along: an extract pod reads a password from a Secret (by reference:
 * the worker never sees it), runs with requests and limits, and returns its result as
 * JSON through its termination message (up to 4 KiB; larger outputs go out as a
 * `::aloft-output::<json>` line on stdout); a transform pod gets that output through a
 * template; a function sums up. The termination message is written to
 * /dev/termination-log, or where TERMINATION_MESSAGE_PATH says on a kubelet stand-in that
 * runs containers as local processes (the tests' real-kube). Manual only: it needs a worker
 * with a cluster, a Secret `warehouse` with a key `password` in the worker's
 * ALOFT_TASK_POD_NAMESPACE, and `warehouse` in its ALOFT_POD_SECRET_ALLOWLIST (default:
 * every name).
 */
import { dag } from '@aloft/core/dag';

const p = dag({
  id: 'pod_pipeline',
  description: 'Secrets, resources and outputs between pods',
  schedule: null,
  tags: ['example', 'kubernetes'],
  defaultArgs: { retries: 1, retryDelay: '10s' },
});

const extract = p.kubernetesPod({
  id: 'extract',
  image: 'python:3.12-slim',
  cmds: ['python', '-c'],
  arguments: [
    [
      'import json, os',
      'assert os.environ["WAREHOUSE_PASSWORD"], "no password"',
      'rows = [{"day": "{{ ds }}", "region": r, "orders": n} for r, n in [("north", 12), ("south", 30)]]',
      'print(f"extracted {len(rows)} rows")',
      'open(os.environ.get("TERMINATION_MESSAGE_PATH", "/dev/termination-log"), "w").write(json.dumps({"rows": len(rows), "orders": sum(r["orders"] for r in rows)}))',
    ].join('\n'),
  ],
  secrets: [{ type: 'env', secret: 'warehouse', key: 'password', envName: 'WAREHOUSE_PASSWORD' }],
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
  oomRetry: { factor: 2, max: '1Gi' },
});

const transform = p.kubernetesPod({
  id: 'transform',
  image: 'busybox:1.36',
  cmds: ['sh', '-c'],
  arguments: [
    'echo "{{ outputs.extract.orders }} orders in {{ outputs.extract.rows }} rows"; echo \'{"average": {{ outputs.extract.orders / outputs.extract.rows }}}\' > "${TERMINATION_MESSAGE_PATH:-/dev/termination-log}"',
  ],
  resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '64Mi' } },
});

const report = p.fn({
  id: 'report',
  run: (ctx) => {
    const { average } = ctx.output(transform) as { average: number };
    ctx.log.info('average orders per row: %d', average);
    return { average };
  },
});

extract.then(transform).then(report);
