import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, createRedis, loadRedisConnection, NotReplicatedError, type AloftClient } from '@aloft/core';
import { startRedis, type RedisHandle } from '@aloft/core/testing';
import { SentinelSet } from './support/sentinel.js';
import { ROOT, System, waitFor } from './support/system.js';

/**
 * Redis failover for real: a primary with AOF, a replica and three Sentinels (Debian's
 * redis-server in sentinel mode), the scheduler and two workers as processes connected
 * through the Sentinels, and kill -9 of the primary mid-run. docs/deploy.md ("Failover")
 * states what these tests hold Aloft to.
 */
const TMP = join(ROOT, '.test-results', `failover-${process.pid}`);

interface Mark {
  what: 'start' | 'end' | 'killed';
  task: string;
  run: string;
  try: number;
  pid: number;
  at: number;
}

function readMarks(file: string): Mark[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [what, task, run, t, pid, at] = l.split(' ');
      return { what: what as Mark['what'], task: task!, run: run!, try: Number(t), pid: Number(pid), at: Number(at) };
    });
}

/** Pairs of copies of one task instance whose runs overlapped in time. */
function overlaps(marks: Mark[]): string[] {
  const copies = new Map<string, { pid: number; from: number; to: number }[]>();
  for (const m of marks.filter((x) => x.what === 'start')) {
    const end = marks.find((x) => x.what !== 'start' && x.pid === m.pid && x.task === m.task && x.run === m.run);
    const k = `${m.run}/${m.task}`;
    copies.set(k, [...(copies.get(k) ?? []), { pid: m.pid, from: m.at, to: end?.at ?? Number.POSITIVE_INFINITY }]);
  }
  const found: string[] = [];
  for (const [k, list] of copies) {
    list.sort((a, b) => a.from - b.from);
    for (let i = 1; i < list.length; i++) if (list[i]!.from < list[i - 1]!.to) found.push(`${k}: pid ${list[i - 1]!.pid} and pid ${list[i]!.pid}`);
  }
  return found;
}

