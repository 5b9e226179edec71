import { createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import { RedisStore } from 'rate-limit-redis';
import type { Auth } from './auth.js';

const WINDOW_MS = 15 * 60_000;

export interface SignInThrottleOptions {
  auth: Auth;
  redis: Redis;
  /** The Redis key prefix (ALOFT_KEY_PREFIX). */
  prefix: string;
  /** Refused sign-ins allowed per client address, and per known browser and account, in 15 minutes. */
  attempts: number;
  /** Refused sign-ins allowed per account from all browsers it does not know, in 15 minutes. */
  accountAttempts: number;
}

/** Who is signing in, as the limits count it: the account, and this browser when the account knows it. */
interface Attempt {
  account: string;
  browser: string | undefined;
}
const attemptOf = (res: Response) => res.locals['signIn'] as Attempt;
const digest = (s: string) => createHash('sha256').update(s).digest('base64url').slice(0, 22);

/**
 * The limits on refused sign-ins, in front of the password check (OWASP's "device cookie"
 * scheme). A browser that has not signed in to the account before counts against its
 * address (`attempts` in 15 minutes) and against the account as a whole
 * (`accountAttempts`), so guessing from many addresses gains nothing. A browser that has
 * signed in to the account (a cookie Auth set) counts only against itself, so nobody
 * else's refused attempts, from its own address or any other, lock its user out. Only
 * refused attempts count; the address is the connecting peer unless it is a listed proxy
 * (ALOFT_DASHBOARD_TRUST_PROXY).
 */
export function signInThrottle(o: SignInThrottleOptions): RequestHandler[] {
  const limit = (name: string, max: number, key: (req: Request, res: Response) => string, applies: (a: Attempt) => boolean, error: string, field: string) =>
    rateLimit({
      windowMs: WINDOW_MS,
      limit: max,
      skipSuccessfulRequests: true,
      skip: (_req, res) => !applies(attemptOf(res)),
      keyGenerator: key,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      // X-Forwarded-For is ignored on purpose unless the peer is a listed proxy.
      validate: { xForwardedForHeader: false },
      store: new RedisStore({
        prefix: `${o.prefix}:dashboard:login-limit:${name}:`,
        sendCommand: (...args: string[]) => o.redis.call(args[0]!, ...args.slice(1)) as never,
      }),
      handler: (_req, res) => res.status(429).json({ error, field }),
    });
  const identify = async (req: Request, res: Response, next: NextFunction) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const account = typeof body['username'] === 'string' ? body['username'] : '';
    res.locals['signIn'] = { account, browser: await o.auth.knownBrowser(req, account) } satisfies Attempt;
    next();
  };
  return [
    identify,
    limit(
      'browser',
      o.attempts,
      (_req, res) => `${digest(attemptOf(res).account)}:${attemptOf(res).browser}`,
      (a) => !!a.browser,
      'too many refused sign-ins from this browser; wait 15 minutes',
      'password',
    ),
    limit(
      'address',
      o.attempts,
      (req) => ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? ''),
      (a) => !a.browser,
      'too many refused sign-ins from this address; wait 15 minutes',
      'password',
    ),
    limit(
      'account',
      o.accountAttempts,
      (_req, res) => digest(attemptOf(res).account),
      (a) => !a.browser,
      'too many refused sign-ins for this account; wait 15 minutes, or sign in from a browser that has signed in to it before',
      'username',
    ),
  ];
}
