import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DagImportError, importDagFile, parseCallbackRef, webhookNotifier, type CallbackContext, type Dag } from '../src/index.js';

/** DAG files written to a folder inside the repo, so `@aloft/core` resolves as for users. */
const DIR = join(new URL('../../..', import.meta.url).pathname, '.test-results', `unit-callbacks-${process.pid}`);
mkdirSync(DIR, { recursive: true });
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

let n = 0;
async function load(source: string): Promise<{ file: string; dag: Dag }> {
  const file = join(DIR, `dag${++n}.ts`);
  writeFileSync(file, `import { dag } from '@aloft/core';\nconst cb = () => undefined;\n${source}\n`);
  const [d] = await importDagFile(file);
  return { file, dag: d! };
}

async function importError(source: string): Promise<DagImportError> {
  const { dag } = await load(source);
  try {
    dag.serialize();
  } catch (err) {
    if (err instanceof DagImportError) return err;
    throw err;
  }
  throw new Error('expected an import error');
}

describe('callback options', () => {
  it('stores callbacks as references, from the task, its group and defaultArgs, with SLA and deadline', async () => {
    const { dag } = await load(`
const own = () => 'own';
const d = dag({ id: 'cbs', deadline: '1h', onSuccess: cb, onSlaMiss: cb, defaultArgs: { onFailure: cb, queue: 'ops', sla: '30m' } });
d.empty({ id: 'a', onExecute: own, sla: '5m' });
d.group({ id: 'g', defaultArgs: { onRetry: cb } }, (g) => { g.fn({ id: 'b', run: () => 1, onSlaMiss: own }); });
`);
    const s = dag.serialize();
    expect(s.deadlineMs).toBe(3_600_000);
    expect(s.callbacks).toEqual({ onSuccess: 'dag:onSuccess', onSlaMiss: 'dag:onSlaMiss' });
    expect(s.callbackQueue).toBe('ops');
    const [a, b] = s.tasks;
    expect(a).toMatchObject({ slaMs: 300_000, callbacks: { onExecute: 'task:a:onExecute', onFailure: 'task:a:onFailure', onSlaMiss: 'dag:onSlaMiss' } });
    expect(b).toMatchObject({ slaMs: 1_800_000, callbacks: { onFailure: 'task:g.b:onFailure', onRetry: 'task:g.b:onRetry', onSlaMiss: 'task:g.b:onSlaMiss' } });
    expect(dag.callbackOf('task:a:onExecute')?.({} as CallbackContext)).toBe('own');
    expect(dag.callbackOf('task:g.b:onSlaMiss')?.({} as CallbackContext)).toBe('own');
    expect(dag.callbackOf('task:g.b:onSuccess')).toBeUndefined();
    expect(dag.callbackOf('dag:onFailure')).toBeUndefined();
    expect(dag.callbackOf('dag:onSuccess')).toBe(dag.options.onSuccess);
  });

  it('leaves a DAG without callbacks serialized as before (no new fields)', async () => {
    const { dag } = await load(`const d = dag({ id: 'plain' }); d.empty({ id: 'a' });`);
    const s = dag.serialize();
    expect(Object.keys(s)).not.toContain('callbacks');
    expect(Object.keys(s)).not.toContain('callbackQueue');
    expect(Object.keys(s.tasks[0]!)).not.toContain('callbacks');
    expect(Object.keys(s.tasks[0]!)).not.toContain('slaMs');
  });

  it('rejects a task callback that is not a function, naming the file, task and field', async () => {
    const err = await importError(`const d = dag({ id: 'bad_task_cb' });\nd.command({ id: 'load', command: 'true', onFailure: 'page-oncall' });`);
    expect(err.field).toBe('onFailure');
    expect(err.file).toMatch(/dag\d+\.ts$/);
    expect(err.message).toContain('dag "bad_task_cb", task "load": onFailure must be a function (got string)');
  });

  it('rejects DAG-level and defaultArgs callbacks that are not functions', async () => {
    const dagErr = await importError(`const d = dag({ id: 'bad_dag_cb', onSlaMiss: 42 }); d.empty({ id: 'a' });`);
    expect(dagErr.field).toBe('onSlaMiss');
    expect(dagErr.message).toContain('dag "bad_dag_cb": onSlaMiss must be a function (got number)');
    const argErr = await importError(`const d = dag({ id: 'bad_default_cb', defaultArgs: { onRetry: {} } }); d.empty({ id: 'a' }); d.empty({ id: 'b' });`);
    expect(argErr.field).toBe('onRetry');
    // Reported once for defaultArgs, not once per task.
    expect(argErr.message).toBe(`${argErr.file}: dag "bad_default_cb": defaultArgs: onRetry must be a function (got object)`);
  });

  it('rejects a bad sla or deadline, naming the field', async () => {
    const slaErr = await importError(`const d = dag({ id: 'bad_sla' }); d.empty({ id: 'a', sla: 'soon' });`);
    expect(slaErr.field).toBe('sla');
    expect(slaErr.message).toContain('dag "bad_sla", task "a": sla must be a duration like "30s", "5m" or a number of ms (got "soon")');
    const deadlineErr = await importError(`const d = dag({ id: 'bad_deadline', deadline: -5 }); d.empty({ id: 'a' });`);
    expect(deadlineErr.field).toBe('deadline');
  });

  it('parses callback references, and refuses anything else', () => {
    expect(parseCallbackRef('task:ingest.orders:onRetry')).toEqual({ scope: 'task', taskId: 'ingest.orders', slot: 'onRetry' });
    expect(parseCallbackRef('dag:onSlaMiss')).toEqual({ scope: 'dag', slot: 'onSlaMiss' });
    expect(parseCallbackRef('dag:onExecute')).toBeUndefined();
    expect(parseCallbackRef('task::onRetry')).toBeUndefined();
    expect(parseCallbackRef('task:a:onWhatever')).toBeUndefined();
  });
});

describe('webhookNotifier', () => {
  it('refuses a URL that is not http(s) without quoting it', () => {
    expect(() => webhookNotifier({ url: 'ftp://user:hunter2@example.com/x' })).toThrow(/^webhookNotifier: url must be an http:\/\/ or https:\/\/ URL$/);
    expect(() => webhookNotifier({ url: 'https://example.com', retries: -1 })).toThrow('webhookNotifier: retries must be a whole number ≥ 0 (got -1)');
  });

  it('does not retry a 4xx answer other than 429, and names only the host', async () => {
    let calls = 0;
    const server = createServer((_req, res) => {
      calls++;
      res.writeHead(403).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const lines: string[] = [];
    const log = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
    const notify = webhookNotifier({ url: `http://127.0.0.1:${port}/secret-path`, retries: 3, retryDelay: 10 });
    const ctx = {
      scope: 'task',
      callback: 'onFailure',
      dagId: 'd',
      runId: 'r',
      taskId: 't',
      mapIndex: -1,
      tryNumber: 1,
      state: 'failed',
      reason: 'boom',
      sla: undefined,
      logicalDate: new Date(0),
      ds: '1970-01-01',
      dataIntervalStart: new Date(0),
      dataIntervalEnd: new Date(0),
      params: {},
      conf: {},
      log,
      signal: new AbortController().signal,
    } satisfies CallbackContext;
    try {
      await expect(notify(ctx)).rejects.toThrow(`webhook to 127.0.0.1:${port} failed: HTTP 403`);
      expect(calls).toBe(1);
      expect(lines.join('\n')).not.toContain('secret-path');
    } finally {
      server.close();
    }
  });
});
