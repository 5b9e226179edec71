/**
 * The first and last `keep` bytes of a stream, and how many bytes it carried: what a DAG file
 * prints at import is kept this way, whatever its size, so the scheduler's memory does not
 * grow with it (apps/scheduler/test/parse-output.int.test.ts prints hundreds of MB).
 */
export class HeadTail {
  #head: Buffer[] = [];
  #headBytes = 0;
  #tail: Buffer[] = [];
  #tailBytes = 0;
  /** Bytes seen in all. */
  total = 0;

  /** Default 64 KiB each end. */
  constructor(readonly keep = 65_536) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.#headBytes < this.keep) {
      const part = Buffer.from(chunk.subarray(0, this.keep - this.#headBytes));
      this.#head.push(part);
      this.#headBytes += part.length;
      chunk = chunk.subarray(part.length);
      if (chunk.length === 0) return;
    }
    this.#tail.push(chunk);
    this.#tailBytes += chunk.length;
    while (this.#tail.length > 1 && this.#tailBytes - this.#tail[0]!.length >= this.keep) this.#tailBytes -= this.#tail.shift()!.length;
  }

  /** Head and tail as text, with a line saying how much was left out between them. */
  text(): string {
    const tail = Buffer.concat(this.#tail);
    const kept = tail.subarray(Math.max(0, tail.length - this.keep));
    const dropped = this.total - this.#headBytes - kept.length;
    const head = Buffer.concat(this.#head).toString('utf8');
    return dropped > 0 ? `${head}\n[… ${dropped} bytes not kept …]\n${kept.toString('utf8')}` : head + kept.toString('utf8');
  }
}
