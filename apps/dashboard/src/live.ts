import type { Response } from 'express';
import type { Redis } from 'ioredis';
import type { Logger, RedisOutageLog, Store } from '@aloft/core';

/** One transition from the events stream, as the UI and API clients receive it. */
export interface LiveEvent {
  id: string;
  type: string;
  dagId: string;
  runId: string;
  taskId: string;
  /** Which instance of the task: its map index, −1 when unmapped (or a mapped task as a whole). */
  mapIndex: number;
  state: string;
  at: number;
  detail: string;
}

type Listener = (e: LiveEvent) => void;

/**
 * Reads the events stream (every task and run transition, written by the Lua scripts in
 * the same step as the change) with one blocking connection per dashboard process and
 * hands each event to the open SSE responses that want it.
 */
export class EventHub {
  readonly #listeners = new Set<Listener>();
  #reader: Redis | undefined;
  #running = false;
  #last = '$';

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    /** Watches the reader's connection; its connection errors are part of the outage it logs once. */
    private readonly outage: RedisOutageLog,
    /** Seconds from a transition (its `at`) to this process reading it, per event. */
    private readonly lag?: { observe(seconds: number): void },
  ) {}

  subscribe(fn: Listener): () => void {
    this.#listeners.add(fn);
    if (!this.#running) void this.#loop();
    return () => this.#listeners.delete(fn);
  }

  get subscribers(): number {
    return this.#listeners.size;
  }

  async #loop(): Promise<void> {
    this.#running = true;
    // A fresh start follows from now: what happened while nobody watched is in the API.
    this.#last = '$';
    // A duplicate has none of the original's listeners: it gets its own 'error' listener.
    this.#reader ??= this.outage.watch(this.store.redis.duplicate(), 'events reader');
    while (this.#listeners.size > 0 && this.#reader) {
      try {
        const res = (await this.#reader.xread('COUNT', 1000, 'BLOCK', 2000, 'STREAMS', this.store.keys.events, this.#last)) as
          [string, [string, string[]][]][] | null;
        for (const [, entries] of res ?? []) {
          for (const [id, fields] of entries) {
            this.#last = id;
            const f: Record<string, string> = {};
            for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
            const e: LiveEvent = {
              id,
              type: f['type'] ?? '',
              dagId: f['dag'] ?? '',
              runId: f['run'] ?? '',
              taskId: f['task'] ?? '',
              mapIndex: Number(f['map'] || -1),
              state: f['state'] ?? '',
              at: Number(f['at'] ?? 0),
              detail: f['detail'] ?? '',
            };
            this.lag?.observe(Math.max(0, Date.now() - e.at) / 1000);
            for (const l of this.#listeners) l(e);
          }
        }
      } catch (err) {
        if (!this.#reader) break;
        if (!this.outage.report(err, 'events reader')) this.logger.warn({ err }, 'reading the events stream failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    this.#running = false;
  }

  async close(): Promise<void> {
    const r = this.#reader;
    this.#reader = undefined;
    this.#listeners.clear();
    r?.disconnect();
  }
}

/** Starts a Server-Sent Events response: headers, a retry hint and keep-alive comments. */
export function openSse(res: Response, onClose: () => void): (event: string, data: unknown) => void {
  res.status(200).set({
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  res.write('retry: 2000\n\n');
  const ping = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  res.on('close', () => {
    clearInterval(ping);
    onClose();
  });
  return (event, data) => {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
}
