/**
 * `aloft` — the command line for Aloft. Talks to Redis directly (REDIS_URL,
 * ALOFT_KEY_PREFIX), or with `--server` (ALOFT_SERVER) to the dashboard's REST API with an
 * API token (`--token`, ALOFT_TOKEN). People get tables; `--json` gives scripts JSON.
 */
import { Command, Option } from 'commander';
import { AloftError, createClient, createRedis, MAPPED_SUMMARY_ORDER, redactUrl, type AloftClient, type RedisConnection } from '@aloft/core';
import { AloftConnectionError, AloftHttpClient, type DagRun, type MarkState, type Schedule, type TaskInstance, type TaskState } from '@aloft/sdk';
import { HttpBackend, instanceName, logText, RedisBackend, type Backend } from './backends.js';
import { loadCliConfig } from './config.js';
import { addSecretsCommands, cliCipher, httpOps, storeOps } from './secrets-commands.js';
import { addTestCommands } from './test-commands.js';

const program = new Command('aloft')
  .description('Aloft: DAGs as code on Redis/BullMQ')
  .addOption(new Option('--json', 'print JSON for scripts'))
  .addOption(new Option('--redis-url <url>', 'Redis URL').env('REDIS_URL'))
  .addOption(new Option('--prefix <prefix>', 'key prefix').env('ALOFT_KEY_PREFIX').default('aloft'))
  .addOption(new Option('--server <url>', "use the dashboard's REST API at this URL instead of Redis").env('ALOFT_SERVER'))
  .addOption(new Option('--token <token>', 'API token for --server (the env variable keeps it out of `ps`)').env('ALOFT_TOKEN'));

/** A mistake in how the command line was called: one line, exit code 2. */
class UsageError extends Error {}

let client: AloftClient | undefined;
function aloft(): AloftClient {
  const o = program.opts<{ redisUrl?: string; prefix: string }>();
  if (!client) {
    const url = o.redisUrl ?? 'redis://127.0.0.1:6379';
    // A command line should fail at once with one clear line, not retry forever.
    const config = loadCliConfig(process.env);
    const redis = createRedis(config.connection(url), {
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      sentinelRetryStrategy: () => null,
      connectTimeout: 5000,
    });
    redis.on('error', () => undefined);
    redis.once('end', () => {
      if (!done) {
        process.stderr.write(`aloft: ${unreachable(config.connection(url))}\n`);
        process.exit(2);
      }
    });
    own = config.connection(url);
    client = createClient({ redis, prefix: o.prefix, durability: config.durability });
    ownRedis = redis;
  }
  return client;
}
let ownRedis: ReturnType<typeof createRedis> | undefined;
let own: RedisConnection = { url: '' };

/** Why the CLI could not connect, naming the settings it used: the Sentinels when they are set. */
function unreachable(c: RedisConnection): string {
  if (c.sentinels) {
    return `cannot reach the Redis primary "${c.sentinelName || 'mymaster'}" through the Sentinels at ${c.sentinels} (ALOFT_REDIS_SENTINELS, ALOFT_REDIS_SENTINEL_NAME); check that they run and agree on a primary`;
  }
  return `cannot reach Redis at ${redactUrl(c.url)}; start Aloft with \`node scripts/up.mjs\` or set REDIS_URL`;
}
let done = false;

let chosen: Backend | undefined;
/** Redis or the REST API, picked once from the global options. */
function backend(): Backend {
  if (chosen) return chosen;
  const o = program.opts<{ server?: string; token?: string }>();
  if (!o.server) return (chosen = new RedisBackend(aloft()));
  if (!o.token) throw new UsageError('--server needs an API token: pass --token or set ALOFT_TOKEN (an admin creates one in the dashboard)');
  try {
    return (chosen = new HttpBackend(new AloftHttpClient({ baseUrl: o.server, token: o.token })));
  } catch (err) {
    throw new UsageError(`--server: ${(err as Error).message}`);
  }
}

const asJson = (): boolean => Boolean(program.opts<{ json?: boolean }>().json);

function print(value: unknown, table: () => string): void {
  process.stdout.write(asJson() ? `${JSON.stringify(value, null, 2)}\n` : `${table()}\n`);
}

