import type { SerializedDag } from '@aloft/core';

/** The line a parse child prints its result on. */
export const PARSE_MARKER = '::aloft-parse::';

export type ParseResult =
  | { dags: SerializedDag[] }
  | { error: { message: string; line?: number | undefined; field?: string | undefined } };
