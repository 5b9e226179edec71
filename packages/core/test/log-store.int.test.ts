import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, dag, Store, type LogLine, type TaskInstanceKey } from '../src/index.js';
import { startRedis, type RedisHandle } from '../src/testing/index.js';

/** Task logs past their cap: the oldest lines go, line numbers stay absolute, followers miss nothing kept. */
describe('capped task logs (real redis-server)', () => {
  let redis: RedisHandle;
  let conn: ReturnType<typeof createRedis>;
  let store: Store;
  const key: TaskInstanceKey = { dagId: 'logs', runId: 'r1', taskId: 'talk', mapIndex: -1 };
  const lines = (from: number, n: number): LogLine[] => Array.from({ length: n }, (_, i) => ({ at: 1, stream: 'stdout', line: `line ${from + i}` }));
  const texts = (l: LogLine[]) => l.map((x) => x.line);

  beforeAll(async () => {
    redis = await startRedis();
    conn = createRedis(redis.url);
    store = new Store(conn, `lg${Math.random().toString(36).slice(2, 7)}`, 10);
    const d = dag({ id: 'logs' });
    d.command({ id: 'talk', command: 'true' });
    await store.saveDag(d.serialize());
    const now = new Date();
    await store.createRun({ dagId: 'logs', runId: 'r1', runType: 'manual', logicalDate: now, dataIntervalStart: now, dataIntervalEnd: now });
  });
  afterAll(async () => {
    conn.disconnect();
    await redis.stop();
  });

  it('numbers lines from the first ever written, says where an answer starts after a trim, and skips none still kept', async () => {
    await store.appendLog(key, 1, lines(0, 6), { detail: 'talking' });
    expect(await store.readLog(key, 1, 0, 100)).toMatchObject({ from: 0 });
    // A follower has read lines 0-5; 24 more arrive, the cap (10) trims 20 of them away.
    await store.appendLog(key, 1, lines(6, 24));
    const next = await store.readLog(key, 1, 6, 100);
    expect(next.from).toBe(20);
    expect(texts(next.lines)).toEqual(Array.from({ length: 10 }, (_, i) => `line ${20 + i}`));
    // Reading on from where it got to: exactly the new lines, none skipped or repeated.
    await store.appendLog(key, 1, lines(30, 3));
    const more = await store.readLog(key, 1, 30, 100);
    expect(more.from).toBe(30);
    expect(texts(more.lines)).toEqual(['line 30', 'line 31', 'line 32']);
    expect(texts(await store.getLog(key, 1, 31, 1))).toEqual(['line 31']);
    expect(await store.getTi(key)).toMatchObject({ detail: 'talking' });
    // Other tries keep their own count.
    await store.appendLog(key, 2, lines(0, 2));
    expect(await store.readLog(key, 2, 0, 100)).toMatchObject({ from: 0, lines: [{ line: 'line 0' }, { line: 'line 1' }] });
  });

  it('counts lines trimmed when a finish writes the try’s last lines', async () => {
    await store.appendLog(key, 3, lines(0, 8));
    await conn.hset(store.keys.tiStates('logs', 'r1'), 'talk:-1', 'running');
    await conn.hset(store.keys.ti('logs', 'r1', 'talk', -1), 'state', 'running', 'try', 3);
    expect(await store.finishTi(key, 3, { outcome: 'success', logLines: lines(8, 7) })).toBe('success');
    const r = await store.readLog(key, 3, 0, 100);
    expect(r.from).toBe(5);
    expect(texts(r.lines)).toEqual(Array.from({ length: 10 }, (_, i) => `line ${5 + i}`));
  });
});
