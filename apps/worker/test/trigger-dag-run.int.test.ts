import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AloftClient, createLogger, createRedis, dag, type SerializedTask, type TemplateInfo } from '@aloft/core';
import { startRedis, type RedisHandle } from '@aloft/core/testing';
import { runTriggerDagRun } from '../src/executors/trigger-dag-run.js';
import { TaskLog } from '../src/task-log.js';
import { TemplateRenderer } from '../src/template-renderer.js';

let redis: RedisHandle;
let client: AloftClient;
const renderer = new TemplateRenderer({
  timeoutMs: 10_000,
  maxBytes: 1 << 20,
  heapMb: 128,
  logger: createLogger({ name: 'test', level: 'silent' }),
  env: process.env,
});

beforeAll(async () => {
  redis = await startRedis();
  client = new AloftClient({ redis: createRedis(redis.url), prefix: 'trig' });
  const child = dag({ id: 'child', params: { n: '' } });
  child.empty({ id: 'work' });
  await client.store.saveDag(child.serialize());
  // The parent's run exists, so the executor's log lines have a task instance to go to.
  const parent = dag({ id: 'parent' });
  parent.triggerDagRun({ id: 'kick', dagId: 'child' });
  await client.store.saveDag(parent.serialize());
  const at = info(1).logicalDate;
  await client.store.createRun({ dagId: 'parent', runId: info(1).runId, runType: 'manual', logicalDate: at, dataIntervalStart: at, dataIntervalEnd: at });
});
afterAll(async () => {
  await renderer.stop();
  await client.store.redis.quit();
  await redis.stop();
});

const info = (tryNumber: number): TemplateInfo => ({
  dagId: 'parent',
  runId: 'manual__2026-01-02T03:04:05.000Z__abc',
  taskId: 'kick',
  mapIndex: -1,
  tryNumber,
  args: {},
  logicalDate: new Date('2026-01-02T03:04:05Z'),
  dataIntervalStart: new Date('2026-01-02T03:04:05Z'),
  dataIntervalEnd: new Date('2026-01-02T03:04:05Z'),
  timezone: 'UTC',
  params: {},
  conf: { n: 7 },
  outputs: {},
});

function triggerTask(over: Partial<NonNullable<SerializedTask['trigger']>> = {}): SerializedTask {
  const d = dag({ id: 'parent' });
  d.triggerDagRun({ id: 'kick', dagId: 'child' });
  const t = d.serialize().tasks[0]!;
  return { ...t, trigger: { ...t.trigger!, conf: { n: '{{ conf.n }}' }, ...over } };
}

async function execute(t: SerializedTask, tryNumber: number) {
  const log = new TaskLog(client.store, { dagId: 'parent', runId: info(tryNumber).runId, taskId: 'kick', mapIndex: -1 }, tryNumber);
  const running = runTriggerDagRun({ client, task: t, info: info(tryNumber), templates: renderer.forTask(info(tryNumber)) }, { log, killGraceMs: 100 });
  const result = await running.result;
  await log.close();
  const lines = (await client.store.getLog({ dagId: 'parent', runId: info(tryNumber).runId, taskId: 'kick', mapIndex: -1 }, tryNumber)).map((l) => l.line);
  return { result, lines };
}

describe('triggerDagRun executor (real redis-server)', () => {
  it('a try taken over by another worker adopts the run it started; a new try starts a new run', async () => {
    const first = await execute(triggerTask(), 1);
    const runId = 'triggered__parent.kick__manual__2026-01-02T03:04:05.000Z__abc__try1';
    expect(first.result).toEqual({ outcome: 'success', outputJson: JSON.stringify(runId) });
    expect(await client.getRun('child', runId)).toMatchObject({
      runType: 'manual',
      conf: { n: '7' },
      triggeredBy: 'parent/manual__2026-01-02T03:04:05.000Z__abc/kick/1',
    });

    const again = await execute(triggerTask(), 1);
    expect(again.result).toEqual(first.result);
    expect(again.lines.some((l) => l.includes('was started by this try before'))).toBe(true);
    expect(await client.store.countRuns('child')).toBe(1);

    const retry = await execute(triggerTask(), 2);
    expect(retry.result.outputJson).toBe(JSON.stringify(runId.replace(/try1$/, 'try2')));
    expect(await client.store.countRuns('child')).toBe(2);
  });

  it('refuses a given run id that exists and was not started by this try', async () => {
    await client.trigger('child', { runId: 'taken' });
    const { result } = await execute(triggerTask({ runId: 'taken' }), 1);
    expect(result).toEqual({ outcome: 'failed', reason: 'run "taken" of DAG "child" already exists and was not started by this try' });
  });

  it('fails with the conf problem when the conf does not fit the target params', async () => {
    const t = triggerTask();
    const { result } = await execute({ ...t, trigger: { ...t.trigger!, runId: 'badconf', conf: { n: [1] } } }, 1);
    expect(result).toEqual({ outcome: 'failed', reason: 'cannot trigger DAG "child": conf for DAG "child" is invalid: conf.n must be a string (got array)' });
  });

  it('stops waiting when cancelled, with the reason', async () => {
    // The child DAG is paused, so its run stays queued and the task keeps waiting.
    await client.setPaused('child', true);
    const t = triggerTask({ runId: 'waits', waitForCompletion: true, pokeIntervalMs: 60_000 });
    const log = new TaskLog(client.store, { dagId: 'parent', runId: 'r', taskId: 'kick', mapIndex: -1 }, 1);
    const running = runTriggerDagRun({ client, task: t, info: info(1), templates: renderer.forTask(info(1)) }, { log, killGraceMs: 100 });
    await new Promise((r) => setTimeout(r, 300));
    expect((await client.getRun('child', 'waits')).state).toBe('queued');
    await running.cancel('execution timeout: still running after 300 ms');
    expect(await running.result).toEqual({ outcome: 'failed', reason: 'execution timeout: still running after 300 ms' });
    await log.close();
  });
});
