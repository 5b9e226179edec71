import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { BlockList, isIPv6 } from 'node:net';
import bcrypt from 'bcryptjs';
import type { NextFunction, Request, Response } from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from '@aloft/core';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface SessionUser {
  username: string;
  role: Role;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      user?: SessionUser;
      /** Authenticated by an API token (no cookie): not a browser request, no CSRF check. */
      viaToken?: boolean;
    }
  }
}

const COOKIE = 'aloft_session';
const SESSION_TTL_S = 12 * 3600;
/** A browser's own random id, kept across sessions: the sign-in throttle knows browsers that signed in before. */
const BROWSER_COOKIE = 'aloft_browser';
const BROWSER_TTL_S = 30 * 24 * 3600;
const BCRYPT_COST = 12;
const rank = (r: Role) => ROLES.indexOf(r);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * Users and sessions in Redis. Passwords are bcrypt hashes; a session is a random token in
 * an httpOnly cookie, stored in Redis only as its SHA-256, so Redis holds nothing a reader
 * could sign in with.
 */
export class Auth {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {}

  #users = () => `${this.prefix}:dashboard:users`;
  #tokens = () => `${this.prefix}:dashboard:tokens`;
  #session = (token: string) => `${this.prefix}:dashboard:session:${sha256(token)}`;
  #browser = (username: string, id: string) => `${this.prefix}:dashboard:browser:${sha256(`${username}\n${id}`)}`;