function table(rows: (string | number | undefined)[][], head: string[]): string {
  const cells = [head, ...rows.map((r) => r.map((c) => (c === undefined ? '' : String(c))))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => (c ?? '').padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const when = (ms: number | undefined): string | undefined => (ms ? new Date(ms).toISOString().replace('.000Z', 'Z') : undefined);

function parseConf(raw: string | undefined): Record<string, unknown> {
  if (!raw) return {};
  try {
    const v: unknown = JSON.parse(raw);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new Error(`--conf must be a JSON object (${(err as Error).message})`);
  }
}

/** Run ids in a line: all of a few; of many, the first and last and how to see the rest. */
function idsText(what: string, ids: string[]): string {
  if (ids.length === 0) return '';
  if (ids.length <= SHOWN_IDS) return `${what}: ${ids.join(', ')}`;
  return `${what}: ${ids[0]} … ${ids[ids.length - 1]} (${ids.length}; --json lists every one)`;
}
const SHOWN_IDS = 5;

/**
 * Progress of a long command on stderr, at most a line a second and always the last one:
 * rewritten in place on a terminal, a line each otherwise (a log, CI). Not with --json.
 */
function progress(unit: string): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    if (asJson()) return;
    const now = Date.now();
    if (done < total && now - last < 1000) return;
    last = now;
    const text = `${done}/${total} ${unit}`;
    if (process.stderr.isTTY) process.stderr.write(`\r${text}${done === total ? '\n' : ''}`);
    else process.stderr.write(`${text}\n`);
  };
}

function scheduleText(s: Schedule): string {
  if (!s) return 'manual';
  if (s.kind === 'datasets') return `on datasets ${s.uris.join(', ')}`;
  return s.kind === 'cron' ? s.expression : `every ${s.everyMs / 1000}s`;
}

const runRows = (runs: DagRun[]) => runs.map((r) => [r.runId, r.state, r.runType, when(r.logicalDate), when(r.startDate), when(r.endDate)]);
const RUN_HEAD = ['RUN', 'STATE', 'TYPE', 'LOGICAL DATE', 'STARTED', 'ENDED'];
/** A mapped task's instance counts in words: "2 success, 1 failed". */
const countsText = (states: Partial<Record<TaskState, number>>) =>
  MAPPED_SUMMARY_ORDER.filter((s) => states[s])
    .map((s) => `${states[s]} ${s}`)
    .join(', ');
/** A row's name: `task`, `task [n]` for a mapped task as a whole, `task[i]` for one of its instances. */
const tiName = (t: TaskInstance) => (t.mapped ? `${t.taskId} [${t.mapped.n}]` : instanceName(t.taskId, t.mapIndex));
const tiRows = (tis: TaskInstance[]) =>
  tis.map((t) => [
    tiName(t),
    t.state,
    t.mapped ? undefined : t.try,
    t.duration === undefined ? undefined : `${t.duration} ms`,
    t.worker,
    t.exitCode,
    t.mapped ? [countsText(t.mapped.states), t.reason].filter(Boolean).join('; ') : t.reason,
  ]);
const TI_HEAD = ['TASK', 'STATE', 'TRY', 'DURATION', 'WORKER', 'EXIT', 'REASON'];

/**
 * The rows `tasks` prints: every task once (a mapped one as a whole), and with `instances`
 * each mapped task's instances right after it, in map-index order.
 */
function taskRows(tis: TaskInstance[], instances: boolean): TaskInstance[] {
  const whole = tis.filter((t) => t.mapIndex < 0);
  if (!instances) return whole;
  const byTask = new Map<string, TaskInstance[]>();
  for (const t of tis) if (t.mapIndex >= 0) (byTask.get(t.taskId) ?? byTask.set(t.taskId, []).get(t.taskId)!).push(t);
  return whole.flatMap((t) => [t, ...(byTask.get(t.taskId) ?? []).sort((a, b) => a.mapIndex - b.mapIndex)]);
}

/** `--map-index`: an integer ≥ −1 (−1: an unmapped task, or a mapped task as a whole). */
function mapIndexArg(v: string | undefined): number {
  if (v === undefined) return -1;
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || n < -1) throw new UsageError(`--map-index must be an integer ≥ -1 (got ${JSON.stringify(v)})`);
  return n;
}

/** A mapped task as a whole has no log of its own: say which instances there are. */
async function loggedInstance(dag: string, run: string, task: string, mapIndex: number): Promise<void> {
  const ti = await backend().getTaskInstance(dag, run, task, mapIndex);
  if (ti.mapped) {
    const range = ti.mapped.n === 1 ? '0' : `0 to ${ti.mapped.n - 1}`;
    throw new UsageError(`task "${task}" is mapped into ${ti.mapped.n} instance(s), each with its own log: pass --map-index ${range}`);
  }
}

