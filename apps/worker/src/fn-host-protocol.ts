import type { ExecResult } from './executors/types.js';
import type { CallbackMessage, RunMessage } from './fn-runner.js';

/** From the worker to its fn host (fn-host-process.ts). */
export type ToHost =
  | { t: 'run'; id: number; msg: RunMessage | CallbackMessage; killGraceMs: number }
  | { t: 'cancel'; id: number; reason: string }
  /** The answer to the host's 'secret' request `req`. */
  | { t: 'secret'; req: number; ok: true; value: unknown }
  | { t: 'secret'; req: number; ok: false; error: string }
  /** Stop the runners and exit. */
  | { t: 'close' };

/** From the fn host to its worker. */
export type FromHost =
  /** Its pool took its warm runners up (FnPoolOptions.warm). */
  | { t: 'warm' }
  | { t: 'log'; id: number; stream: 'stdout' | 'stderr' | 'system'; line: string }
  /** Task `id`'s function asks for a connection or variable (ctx.conn, ctx.variable). */
  | { t: 'secret'; id: number; req: number; kind: 'conn' | 'var'; name: string; optional: boolean }
  | { t: 'done'; id: number; result: ExecResult };

/**
 * Messages sent in one turn of the event loop leave as one IPC message (an array): a burst
 * of tasks or log lines costs one write and one read, not one each. Sent at the end of the
 * turn's microtasks, so batching adds no wait of its own.
 */
export class Outbox<M> {
  #batch: M[] = [];

  constructor(private readonly flush: (batch: M[]) => void) {}

  push(m: M): void {
    if (this.#batch.push(m) === 1) queueMicrotask(() => this.#send());
  }

  #send(): void {
    const batch = this.#batch;
    this.#batch = [];
    if (batch.length) this.flush(batch);
  }
}
