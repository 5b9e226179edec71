/**
 * A worker's fn host: the process that runs the functions of DAG files (`fn`, `branch`,
 * `shortCircuit`, sensor checks, callbacks) in its warm worker threads (FnPool), apart from
 * the worker process. It starts without the worker's credentials in its environment and, when
 * the worker runs as root, as the user-code user, so that a function can read neither the
 * worker's environment and memory nor the credential files (README, "What user code can
 * reach"). The worker sends it tasks and cancels over the IPC channel (fn-host-protocol.ts);
 * it exits when the channel closes, which is also how it ends when the worker dies.
 */
import { assertNever } from '@aloft/core';
import { FnPool, type FnPoolOptions } from './executors/fn-pool.js';
import type { RunningTask } from './executors/types.js';
import { Outbox, type FromHost, type ToHost } from './fn-host-protocol.js';

const options = JSON.parse(process.argv[2] ?? '{}') as FnPoolOptions;
const pool = new FnPool(process.env, options);
const running = new Map<number, RunningTask>();
const asked = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let nextReq = 0;
const out = new Outbox<FromHost>((batch) => {
  // A closed channel means the worker is gone; 'disconnect' below ends this process.
  if (process.connected) process.send!(batch);
});

function onMessage(m: ToHost): void {
  switch (m.t) {
    case 'run': {
      const { id } = m;
      const secret = (kind: 'conn' | 'var', name: string, optional: boolean): Promise<unknown> =>
        new Promise((resolve, reject) => {
          const req = ++nextReq;
          asked.set(req, { resolve, reject });
          out.push({ t: 'secret', id, req, kind, name, optional });
        });
      const task = pool.run(m.msg, { log: { write: (stream, line) => out.push({ t: 'log', id, stream, line }) }, killGraceMs: m.killGraceMs, secret });
      running.set(id, task);
      void task.result.then((result) => {
        running.delete(id);
        out.push({ t: 'done', id, result });
      });
      return;
    }
    case 'secret': {
      const a = asked.get(m.req);
      asked.delete(m.req);
      if (m.ok) a?.resolve(m.value);
      else a?.reject(new Error(m.error));
      return;
    }
    case 'cancel':
      void running.get(m.id)?.cancel(m.reason);
      return;
    case 'close':
      void pool.close().finally(() => process.exit(0));
      return;
    default:
      assertNever(m, 'worker message');
  }
}

process.on('message', (batch: ToHost[]) => {
  for (const m of batch) onMessage(m);
});
process.on('disconnect', () => process.exit(0));
void pool.prewarm().then(() => out.push({ t: 'warm' }));
