/**
 * The server answered with a non-2xx status. `message` and `field` come from its JSON
 * body `{ error, field }`; `field` names the part of the request that was wrong
 * (`path` for an unknown id, `authorization` for a bad token, `conf.x` for bad input…).
 */
export class AloftApiError extends Error {
  override readonly name = 'AloftApiError';

  constructor(
    readonly status: number,
    message: string,
    readonly field: string | undefined,
    /** `GET /dags/nope`: the request that failed. */
    readonly request: string,
    /** The parsed body, or its text when it was not JSON. */
    readonly body: unknown,
  ) {
    super(message);
  }
}

/** The server could not be reached, did not answer in time, or dropped a stream. */
export class AloftConnectionError extends Error {
  override readonly name = 'AloftConnectionError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** `waitForRun` gave up: the run had not finished within `timeoutMs`. */
export class AloftTimeoutError extends Error {
  override readonly name = 'AloftTimeoutError';
}