const dags = program.command('dags').description('DAGs');
dags
  .command('list')
  .description('list DAGs')
  .action(async () => {
    const list = await backend().listDags();
    print(list, () =>
      table(
        list.map((d) => [d.id, d.paused ? 'paused' : 'active', scheduleText(d.schedule), d.tags.join(','), d.fileloc]),
        ['DAG', 'STATE', 'SCHEDULE', 'TAGS', 'FILE'],
      ),
    );
  });
dags
  .command('errors')
  .description('DAG files that failed to import')
  .action(async () => {
    const errs = await backend().importErrors();
    print(errs, () => (errs.length ? errs.map((e) => `${e.file}${e.line ? `:${e.line}` : ''}: ${e.message}`).join('\n') : 'no import errors'));
    // A script (or CI) that checks the DAG folder fails when a file does not import.
    if (errs.length) process.exitCode = 1;
  });

dags
  .command('delete <dag>')
  .description('delete a DAG whose file is gone, with all its runs, task instances and logs')
  .option('-y, --yes', 'do not ask: this cannot be undone')
  .action(async (dag: string, o: { yes?: boolean }) => {
    if (!o.yes) throw new UsageError(`deleting DAG "${dag}" removes its whole history and cannot be undone: pass --yes`);
    const r = await backend().deleteDag(dag);
    print(r, () => `deleted DAG ${dag} and its ${r.runs} run(s)`);
  });

program
  .command('datasets')
  .description('datasets that tasks update (outlets) and DAGs are scheduled on')
  .command('list')
  .description('list datasets: last update, the DAGs updating them, the DAGs scheduled on them')
  .action(async () => {
    const list = await backend().listDatasets();
    print(list, () =>
      table(
        list.map((d) => [
          d.uri,
          d.lastUpdate ? `${when(d.lastUpdate.at)} by ${d.lastUpdate.dagId}/${d.lastUpdate.runId}/${d.lastUpdate.taskId}` : 'never',
          d.updates,
          d.producers.join(','),
          d.consumers.join(','),
        ]),
        ['DATASET', 'LAST UPDATE', 'UPDATES', 'PRODUCERS', 'CONSUMERS'],
      ),
    );
  });

for (const [name, paused] of [
  ['pause', true],
  ['unpause', false],
] as const) {
  program
    .command(`${name} <dag>`)
    .description(`${name} a DAG's schedule`)
    .action(async (dag: string) => {
      await backend().setPaused(dag, paused);
      print({ dag, paused }, () => `${dag} ${paused ? 'paused' : 'unpaused'}`);
    });
}

program
  .command('trigger <dag>')
  .description('start a manual run')
  .option('--conf <json>', 'run configuration (JSON object)')
  .option('--run-id <id>', 'run id (default: manual__<time>__<random>)')
  .option('--wait', 'wait for the run to finish; exit code 1 if it failed')
  .option('--timeout <seconds>', 'with --wait: give up after this long', '3600')
  .action(async (dag: string, o: { conf?: string; runId?: string; wait?: boolean; timeout: string }) => {
    const run = await backend().trigger(dag, { conf: parseConf(o.conf), runId: o.runId });
    if (!o.wait) {
      print(run, () => `triggered ${dag} run ${run.runId}`);
      return;
    }
    if (!asJson()) process.stderr.write(`triggered ${dag} run ${run.runId}; waiting…\n`);
    const done = await backend().waitForRun(dag, run.runId, { timeoutMs: Number(o.timeout) * 1000 });
    const tis = taskRows(await backend().listTaskInstances(dag, run.runId), false);
    print({ run: done, tasks: tis }, () => `run ${done.runId}: ${done.state}\n\n${table(tiRows(tis), TI_HEAD)}`);
    if (done.state !== 'success') process.exitCode = 1;
  });

program
  .command('submit')
  .description('run one command as an ad-hoc job (no DAG file): aloft submit -- echo hi')
  .argument('<command...>', 'the command and its arguments')
  .option('--shell', 'run the words as one shell string')
  .option('--retries <n>', 'retries', '0')
  .option('--timeout <seconds>', 'execution timeout')
  .option('--queue <queue>', 'queue', 'default')
  .option('--follow', 'stream the log until the job ends')
  .action(async (words: string[], o: { shell?: boolean; retries: string; timeout?: string; queue: string; follow?: boolean }) => {
    const run = await backend().submitCommand({
      command: o.shell ? words.join(' ') : words,
      retries: Number(o.retries),
      executionTimeoutMs: o.timeout ? Number(o.timeout) * 1000 : undefined,
      queue: o.queue,
    });
    if (!o.follow) {
      print(run, () => `submitted ${run.dagId} run ${run.runId}`);
      return;
    }
    const done = await backend().follow(run.dagId, run.runId, 'command', { allTries: true });
    if (done.state !== 'success') process.exitCode = 1;
  });