describe('Redis failover through Sentinel (real primary, replica and three Sentinels)', () => {
  let set: SentinelSet | undefined;
  let sys: System | undefined;
  let client: AloftClient | undefined;
  let extraReplica: RedisHandle | undefined;

  afterEach(async () => {
    await client?.close();
    await sys?.stop();
    await extraReplica?.stop().catch(() => undefined);
    await set?.stop();
    rmSync(TMP, { recursive: true, force: true });
    client = sys = set = extraReplica = undefined;
  });

  /**
   * Services through the Sentinels; `durable` turns ALOFT_REDIS_WAIT_REPLICAS on (1 replica,
   * 500 ms). `lockMs`: the job locks, short by default so that a rolled-back claim's holder is
   * soon found out.
   */
  async function start(durable: boolean, lockMs = 2000): Promise<{ marks: string }> {
    set = await new SentinelSet().start();
    const dags = join(TMP, 'dags');
    mkdirSync(dags, { recursive: true });
    const fixtures = join(ROOT, 'tests', 'fixtures', 'failover-dags');
    for (const f of readdirSync(fixtures)) copyFileSync(join(fixtures, f), join(dags, f));
    const wait: Record<string, string> = durable ? { ALOFT_REDIS_WAIT_REPLICAS: '1', ALOFT_REDIS_WAIT_TIMEOUT_MS: '500' } : {};
    sys = new System({ dagsFolder: dags, env: { ...set.env, ...wait, ALOFT_KILL_GRACE_MS: '500', ALOFT_LOCK_MS: String(lockMs) } });
    // The services find the primary through the Sentinels; the URL's host is not used.
    sys.redis = {
      url: 'redis://sentinel-named-primary:6379',
      port: 0,
      dir: '',
      process: undefined,
      stop: async () => undefined,
      restart: () => Promise.reject(new Error('not here')),
    };
    client = createClient({
      redis: createRedis(loadRedisConnection({ ...set.env, REDIS_URL: sys.redis.url }), { retryStrategy: (n) => Math.min(n * 100, 1000) }),
      prefix: sys.prefix,
      durability: durable ? { replicas: 1, timeoutMs: 500 } : undefined,
    });
    client.store.redis.on('error', () => undefined);
    sys.client = client;
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker-1');
    await sys.spawn('worker', 'worker-2');
    await waitFor('the failover DAGs stored', async () => (await client!.listDags()).length >= 2, 60_000);
    return { marks: join(TMP, 'marks.log') };
  }

  it('a caught-up failover mid-run loses nothing and runs no task twice', async () => {
    // Locks that outlast the failover, as the default 30 s does: with 2 s, a loaded machine's
    // failover (Redis away for 2.5 s in one CI run) let a lock lapse, and that try ran again.
    const { marks } = await start(false, 20_000);
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await client!.trigger('failover_chain', { conf: { marks } }));
    await waitFor('three tasks started', async () => readMarks(marks).filter((m) => m.what === 'start').length >= 3, 60_000);
    // Caught up: writes wait on the primary until the replica has everything, then it dies.
    const direct = createRedis(set!.primary.url, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
    direct.on('error', () => undefined);
    await direct.call('CLIENT', 'PAUSE', '20000', 'WRITE');
    const offset = (info: string, field: string) => Number(new RegExp(`\\b${field}:(\\d+)`).exec(info)?.[1] ?? -1);
    const primaryOffset = offset(await direct.info('replication'), 'master_repl_offset');
    await waitFor('the replica caught up', async () => offset(await set!.info(set!.replica.port, 'replication'), 'slave_repl_offset') >= primaryOffset, 10_000);
    set!.primary.process!.kill('SIGKILL');
    direct.disconnect();
    await set!.failedOver();

    for (const r of runs) expect((await client!.waitForRun('failover_chain', r.runId, { timeoutMs: 90_000, pollMs: 200 })).state).toBe('success');
    const starts = readMarks(marks).filter((m) => m.what === 'start');
    // 3 runs × 4 tasks, each started exactly once, on its first try.
    expect(starts).toHaveLength(12);
    expect(new Set(starts.map((m) => `${m.run}/${m.task}`)).size).toBe(12);
    expect(starts.every((m) => m.try === 1)).toBe(true);
    expect(overlaps(readMarks(marks))).toEqual([]);
  });

  it('with ALOFT_REDIS_WAIT_REPLICAS=1 a trigger the replica has not confirmed is refused, and a confirmed one survives kill -9 of the primary', async () => {
    const { marks } = await start(true);
    // The replica stops receiving: a trigger is recorded by the primary but not confirmed.
    await set!.cutOffReplica();
    const refused = await client!.trigger('failover_chain', { conf: { marks } }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(NotReplicatedError);
    expect(String((refused as Error).message)).toMatch(
      /confirmed by 0 of 1 replica\(s\) within 500 ms \(ALOFT_REDIS_WAIT_REPLICAS, ALOFT_REDIS_WAIT_TIMEOUT_MS\)/,
    );
    // The primary dies with the replica behind; the replica, back, is promoted.
    set!.primary.process!.kill('SIGKILL');
    set!.replica.process!.kill('SIGCONT');
    await set!.failedOver();
    // A new replica of the new primary, so that triggers can be confirmed again.
    extraReplica = await startRedis({ appendonly: true, args: ['--replicaof', '127.0.0.1', String(set!.replica.port)] });
    await waitFor('the new replica in sync', async () => (await set!.info(extraReplica!.port, 'replication')).includes('master_link_status:up'), 60_000);
    await set!.knowReplica(extraReplica.port);
    const confirmed = await waitFor('a confirmed trigger', () => client!.trigger('failover_chain', { conf: { marks } }).catch(() => undefined), 20_000);
    // Acknowledged, then the primary dies at once: the run is on the promoted replica.
    set!.replica.process!.kill('SIGKILL');
    await waitFor(
      'the new replica promoted',
      async () => (await set!.primaryPort()) === extraReplica!.port && (await set!.info(extraReplica!.port, 'replication')).includes('role:master'),
      30_000,
    );
    const done = await client!.waitForRun('failover_chain', confirmed.runId, { timeoutMs: 90_000, pollMs: 200 });
    expect(done.state).toBe('success');
    expect(overlaps(readMarks(marks))).toEqual([]);
  });

  it('a claim rolled back by a lagging failover is noticed by the worker that held it: the try never runs twice at once', async () => {
    const { marks } = await start(false);
    const run = await client!.trigger('failover_rollback', { conf: { marks } });
    await waitFor('gate started', async () => readMarks(marks).some((m) => m.task === 'gate' && m.what === 'start'), 60_000);
    // From here the replica receives nothing: slow's claim exists on the primary only.
    await set!.cutOffReplica();
    await waitFor('slow started', async () => readMarks(marks).some((m) => m.task === 'slow' && m.what === 'start'), 30_000);
    set!.primary.process!.kill('SIGKILL');
    set!.replica.process!.kill('SIGCONT');
    await set!.failedOver();
    const done = await client!.waitForRun('failover_rollback', run.runId, { timeoutMs: 90_000, pollMs: 200 });
    expect(done.state).toBe('success');
    const all = readMarks(marks);
    // The rolled-back copy of slow was stopped (killed), and another copy ran it to the end.
    expect(all.filter((m) => m.task === 'slow' && m.what === 'killed')).toHaveLength(1);
    expect(all.filter((m) => m.task === 'slow' && m.what === 'end')).toHaveLength(1);
    expect(overlaps(all)).toEqual([]);
  });
});

describe('a worker whose claim another worker holds now', () => {
  it('stops its copy of the try at its next heartbeat (the state after a rolled-back claim was made again elsewhere)', async () => {
    const dags = join(TMP, 'holder-dags');
    mkdirSync(dags, { recursive: true });
    copyFileSync(join(ROOT, 'tests', 'fixtures', 'failover-dags', 'failover.ts'), join(dags, 'failover.ts'));
    const marks = join(TMP, 'holder-marks.log');
    const sys = new System({ dagsFolder: dags, env: { ALOFT_KILL_GRACE_MS: '500' } });
    try {
      await sys.start();
      await sys.spawn('scheduler', 'scheduler');
      await sys.spawn('worker', 'worker-1');
      await waitFor('the failover DAGs stored', async () => (await sys.client.listDags()).length >= 2, 60_000);
      const run = await sys.client.trigger('failover_rollback', { conf: { marks } });
      await waitFor('slow started', async () => readMarks(marks).some((m) => m.task === 'slow' && m.what === 'start'), 60_000);
      // Same state, same try, another holder: what a failover leaves when the claim was lost
      // and another worker claimed the try again.
      const ti = sys.client.store.keys.ti('failover_rollback', run.runId, 'slow', -1);
      await sys.client.store.redis.hset(ti, 'worker', 'worker-elsewhere');
      await waitFor('the copy stopped', async () => readMarks(marks).some((m) => m.task === 'slow' && m.what === 'killed'), 15_000);
      expect(readMarks(marks).some((m) => m.task === 'slow' && m.what === 'end')).toBe(false);
      // The line is written once the copy's processes are gone, which can be after its mark.
      await waitFor(
        'the log to say why',
        async () =>
          (await sys.client.getLog('failover_rollback', run.runId, 'slow')).some(
            (l) => l.line === 'worker worker-elsewhere took this try over; stopping it here',
          ),
        30_000,
      );
    } finally {
      await sys.stop();
      rmSync(TMP, { recursive: true, force: true });
    }
  });
});
