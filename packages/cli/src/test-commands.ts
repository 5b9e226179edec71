/**
 * `aloft dags test`, `aloft tasks test` and `aloft tasks render`: a DAG run, one task, or
 * one task's rendered command or pod, in this process with a throw-away redis-server and
 * the real scheduler and worker (@aloft/testing), without a running Aloft. The DAG is found
 * in the DAG folder the scheduler reads (ALOFT_DAGS_FOLDER, or --folder). Exit code 0 when
 * the run succeeded, 1 when it failed, 2 for a mistake in the command line.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { dagsFolder, DAGS_FOLDER_SETTING, parseEnv } from '@aloft/core';
import type * as Testing from '@aloft/testing';
import type { Testbed, TestDagResult, TestTaskResult } from '@aloft/testing';

export interface TestCommandDeps {
  print(value: unknown, table: () => string): void;
  table(rows: (string | number | undefined)[][], head: string[]): string;
  usage(message: string): Error;
  json(): boolean;
}

interface RunOptions {
  date?: string;
  conf?: string;
  folder?: string;
  upstream?: string;
  podSecrets?: string;
  timeout: string;
}

const name = (t: { taskId: string; mapIndex: number }) => (t.mapIndex < 0 ? t.taskId : `${t.taskId}[${t.mapIndex}]`);

/** A JSON object option; anything else is a usage error naming the option. */
function jsonObject(option: string, raw: string | undefined, usage: (m: string) => Error): Record<string, unknown> {
  if (raw === undefined) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw usage(`${option} must be a JSON object (${(err as Error).message})`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw usage(`${option} must be a JSON object (got ${JSON.stringify(v)})`);
  return v as Record<string, unknown>;
}

/** `--pod-secrets <file>`: a JSON object of Secrets by name, each an object of string values. */
function podSecrets(file: string | undefined, usage: (m: string) => Error): Record<string, Record<string, string>> | undefined {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw usage(`--pod-secrets: cannot read ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw usage(`--pod-secrets ${file}: not JSON (${(err as Error).message})`);
  }
  const parsed = z.record(z.string(), z.record(z.string(), z.string())).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw usage(`--pod-secrets ${file}: ${issue.path.join('.') || 'the file'}: ${issue.message} (expected {"secret": {"key": "value"}})`);
  }
  return parsed.data;
}

function dateOption(v: string | undefined, usage: (m: string) => Error): Date | undefined {
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw usage(`--date must be a date such as 2026-01-01 or 2026-01-01T06:00:00Z (got ${JSON.stringify(v)})`);
  return d;
}

/** The run's options, checked before anything starts. */
function runOptions(o: RunOptions, d: TestCommandDeps): { date: Date | undefined; conf: Record<string, unknown>; timeoutMs: number } {
  return { date: dateOption(o.date, d.usage), conf: jsonObject('--conf', o.conf, d.usage), timeoutMs: timeoutOption(o.timeout, d.usage) };
}

function timeoutOption(v: string, usage: (m: string) => Error): number {
  const n = Number(v);
  if (!(n > 0)) throw usage(`--timeout must be a number of seconds > 0 (got ${JSON.stringify(v)})`);
  return n * 1000;
}

/**
 * Starts a testbed on the DAG folder and finds the DAG in it; the testbed's own errors about
 * what was asked for (an unknown DAG or task) are usage errors. Stops the testbed whatever happens.
 */
async function withDag<T>(
  dagId: string,
  o: RunOptions,
  d: TestCommandDeps,
  fn: (bed: Testbed, dag: Awaited<ReturnType<Testbed['loadFromFolder']>>, t: typeof Testing) => Promise<T>,
): Promise<T> {
  const folder = o.folder ?? dagsFolder(parseEnv(z.object(DAGS_FOLDER_SETTING), process.env));
  const secrets = podSecrets(o.podSecrets, d.usage);
  // Loaded here, not at the top: the engine is only for these commands.
  const testing = await import('@aloft/testing');
  const bed = await testing.Testbed.start(folder, { podSecrets: secrets });
  try {
    const dag = await bed.loadFromFolder(dagId);
    return await fn(bed, dag, testing);
  } catch (err) {
    if (err instanceof testing.UnknownDagError || err instanceof testing.UnknownTaskError || err instanceof testing.InvalidConfError)
      throw d.usage(err.message);
    throw err;
  } finally {
    await bed.stop();
  }
}

function printTask(t: TestTaskResult): void {
  const head = `── ${name(t)}: ${t.state}${t.try > 1 ? ` (try ${t.try})` : ''}${t.reason ? ` — ${t.reason}` : ''}`;
  process.stdout.write(`${head}\n${t.log.map((l) => `   ${l}\n`).join('')}`);
}

function summary(r: TestDagResult, d: TestCommandDeps): string {
  const rows = r.tasks.map((t) => [name(t), t.state, t.try, t.reason, t.output === undefined ? undefined : JSON.stringify(t.output).slice(0, 60)]);
  const pods = r.pods === 'stand-in' ? '\npods ran on a local stand-in (no cluster configured): each pod command ran as a local process' : '';
  return `\n${d.table(rows, ['TASK', 'STATE', 'TRY', 'REASON', 'OUTPUT'])}\n\nrun ${r.runId}: ${r.state}${pods}`;
}

function finish(r: TestDagResult, d: TestCommandDeps): void {
  d.print(r, () => summary(r, d));
  if (r.state !== 'success') process.exitCode = 1;
}

/**
 * Adds `dags test` to `dags`, and `tasks test` and `tasks render` to `tasks`, which is also
 * the command `tasks <dag> <run>`: commander runs a subcommand when the first word names one,
 * and the command's own action otherwise.
 */
export function addTestCommands(dags: Command, tasks: Command, d: TestCommandDeps): void {
  const progress = (t: TestTaskResult, p: { done: number; total: number }) => {
    if (!d.json()) printTask(t);
    process.stderr.write(`${p.done}/${p.total} tasks done\n`);
  };
  const common = (c: Command) =>
    c
      .option('--date <date>', 'logical date of the run (default: now)')
      .option('--conf <json>', 'run configuration (JSON object)')
      .option('--folder <dir>', 'DAG folder (default: ALOFT_DAGS_FOLDER, as the scheduler reads it)')
      .option('--pod-secrets <file>', 'JSON file of Secrets for the local pod stand-in: {"name": {"key": "value"}}')
      .option('--timeout <seconds>', 'give up after this long', '120');

  common(
    dags
      .command('test <dag>')
      .description('run the DAG once, in this process, with a throw-away Redis and the real scheduler and worker; prints each task as it ends'),
  ).action(async (dagId: string, o: RunOptions) => {
    const run = runOptions(o, d);
    finish(await withDag(dagId, o, d, (bed, dag, t) => t.runDag(bed, dag, { ...run, onTaskEnd: progress })), d);
  });

  common(tasks.command('test <dag> <task>').description("run one task alone: its upstream tasks' outputs from --upstream, the others skipped"))
    .option('--upstream <json>', 'outputs of upstream tasks, by task id (JSON object)')
    .action(async (dagId: string, taskId: string, o: RunOptions) => {
      const run = runOptions(o, d);
      const only = { taskId, upstream: jsonObject('--upstream', o.upstream, d.usage) };
      finish(await withDag(dagId, o, d, (bed, dag, t) => t.runDag(bed, dag, { ...run, onTaskEnd: progress }, only)), d);
    });

  tasks
    .command('render <dag> <task>')
    .description('print what the worker would start for the task: its rendered command, the names of its variables, its pod; nothing runs or is created')
    .option('--date <date>', 'logical date of the run (default: now)')
    .option('--conf <json>', 'run configuration (JSON object)')
    .option('--upstream <json>', 'outputs of upstream tasks the templates read, by task id (JSON object)')
    .option('--folder <dir>', 'DAG folder (default: ALOFT_DAGS_FOLDER, as the scheduler reads it)')
    .action(async (dagId: string, taskId: string, o: RunOptions) => {
      const date = dateOption(o.date, d.usage);
      const conf = jsonObject('--conf', o.conf, d.usage);
      const upstream = jsonObject('--upstream', o.upstream, d.usage);
      const r = await withDag(dagId, o, d, (bed, dag, t) => t.renderTaskOf(bed, dag, taskId, { date, conf, upstream }));
      d.print(r, () => renderedText(dagId, taskId, r));
    });
}

/** A rendered task for people: one field a line, the pod as JSON. */
function renderedText(dagId: string, taskId: string, r: Testing.RenderedTask): string {
  const lines = [`${dagId}.${taskId} (${r.kind})`];
  if (r.command !== undefined) lines.push(`command: ${typeof r.command === 'string' ? r.command : JSON.stringify(r.command)}`);
  if (r.cwd !== undefined) lines.push(`cwd: ${r.cwd}`);
  if (r.fn) lines.push(`function: task "${r.fn.taskId}" of DAG "${r.fn.dagId}" in ${r.fn.file}`);
  lines.push(`args: ${JSON.stringify(r.args)}`);
  if (r.env.length) lines.push(`env (names): ${r.env.join(', ')}`);
  if (r.pod) lines.push(`pod:\n${JSON.stringify(r.pod, null, 2)}`);
  return lines.join('\n');
}