const runs = program.command('runs').description('DAG runs');
runs
  .command('list <dag>')
  .option('--limit <n>', 'how many', '25')
  .option('--offset <n>', 'skip this many (newest first)', '0')
  .action(async (dag: string, o: { limit: string; offset: string }) => {
    const list = await backend().listRuns(dag, { limit: Number(o.limit), offset: Number(o.offset) });
    print(list, () => table(runRows(list), RUN_HEAD));
  });
runs
  .command('cancel <dag> <run>')
  .description('mark a run failed and stop its running tasks')
  .action(async (dag: string, run: string) => {
    await backend().cancelRun(dag, run);
    print({ dag, run, cancelled: true }, () => `cancelled ${dag} run ${run}`);
  });

const pools = program.command('pools').description('pools: slots shared by all DAGs');
pools
  .command('list')
  .description('pools with their slots used, queued and open')
  .action(async () => {
    const list = await backend().listPools();
    print(list, () =>
      table(
        list.map((p) => [p.name, p.slots ?? 'unlimited', p.used, p.queued, p.open ?? '', p.description]),
        ['POOL', 'SLOTS', 'USED', 'QUEUED', 'OPEN', 'DESCRIPTION'],
      ),
    );
  });
pools
  .command('set <name> <slots>')
  .description('create or resize a pool (0 slots holds its tasks back)')
  .option('--description <text>', 'what the pool guards')
  .action(async (name: string, slots: string, o: { description?: string }) => {
    const n = Number(slots);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`slots must be a whole number ≥ 0 (got ${JSON.stringify(slots)})`);
    const pool = await backend().setPool(name, n, o.description);
    print(pool, () => `pool ${pool.name}: ${pool.slots} slots (${pool.used} used, ${pool.queued} queued)`);
  });
pools
  .command('delete <name>')
  .description('delete a pool; its queued tasks fail when claimed (default_pool goes back to unlimited)')
  .action(async (name: string) => {
    await backend().deletePool(name);
    print({ name, deleted: true }, () => `deleted pool ${name}`);
  });

const listTasks = async (dag: string, run: string, o: { instances?: boolean }) => {
  const tis = taskRows(await backend().listTaskInstances(dag, run), Boolean(o.instances));
  print(tis, () => table(tiRows(tis), TI_HEAD));
};
const tasks = program
  .command('tasks <dag> <run>')
  .description('task instances of a run; a mapped task once, as `task [n]` with its instances counted by state')
  .option('--instances', "also list every mapped task's instances (`task[i]`)")
  .action(listTasks);
// The same, for a DAG whose id is also a word of `tasks` (test, render, list).
tasks
  .command('list <dag> <run>')
  .description('the same as `tasks <dag> <run>`, for a DAG named test, render or list')
  .option('--instances', "also list every mapped task's instances (`task[i]`)")
  .action(listTasks);

program
  .command('logs <dag> <run> <task>')
  .description("a task's log (latest try unless --try); a mapped task's with --map-index")
  .option('--try <n>', 'try number')
  .option('--map-index <i>', 'which instance of a mapped task')
  .option('-f, --follow', 'keep printing new lines until the task instance finishes')
  .action(async (dag: string, run: string, task: string, o: { try?: string; mapIndex?: string; follow?: boolean }) => {
    const mapIndex = mapIndexArg(o.mapIndex);
    await loggedInstance(dag, run, task, mapIndex);
    if (o.follow) {
      await backend().follow(dag, run, task, { mapIndex });
      return;
    }
    const { lines } = await backend().getLog(dag, run, task, { try: o.try ? Number(o.try) : undefined, mapIndex });
    print(lines, () => logText(lines));
  });

const MARK_STATES: readonly MarkState[] = ['success', 'failed', 'skipped'];
program
  .command('mark <dag> <run> <task> <state>')
  .description('set a task instance to success, failed or skipped by hand; a mapped task: every instance, or one with --map-index')
  .option('--map-index <i>', 'only this instance of a mapped task')
  .action(async (dag: string, run: string, task: string, state: string, o: { mapIndex?: string }) => {
    if (!(MARK_STATES as readonly string[]).includes(state))
      throw new UsageError(`<state> must be one of ${MARK_STATES.join(', ')} (got ${JSON.stringify(state)})`);
    const mapIndex = mapIndexArg(o.mapIndex);
    const ti = await backend().markTask(dag, run, task, state as MarkState, mapIndex);
    print(ti, () => `marked ${instanceName(task, mapIndex)} ${state}${ti.mapped ? ` (${countsText(ti.mapped.states)})` : ''}`);
  });

