import { timingSafeEqual } from 'node:crypto';

/**
 * How a parse child reports to the scheduler. The result goes over its own pipe (fd 3), not
 * stdout: what the DAG file prints stays its output. A frame is the key the scheduler wrote
 * on the child's stdin (read, and so gone, before the DAG file is imported), the length of
 * the JSON as 4 bytes big-endian, then the JSON. A DAG file that writes to fd 3 does not know
 * the key, so its bytes are not taken for a result. This is not a wall (the file runs in the
 * same process and could dig the key out of memory); the scheduler validates every result
 * as untrusted input (parse-result.ts).
 */
export const RESULT_FD = 3;
export const KEY_BYTES = 32;
/** A result larger than this is refused: 10,000 tasks take about 5 MiB. */
export const MAX_RESULT_BYTES = 64 * 1024 * 1024;

/** What the child reports: the serialized DAGs, or the first problem with its place. */
export type ChildReport = { dags: unknown[] } | { error: ReportedError };
export interface ReportedError {
  message: string;
  line?: number | undefined;
  field?: string | undefined;
}

export function encodeFrame(key: Buffer, json: string): Buffer {
  const body = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([key, len, body]);
}

/** Collects one frame from the result pipe; anything else on it is an error. */
export class FrameReader {
  #chunks: Buffer[] = [];
  #bytes = 0;
  #expected: number | undefined;
  problem: string | undefined;
  payload: string | undefined;

  constructor(private readonly key: Buffer) {}

  /** True once a whole frame (or a problem) is in: nothing more is read. */
  get done(): boolean {
    return this.payload !== undefined || this.problem !== undefined;
  }

  push(chunk: Buffer): void {
    if (this.done) return;
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    const head = KEY_BYTES + 4;
    if (this.#expected === undefined) {
      if (this.#bytes < head) return;
      const all = Buffer.concat(this.#chunks);
      this.#chunks = [all];
      if (!timingSafeEqual(all.subarray(0, KEY_BYTES), this.key)) {
        this.problem = 'something other than the parse child wrote to its result channel (fd 3)';
        return;
      }
      this.#expected = all.readUInt32BE(KEY_BYTES);
      if (this.#expected > MAX_RESULT_BYTES) {
        this.problem = `the parse result is ${mib(this.#expected)} MiB, more than the ${mib(MAX_RESULT_BYTES)} MiB a result may take`;
        return;
      }
    }
    if (this.#bytes >= head + this.#expected) {
      this.payload = Buffer.concat(this.#chunks)
        .subarray(head, head + this.#expected)
        .toString('utf8');
      this.#chunks = [];
    }
  }
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
