import { StringDecoder } from 'node:string_decoder';
import type { LogLine, SecretMasker, Store, TaskInstanceKey } from '@aloft/core';

/**
 * Collects one try's log lines and writes them to Redis in batches (every 100 ms or 500
 * lines), so a chatty task costs few round trips. `close()` flushes what is left. Every
 * line passes the try's masker first: a secret the task was handed never reaches Redis.
 */
export class TaskLog {
  #buffer: LogLine[] = [];
  #meta: Record<string, string> = {};
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly key: TaskInstanceKey,
    private readonly tryNumber: number,
    private readonly masker?: SecretMasker,
  ) {}

  write(stream: LogLine['stream'], line: string): void {
    this.#buffer.push({ at: Date.now(), stream, line: this.masker ? this.masker.mask(line) : line });
    // flush() never rejects: a batch that fails to write is dropped there.
    if (this.#buffer.length >= 500) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), 100);
  }

  /** Where a line that never ends may be cut without splitting a secret (SecretMasker.safeCut). */
  safeCut(text: string): number {
    return this.masker ? this.masker.safeCut(text) : text.length;
  }

  system(line: string): void {
    this.write('system', line);
  }

  /**
   * A task-instance field written in the same step as the lines buffered so far (e.g. how
   * far a pod's log was read), so the two never disagree after a crash.
   */
  mark(field: string, value: string): void {
    this.#meta[field] = value;
  }

  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const lines = this.#buffer;
    const meta = this.#meta;
    this.#buffer = [];
    this.#meta = {};
    if (lines.length > 0) {
      this.#flushing = this.#flushing.then(() => this.store.appendLog(this.key, this.tryNumber, lines, meta)).catch(() => undefined);
    }
    return this.#flushing;
  }

  close(): Promise<void> {
    return this.flush();
  }

  /**
   * Ends batching and returns the lines not yet written, once earlier batches are in, so
   * the caller can write them together with the try's result in one step.
   */
  async takeRest(): Promise<LogLine[]> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#flushing;
    const lines = this.#buffer;
    this.#buffer = [];
    return lines;
  }
}

/** A line that never ends is let out in parts of about this many characters. */
export const MAX_LINE_CHARS = 65536;

/**
 * Splits a byte stream into lines, keeping a partial last line until more arrives (and a
 * character split across chunks until it is whole). A line longer than MAX_LINE_CHARS goes
 * out in parts, cut where `cut` says (a masker's safeCut, so no secret is split in two).
 */
export class LineSplitter {
  #rest = '';
  readonly #utf8 = new StringDecoder('utf8');
  constructor(
    private readonly onLine: (line: string) => void,
    private readonly cut?: (text: string) => number,
  ) {}

  push(chunk: Buffer | string): void {
    const text = this.#rest + (typeof chunk === 'string' ? chunk : this.#utf8.write(chunk));
    const lines = text.split('\n');
    this.#rest = lines.pop() ?? '';
    for (const l of lines) this.onLine(l.endsWith('\r') ? l.slice(0, -1) : l);
    while (this.#rest.length > MAX_LINE_CHARS) {
      const at = this.cut?.(this.#rest) ?? this.#rest.length;
      const n = at > 0 ? at : this.#rest.length;
      this.onLine(this.#rest.slice(0, n));
      this.#rest = this.#rest.slice(n);
    }
  }

  end(): void {
    this.#rest += this.#utf8.end();
    if (this.#rest) this.onLine(this.#rest);
    this.#rest = '';
  }
}
