import express, { type Router } from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from '@aloft/core';
import { sameOrigin, type Auth } from './auth.js';
import { signInThrottle } from './sign-in-throttle.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(next: string, problem: string | undefined): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sign in · Aloft</title><style>body{font-family:system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;margin:0}
form{display:grid;gap:.6rem;min-width:18rem}input,button{font:inherit;padding:.5rem}p.err{color:#b00020}</style></head>
<body><form method="post" action="/login"><h1>Aloft</h1>${problem ? `<p class="err" role="alert">${esc(problem)}</p>` : ''}
<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<input type="hidden" name="next" value="${esc(next)}"><button type="submit">Sign in</button></form></body></html>`;
}

/**
 * Where to go after signing in: a path on this site, else `/`. One leading `/` and no
 * second `/` or `\` after it (browsers read `/\host` as `//host`, another site), and no
 * control characters (browsers drop tabs and newlines, so `/<tab>/host` is `//host` too).
 */
export function localPath(next: unknown): string {
  if (typeof next !== 'string' || next.length > 2000 || !/^\/(?![/\\])/.test(next)) return '/';
  // eslint-disable-next-line no-control-regex
  return /[\x00-\x1f\x7f]/.test(next) ? '/' : next;
}

export interface SignInOptions {
  auth: Auth;
  redis: Redis;
  /** The Redis key prefix (ALOFT_KEY_PREFIX). */
  prefix: string;
  logger: Logger;
  /** Refused sign-ins allowed per client address (and per known browser) in 15 minutes. */
  loginAttempts: number;
  /** Refused sign-ins allowed per account from browsers it does not know, in 15 minutes. */
  loginAccountAttempts: number;
}

/** The sign-in page and form, and signing out. */
export function signInRouter(o: SignInOptions): Router {
  const r = express.Router();
  const form = express.urlencoded({ extended: false, limit: '10kb' });
  r.get('/login', (req, res) => {
    res.type('html').send(loginPage(localPath(req.query['next']), undefined));
  });
  const throttle = signInThrottle({ auth: o.auth, redis: o.redis, prefix: o.prefix, attempts: o.loginAttempts, accountAttempts: o.loginAccountAttempts });
  r.post('/login', sameOrigin(), form, ...throttle, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const username = typeof body['username'] === 'string' ? body['username'] : '';
    const password = typeof body['password'] === 'string' ? body['password'] : '';
    const next = localPath(body['next']);
    const user = username && password ? await o.auth.verify(username, password) : undefined;
    if (!user) {
      o.logger.warn({ user: username.slice(0, 64), ip: req.ip }, 'sign-in refused');
      res.status(401).type('html').send(loginPage(next, 'Wrong username or password.'));
      return;
    }
    await o.auth.startSession(req, res, user);
    o.logger.info({ user: user.username }, 'signed in');
    res.redirect(303, next);
  });
  r.post('/logout', sameOrigin(), async (req, res) => {
    await o.auth.endSession(req, res);
    res.redirect(303, '/login');
  });
  return r;
}