  /**
   * With no users yet, creates `admin` with ALOFT_DASHBOARD_ADMIN_PASSWORD, or a generated
   * password printed once in the log. There is no built-in default password.
   */
  async bootstrap(adminPassword: string | undefined): Promise<void> {
    if ((await this.redis.hlen(this.#users())) > 0) return;
    const password = adminPassword || randomBytes(18).toString('base64url');
    const created = await this.redis.hsetnx(
      this.#users(),
      'admin',
      JSON.stringify({ hash: await bcrypt.hash(password, BCRYPT_COST), role: 'admin', createdAt: Date.now() }),
    );
    if (created && !adminPassword) {
      // Shown this once: it is stored only as a hash.
      this.logger.warn(`first start: created user "admin" with password ${password} (shown once; change it or set ALOFT_DASHBOARD_ADMIN_PASSWORD)`);
    } else if (created) this.logger.info('first start: created user "admin" with the password from ALOFT_DASHBOARD_ADMIN_PASSWORD');
  }

  async addUser(username: string, password: string, role: Role): Promise<void> {
    if (!/^[a-z0-9_.-]{1,64}$/i.test(username)) throw new Error('username: letters, digits, ".", "_" or "-", at most 64');
    if (password.length < 12) throw new Error('password: at least 12 characters');
    await this.redis.hset(this.#users(), username, JSON.stringify({ hash: await bcrypt.hash(password, BCRYPT_COST), role, createdAt: Date.now() }));
  }

  #dummy: Promise<string> | undefined;

  /** The user, when the password is right; the same work is done for unknown users. */
  async verify(username: string, password: string): Promise<SessionUser | undefined> {
    const raw = await this.redis.hget(this.#users(), username);
    const rec = raw ? (JSON.parse(raw) as { hash: string; role: Role }) : undefined;
    this.#dummy ??= bcrypt.hash(randomBytes(8).toString('hex'), BCRYPT_COST);
    const ok = await bcrypt.compare(password, rec?.hash ?? (await this.#dummy));
    return ok && rec ? { username, role: rec.role } : undefined;
  }

  async listUsers(): Promise<{ username: string; role: Role; createdAt: number }[]> {
    const all = await this.redis.hgetall(this.#users());
    return Object.entries(all)
      .map(([username, raw]) => {
        const r = JSON.parse(raw) as { role: Role; createdAt: number };
        return { username, role: r.role, createdAt: r.createdAt };
      })
      .sort((a, b) => a.username.localeCompare(b.username));
  }

  /**
   * A new API token for programs, scoped to a role. The token is returned once; Redis
   * keeps only its SHA-256 (tokens are long random strings, so a fast hash is enough).
   */
  async createToken(name: string, role: Role, createdBy: string): Promise<string> {
    const token = `aloft_${randomBytes(32).toString('base64url')}`;
    const taken = await this.redis.hsetnx(`${this.#tokens()}:names`, name, sha256(token));
    if (!taken) throw new Error(`a token named "${name}" exists already`);
    await this.redis.hset(this.#tokens(), sha256(token), JSON.stringify({ name, role, createdBy, createdAt: Date.now() }));
    return token;
  }

  async revokeToken(name: string): Promise<boolean> {
    const digest = await this.redis.hget(`${this.#tokens()}:names`, name);
    if (!digest) return false;
    await this.redis.multi().hdel(this.#tokens(), digest).hdel(`${this.#tokens()}:names`, name).exec();
    return true;
  }

  async listTokens(): Promise<{ name: string; role: Role; createdBy: string; createdAt: number }[]> {
    return Object.values(await this.redis.hgetall(this.#tokens()))
      .map((raw) => JSON.parse(raw) as { name: string; role: Role; createdBy: string; createdAt: number })
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Starts a session, and remembers this browser as one `user` signed in from (for 30 days
   * from the last sign-in), so that others' refused attempts do not lock it out.
   */
  async startSession(req: Request, res: Response, user: SessionUser): Promise<void> {
    const secure = isHttps(req);
    const token = randomBytes(32).toString('base64url');
    await this.redis.set(this.#session(token), JSON.stringify(user), 'EX', SESSION_TTL_S);
    res.cookie(COOKIE, token, { httpOnly: true, sameSite: 'lax', secure, maxAge: SESSION_TTL_S * 1000, path: '/' });
    const id = browserIdOf(req) ?? randomBytes(24).toString('base64url');
    await this.redis.set(this.#browser(user.username, id), '1', 'EX', BROWSER_TTL_S);
    res.cookie(BROWSER_COOKIE, id, { httpOnly: true, sameSite: 'lax', secure, maxAge: BROWSER_TTL_S * 1000, path: '/login' });
  }

  /** This browser's id when `username` signed in from it within the last 30 days, else undefined. */
  async knownBrowser(req: Request, username: string): Promise<string | undefined> {
    const id = browserIdOf(req);
    if (!id || !username) return undefined;
    return (await this.redis.exists(this.#browser(username, id))) ? sha256(id) : undefined;
  }

  async endSession(req: Request, res: Response): Promise<void> {
    const token = cookieOf(req, COOKIE);
    if (token) await this.redis.del(this.#session(token));
    res.clearCookie(COOKIE, { path: '/' });
  }

  /** Puts the signed-in user, or the API token's identity, on the request. */
  session() {
    return async (req: Request, res: Response, next: NextFunction) => {
      const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (bearer) {
        const raw = await this.redis.hget(this.#tokens(), sha256(bearer)).catch(() => null);
        if (!raw) {
          res.status(401).json({ error: 'unknown or revoked API token', field: 'authorization' });
          return;
        }
        const t = JSON.parse(raw) as { name: string; role: Role };
        req.user = { username: `token:${t.name}`, role: t.role };
        req.viaToken = true;
        return next();
      }
      const token = cookieOf(req, COOKIE);
      if (token) {
        const raw = await this.redis.get(this.#session(token)).catch(() => null);
        if (raw) req.user = JSON.parse(raw) as SessionUser;
      }
      next();
    };
  }
}

/** Pages send people to the sign-in page; API calls get 401/403 as JSON. */
export function requireRole(role: Role) {
  return (req: Request, res: Response, next: NextFunction) => {
    const wantsHtml = req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');
    if (!req.user) {
      if (wantsHtml) return res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
      return res.status(401).json({ error: 'sign in first', field: 'session' });
    }
    if (rank(req.user.role) < rank(role)) return res.status(403).json({ error: `this needs the ${role} role; you are ${req.user.role}`, field: 'role' });
    next();
  };
}

/**
 * CSRF protection for browser requests that change state: the Origin (or Referer) must be
 * this site. Cookies are SameSite=Lax as a second line.
 */
export function sameOrigin() {
  return (req: Request, res: Response, next: NextFunction) => {
    if (['GET', 'HEAD', 'OPTIONS'].includes(req.method) || req.viaToken) return next();
    const from = req.headers.origin ?? originOf(req.headers.referer);
    const self = `${isHttps(req) ? 'https' : 'http'}://${req.headers.host}`;
    if (!from || !safeEqual(from, self)) return res.status(403).json({ error: 'cross-site or unmarked request refused (CSRF protection)', field: 'origin' });
    next();
  };
}

/** Loopback, link-local and private addresses: where an ingress or a port-forward connects from. */
const PRIVATE_PEERS = new BlockList();
for (const [net, bits] of [
  ['127.0.0.0', 8],
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['169.254.0.0', 16],
] as const)
  PRIVATE_PEERS.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
] as const)
  PRIVATE_PEERS.addSubnet(net, bits, 'ipv6');

/**
 * Whether the user's connection is TLS: the dashboard's own, a listed proxy's
 * X-Forwarded-Proto (express's req.secure), or X-Forwarded-Proto from a loopback or
 * private peer such as the Ingress. Believing the last needs no listing: it only makes
 * cookies Secure and the CSRF check expect https, so a client gains nothing by forging it.
 * Where the client connects from (the sign-in throttle's address) is believed only from
 * listed proxies.
 */
export function isHttps(req: Request): boolean {
  if (req.secure) return true;
  const peer = (req.socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.)/, '');
  if (!peer || !PRIVATE_PEERS.check(peer, isIPv6(peer) ? 'ipv6' : 'ipv4')) return false;
  return (
    String(req.headers['x-forwarded-proto'] ?? '')
      .split(',')[0]!
      .trim() === 'https'
  );
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The origin of a Referer; one that is not a URL counts as no Referer (so the request is refused). */
function originOf(referer: string | undefined): string | undefined {
  if (!referer) return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    return undefined;
  }
}

/** The browser cookie when it has the shape Auth gives it; anything else is no browser id. */
function browserIdOf(req: Request): string | undefined {
  const id = cookieOf(req, BROWSER_COOKIE);
  return id && /^[A-Za-z0-9_-]{32}$/.test(id) ? id : undefined;
}

/** A cookie's value; one that is not valid percent-encoding counts as absent (not signed in). */
function cookieOf(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k !== name) continue;
    try {
      return decodeURIComponent(v.join('='));
    } catch {
      return undefined;
    }
  }
  return undefined;
}
