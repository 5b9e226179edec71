import { StringDecoder } from 'node:string_decoder';
import { Writable } from 'node:stream';
import { Log, type KubeConfig } from '@kubernetes/client-node';

/** Where a container's log was read up to: the last line's timestamp and how many lines had it. */
export interface LogCursor {
  ts: string;
  n: number;
}

export interface FollowOptions {
  namespace: string;
  pod: string;
  container: string;
  /** Resume after this position (a worker taking a try over passes what was recorded). */
  after?: LogCursor | undefined;
  onLine: (line: string, cursor: LogCursor) => void;
  /** True once the container has terminated: a stream that ends then is complete. */
  finished: () => boolean;
  onRetry?: (err: unknown) => void;
}

/** Orders RFC3339Nano timestamps (fractions padded, so plain comparison works). */
function norm(ts: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(ts);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z` : ts;
}

/**
 * Streams one container's log with timestamps, following it while the container runs. A
 * stream that drops before the container finished is reopened from the last timestamp
 * (`sinceTime` has second precision), and the lines up to the cursor are skipped, so no
 * line is lost or repeated. Resolves when the container's log is complete or on `stop()`.
 */
export class LogFollower {
  #cursor: LogCursor | undefined;
  #abort: AbortController | undefined;
  #stopped = false;
  readonly done: Promise<void>;

  constructor(
    private readonly kc: KubeConfig,
    private readonly o: FollowOptions,
  ) {
    this.#cursor = o.after;
    this.done = this.#run();
  }

  get cursor(): LogCursor | undefined {
    return this.#cursor;
  }

  stop(): void {
    this.#stopped = true;
    this.#abort?.abort();
  }

  async #run(): Promise<void> {
    let delay = 100;
    while (!this.#stopped) {
      const wasFinished = this.o.finished();
      try {
        await this.#once();
        // A follow stream ends when the container ends; if it was still running when we
        // looked, check again: an early end is a dropped connection.
        if (this.#stopped || wasFinished || this.o.finished()) return;
      } catch (err) {
        if (this.#stopped) return;
        this.o.onRetry?.(err);
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2_000);
    }
  }

  #once(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let rest = '';
      const since = this.#cursor;
      let skipping = since !== undefined;
      let sameTs = 0;
      const emit = (raw: string) => {
        // Nothing after stop(): the try's log and cursor are final once the follower stops
        // (a worker handing the try back has flushed them for the next holder).
        if (this.#stopped) return;
        const sp = raw.indexOf(' ');
        const ts = sp > 0 ? raw.slice(0, sp) : '';
        const line = sp > 0 ? raw.slice(sp + 1) : raw;
        const key = norm(ts);
        if (skipping && since) {
          const c = norm(since.ts);
          if (key < c) return;
          if (key === c && sameTs < since.n) {
            sameTs++;
            return;
          }
          skipping = false;
        }
        const prev = this.#cursor;
        this.#cursor = prev && norm(prev.ts) === key ? { ts, n: prev.n + 1 } : { ts, n: 1 };
        this.o.onLine(line.endsWith('\r') ? line.slice(0, -1) : line, this.#cursor);
      };
      // A character split across chunks is held until it is whole.
      const utf8 = new StringDecoder('utf8');
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          const text = rest + utf8.write(chunk);
          const lines = text.split('\n');
          rest = lines.pop() ?? '';
          for (const l of lines) emit(l);
          cb();
        },
        final(cb) {
          rest += utf8.end();
          if (rest) emit(rest);
          rest = '';
          cb();
        },
      });
      let settled = false;
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve();
      };
      sink.on('finish', () => finish());
      sink.on('error', finish);
      // The client pipes the response body into `sink`; a body that ends normally ends the
      // sink, one that breaks off only errors or closes, which is a dropped stream.
      sink.on('pipe', (src: NodeJS.ReadableStream) => {
        src.on('error', (err: unknown) => finish(err));
        src.on('close', () => setImmediate(() => !sink.writableEnded && finish(new Error('log stream closed before the container ended'))));
      });
      const opts = {
        follow: true,
        timestamps: true,
        ...(since ? { sinceTime: `${since.ts.slice(0, 19)}Z` } : {}),
      };
      new Log(this.kc).log(this.o.namespace, this.o.pod, this.o.container, sink, opts).then(
        (abort) => {
          this.#abort = abort;
        },
        (err: unknown) => finish(err),
      );
    });
  }
}