/** A date on the command line: ISO (`2026-01-01`, `2026-01-01T06:00:00Z`); a bad one is a usage error. */
function dateArg(name: string, v: string | undefined): Date {
  const d = v === undefined ? new Date(NaN) : new Date(v);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${name} must be a date such as 2026-01-01 or 2026-01-01T06:00:00Z (got ${JSON.stringify(v)})`);
  return d;
}

program
  .command('clear <dag> [run] [task]')
  .description('run a task instance again; or, with --from/--to, the matching task instances of every run in the range')
  .option('--downstream', 'clear every task downstream too')
  .option('--from <date>', 'first logical date of the range (inclusive)')
  .option('--to <date>', 'last logical date of the range (inclusive)')
  .option('--task <regex>', 'range: only tasks whose id matches')
  .option('--failed-only', 'range: only failed (or upstream-failed) task instances')
  .action(
    async (
      dag: string,
      run: string | undefined,
      task: string | undefined,
      o: { downstream?: boolean; from?: string; to?: string; task?: string; failedOnly?: boolean },
    ) => {
      if (o.from !== undefined || o.to !== undefined) {
        if (run !== undefined) throw new UsageError('give either <run> <task> or --from/--to, not both');
        const r = await backend().clearRange(dag, {
          from: dateArg('--from', o.from),
          to: dateArg('--to', o.to),
          taskRegex: o.task,
          downstream: Boolean(o.downstream),
          failedOnly: Boolean(o.failedOnly),
          onProgress: progress('runs'),
        });
        print(r, () => `cleared ${r.cleared} task instance(s) in ${r.runs} run(s)`);
        return;
      }
      if (run === undefined || task === undefined) throw new UsageError('clear needs <run> <task>, or --from and --to');
      const n = await backend().clearTask(dag, run, task, { downstream: Boolean(o.downstream) });
      print({ cleared: n }, () => `cleared ${n} task instance(s)`);
    },
  );

program
  .command('backfill <dag>')
  .description("create the run of every scheduled logical date from --from to --to (like Airflow's backfill)")
  .requiredOption('--from <date>', 'first logical date (inclusive)')
  .requiredOption('--to <date>', 'last logical date (inclusive)')
  .option('--rerun', 'clear and run again the runs that already exist in the range')
  .option('--conf <json>', 'conf for the new runs (JSON object)')
  .action(async (dag: string, o: { from: string; to: string; rerun?: boolean; conf?: string }) => {
    const r = await backend().backfill(dag, {
      from: dateArg('--from', o.from),
      to: dateArg('--to', o.to),
      rerun: Boolean(o.rerun),
      conf: parseConf(o.conf),
      onProgress: progress('logical dates'),
    });
    print(r, () =>
      [
        `created ${r.created.length} run(s), skipped ${r.skipped.length} existing, re-ran ${r.rerun.length}`,
        ...(['created', 'skipped', 'rerun'] as const).map((k) => idsText(k === 'rerun' ? 're-ran' : k, r[k])).filter(Boolean),
      ].join('\n'),
    );
  });

addTestCommands(dags, tasks, { print, table, usage: (m) => new UsageError(m), json: asJson });

addSecretsCommands(program, {
  store: () => {
    const b = backend();
    return b instanceof HttpBackend ? httpOps(b.client, (m) => new UsageError(m)) : storeOps(aloft().secrets(cliCipher(process.env)));
  },
  print,
  table,
  usage: (m) => new UsageError(m),
});

try {
  await program.parseAsync(process.argv);
} catch (caught) {
  // A command that failed because Redis could not be reached says so, naming the settings.
  const lost = ownRedis !== undefined && ownRedis.status !== 'ready' && !(caught instanceof UsageError) && !(caught instanceof AloftError);
  process.stderr.write(`aloft: ${lost ? unreachable(own) : caught instanceof Error ? caught.message : String(caught)}
`);
  const err = lost ? new AloftConnectionError(unreachable(own)) : caught;
  // As when Redis cannot be reached: 2 for "could not even ask", 1 for a failed command.
  process.exitCode = err instanceof UsageError || err instanceof AloftConnectionError ? 2 : 1;
} finally {
  done = true;
  await ownRedis?.quit().catch(() => undefined);
}
