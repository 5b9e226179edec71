import type { Logger } from 'pino';

/** Socket error codes of a Redis that is down, restarting or out of reach. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** True for an error that says the connection to Redis is down or going down (not a bad command). */
export function isRedisConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  // ioredis's own words for a dropped socket and a reconnect that timed out; LOADING is a
  // restarted Redis still reading its AOF.
  return /Connection is closed|Stream isn't writeable|connect ETIMEDOUT|^LOADING /.test(err.message);
}

/** What RedisOutageLog watches on a connection: ioredis's events. */
export interface WatchedConnection {
  on(event: 'error', fn: (err: Error) => void): unknown;
  on(event: 'ready' | 'end', fn: () => void): unknown;
}

/**
 * A service's Redis outages, logged once each. Every ioredis connection needs an 'error'
 * listener, or ioredis prints "[ioredis] Unhandled error event" on every reconnect attempt
 * while Redis restarts; a listener that logs each one at error level is the same spam in
 * JSON. So: the first connection to fail logs one warn, the others and the retries stay at
 * debug, and when every watched connection is ready again one info says so. The outage is
 * the service's, not a connection's: ten connections down together are one outage.
 * tests/redis-restart.test.ts restarts redis-server under each service and counts the lines.
 */
export class RedisOutageLog {
  readonly #down = new Set<number>();
  readonly #open = new Set<number>();
  #next = 0;
  #since: number | undefined;

  constructor(private readonly logger: Logger) {}

  /** True while an outage is logged and not yet over. */
  get down(): boolean {
    return this.#since !== undefined;
  }

  /** Gives `conn` its 'error' listener and follows it; returns it. */
  watch<C extends WatchedConnection>(conn: C, name: string): C {
    const id = this.#next++;
    this.#open.add(id);
    conn.on('error', (err) => {
      this.#down.add(id);
      this.#lost(err, name);
    });
    conn.on('ready', () => {
      this.#down.delete(id);
      this.#maybeBack();
    });
    // Closed for good (quit, disconnect): no longer part of the picture.
    conn.on('end', () => {
      this.#open.delete(id);
      this.#down.delete(id);
      this.#maybeBack();
    });
    return conn;
  }

  /**
   * For an error that reached code through another path (a BullMQ 'error' event from a
   * connection BullMQ made itself, a failed command): true when it is a connection error,
   * logged at debug (the watched connections log the outage, and only they end it); false
   * otherwise, and the caller logs it as it would.
   */
  report(err: unknown, source: string): boolean {
    if (!isRedisConnectionError(err)) return false;
    this.logger.debug({ err, connection: source }, 'Redis connection error');
    return true;
  }

  #lost(err: unknown, source: string): void {
    if (this.#since !== undefined) {
      this.logger.debug({ err, connection: source }, 'Redis still unreachable');
      return;
    }
    this.#since = Date.now();
    this.logger.warn({ err, connection: source }, 'Redis unreachable; retrying');
  }

  #maybeBack(): void {
    if (this.#since === undefined || this.#down.size > 0) return;
    this.logger.info({ downMs: Date.now() - this.#since }, 'Redis reachable again');
    this.#since = undefined;
  }
}
