/**
 * The entrypoint of a task that runs in a pod of its own (runInPod, like Airflow's
 * KubernetesExecutor). The worker that created the pod passes the task in ALOFT_TASK_SPEC
 * (base64 JSON, already templated) and only watches: this process has no Redis and no
 * secrets beyond what the pod spec gives it. What it prints is the task's log, masked here
 * (pod-masking.ts: the worker never sees the pod's secret values), the JSON it
 * writes to the termination log is the task's output, and its exit code is the result:
 * 0 success, the task's skip code skipped, anything else failed. An output over the
 * kubelet's 4 KiB termination-message limit goes out as a `::aloft-output::` line instead.
 *
 *   run-task --termination-log /dev/termination-log
 */
import { spawn } from 'node:child_process';
import { writeFileSync, writeSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { format } from 'node:util';
import { DirectorySecretsBackend, EnvSecretsBackend, importDagFile, SecretResolver, SkipSignal } from '@aloft/core';
import { OUTPUT_MARKER } from './executors/types.js';
import { maskWrites, podSecretMasker } from './pod-masking.js';
import type { PodTaskSpec } from './pod-task-spec.js';
import { taskContext } from './task-context.js';

const args = process.argv.slice(2);
// A kubelet stand-in that runs containers as local processes (the tests' fake kubelet)
// names the container's termination-message file in TERMINATION_MESSAGE_PATH.
const termLog = process.env['TERMINATION_MESSAGE_PATH'] ?? args[args.indexOf('--termination-log') + 1] ?? '/dev/termination-log';
/** The kubelet keeps at most this many bytes of a termination message. */
const TERMINATION_MESSAGE_LIMIT = 4096;
/** Every secret the pod was given, and those its function reads later, masked in all it prints. */
const masker = podSecretMasker(process.env);
const unmasked = [maskWrites(process.stdout, masker), maskWrites(process.stderr, masker)];

function output(value: unknown): void {
  if (value === undefined) return;
  const json = JSON.stringify(masker.maskDeep(value));
  if (Buffer.byteLength(json) <= TERMINATION_MESSAGE_LIMIT) writeFileSync(termLog, json);
  else writeSync(1, `${OUTPUT_MARKER}${json}\n`);
}

async function runCommand(s: Extract<PodTaskSpec, { kind: 'command' }>): Promise<number> {
  const [cmd, argv] = typeof s.command === 'string' ? ['/bin/sh', ['-c', s.command]] : [s.command[0]!, s.command.slice(1)];
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { stdio: ['inherit', 'pipe', 'pipe'], cwd: s.cwd, env: { ...process.env, ...s.env } });
    // Through this process's own (masked) writes: the command's output is the pod's log.
    child.stdout.on('data', (c: Buffer) => process.stdout.write(c));
    child.stderr.on('data', (c: Buffer) => process.stderr.write(c));
    child.on('error', (err) => {
      process.stderr.write(`could not start ${cmd}: ${err.message}\n`);
      resolve(127);
    });
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 + 15 : 1)));
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => child.kill(sig));
  });
}

async function runFunction(s: Extract<PodTaskSpec, { kind: 'fn' | 'branch' | 'shortCircuit' }>): Promise<number> {
  const folder = process.env['ALOFT_DAGS_FOLDER'] ?? '/app/dags';
  const file = isAbsolute(s.file) ? s.file : join(folder, s.file);
  const dag = (await importDagFile(file)).find((d) => d.id === s.dagId);
  const fn = dag?.functionOf(s.taskId);
  if (!fn) {
    process.stderr.write(`task "${s.taskId}" of DAG "${s.dagId}" has no function in ${file}\n`);
    return 1;
  }
  const abort = new AbortController();
  process.on('SIGTERM', () => abort.abort(new Error('pod deleted')));
  // In a pod, connections and variables come from the pod's own environment (ALOFT_CONN_*,
  // ALOFT_VAR_*, set from Secrets by reference) and from ALOFT_SECRETS_DIR when mounted.
  const dir = process.env['ALOFT_SECRETS_DIR'];
  const secrets = new SecretResolver([new EnvSecretsBackend(process.env), ...(dir ? [new DirectorySecretsBackend(dir)] : [])], masker);
  const lookup = (kind: 'conn' | 'var', name: string, optional: boolean): Promise<unknown> =>
    kind === 'conn' ? secrets.connection(name) : optional ? secrets.findVariable(name) : secrets.variable(name);
  const ctx = taskContext(s.ctx, (level, msg, rest) => process.stdout.write(`[${level}] ${format(msg, ...rest)}\n`), abort.signal, lookup);
  try {
    output(await fn(ctx));
    return 0;
  } catch (err) {
    if (err instanceof SkipSignal) {
      process.stdout.write(`skipped: ${err.message}\n`);
      return s.skipExitCode;
    }
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

const raw = process.env['ALOFT_TASK_SPEC'];
if (!raw) {
  process.stderr.write('run-task: ALOFT_TASK_SPEC is not set; this entrypoint runs in a task pod created by an Aloft worker\n');
  process.exit(2);
}
const spec = JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as PodTaskSpec;
const code = spec.kind === 'command' ? await runCommand(spec) : await runFunction(spec);
for (const end of unmasked) end();
process.exit(code);
