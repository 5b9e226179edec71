import { parseConnection, POD_SECRET_ENV, SecretMasker, SENSITIVE_NAME } from '@aloft/core';
import { LineSplitter } from './task-log.js';

/**
 * What a task pod must mask, read from its own environment: every ALOFT_CONN_* (its URI or
 * JSON, and the password and sensitive extras in it), every ALOFT_VAR_*, and each variable
 * ALOFT_SECRET_ENV names (set by the worker from Secrets by reference; names only). The
 * worker never sees these values, so only the pod can mask them in what it prints.
 */
export function podSecretMasker(env: Readonly<Record<string, string | undefined>>): SecretMasker {
  const masker = new SecretMasker();
  const named = new Set((env[POD_SECRET_ENV] ?? '').split(',').filter(Boolean));
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (named.has(name) || name.startsWith('ALOFT_VAR_')) masker.add(value);
    if (!name.startsWith('ALOFT_CONN_')) continue;
    masker.add(value);
    try {
      const c = parseConnection(name.slice('ALOFT_CONN_'.length).toLowerCase(), value, name);
      masker.add(c.password);
      for (const [k, v] of Object.entries(c.extra)) if (SENSITIVE_NAME.test(k)) masker.add(typeof v === 'string' ? v : JSON.stringify(v));
    } catch {
      // Not a connection: its whole value is masked above, and ctx.conn says what is wrong with it.
    }
  }
  return masker;
}

/**
 * A stream of text masked line by line before `write` gets it, so a secret split across
 * chunks is still whole when masked. A line that never ends is let through in parts of
 * 64 KiB (as the task log does), cut outside any secret; `end()` lets out what is left.
 */
export class MaskedLines {
  readonly #lines: LineSplitter;
  constructor(masker: SecretMasker, write: (text: string) => void) {
    this.#lines = new LineSplitter(
      (line) => write(`${masker.mask(line)}\n`),
      (text) => masker.safeCut(text),
    );
  }

  push(chunk: Buffer | string): void {
    this.#lines.push(chunk);
  }

  end(): void {
    this.#lines.end();
  }
}

/**
 * Masks what this process writes to `stream` from now on (console.log, ctx.log, a stack
 * trace); returns the function that lets out a last unfinished line.
 */
export function maskWrites(stream: NodeJS.WriteStream, masker: SecretMasker): () => void {
  const write = stream.write.bind(stream) as (s: string | Uint8Array) => boolean;
  const lines = new MaskedLines(masker, (text) => void write(text));
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk));
    const cb = rest.find((x): x is () => void => typeof x === 'function');
    if (cb) queueMicrotask(cb);
    return true;
  }) as typeof stream.write;
  return () => lines.end();
}
