import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError } from '../../core/errors';
import type { AdminSession, AdminSessions } from './admin-session';
import { SESSION_COOKIE } from './admin-session';

/**
 * Who is calling the dashboard. A browser holds a session cookie (set by the login form); a script
 * may send `Authorization: Bearer <ADMIN_TOKEN>` instead. Browsers never attach a bearer header on
 * their own, so bearer calls need no CSRF token; cookie calls that change state do.
 */
export type AdminPrincipal = { via: 'cookie'; session: AdminSession } | { via: 'bearer' };

/** Parses the Cookie header (no dependency; values are not URL-decoded: ours never need it). */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The authenticated principal of a request, or null. */
export function principalOf(req: Request, sessions: AdminSessions): AdminPrincipal | null {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) {
    return sessions.checkToken(auth.slice(7).trim()) ? { via: 'bearer' } : null;
  }
  const session = sessions.verify(readCookie(req, SESSION_COOKIE));
  return session ? { via: 'cookie', session } : null;
}

/** The principal `requireAdmin` stored on the response. */
export function adminOf(res: Response): AdminPrincipal {
  const p = res.locals.admin as AdminPrincipal | undefined;
  if (!p) throw new Error('adminOf() called on a route without requireAdmin');
  return p;
}

/** The CSRF token to embed in forms ('' for bearer calls, which need none). */
export function csrfTokenOf(res: Response, sessions: AdminSessions): string {
  const p = adminOf(res);
  return p.via === 'cookie' ? sessions.csrfToken(p.session) : '';
}

/**
 * Refuses unauthenticated requests with 401. `onRefused` renders the refusal (the login form for a
 * browser page, a JSON error for API calls).
 */
export function requireAdmin(
  sessions: AdminSessions,
  onRefused: (req: Request, res: Response) => void,
): RequestHandler {
  return (req, res, next) => {
    const principal = principalOf(req, sessions);
    if (!principal) {
      onRefused(req, res);
      return;
    }
    res.locals.admin = principal;
    res.set('Cache-Control', 'no-store');
    next();
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * True when a state-changing browser request comes from a page of this server: the host of its
 * `Origin` (or, failing that, its `Referer`) must be the host the request was addressed to. Only
 * the host is compared, so a TLS-terminating proxy in front (the API sees plain HTTP) still works.
 * A request with neither header is refused.
 */
export function sameOrigin(req: Request): boolean {
  const host = req.get('host');
  const source = req.get('origin') ?? req.get('referer');
  if (!host || !source || source === 'null') return false;
  try {
    return new URL(source).host === host;
  } catch {
    return false;
  }
}

/**
 * CSRF protection for state-changing requests made with the session cookie: same Origin, and (when
 * `requireToken`) the session's CSRF token in the `_csrf` form field or the `X-CSRF-Token` header.
 * The cookie is also `SameSite=Strict`, so cross-site requests do not carry it at all. bull-board's
 * own JSON API cannot carry our token; there the Origin check, SameSite and its JSON-only body
 * parser (a cross-site form cannot send `application/json`) protect it.
 */
export function csrfProtection(sessions: AdminSessions, requireToken: boolean): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const p = adminOf(res);
    if (p.via === 'bearer') return next();
    if (!sameOrigin(req)) {
      return next(new AppError('FORBIDDEN', 'Cross-origin request refused: use the dashboard page.'));
    }
    if (requireToken) {
      const body = req.body as Record<string, unknown> | undefined;
      const token = body?._csrf ?? req.get('x-csrf-token');
      if (!sessions.checkCsrf(p.session, token)) {
        return next(
          new AppError('FORBIDDEN', 'Missing or invalid CSRF token: reload the page and try again.'),
        );
      }
    }
    next();
  };
}

/**
 * Slows down token guessing: at most `maxFailures` failed logins per client address per window.
 * In memory, per API process.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly maxFailures = 10,
    private readonly windowMs = 5 * 60_000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Seconds until `key` may try again, or 0 when it may now. */
  retryAfter(key: string): number {
    const entry = this.failures.get(key);
    if (!entry) return 0;
    const t = this.now();
    if (entry.resetAt <= t) {
      this.failures.delete(key);
      return 0;
    }
    return entry.count >= this.maxFailures ? Math.ceil((entry.resetAt - t) / 1000) : 0;
  }

  fail(key: string): void {
    const t = this.now();
    if (this.failures.size > 10_000) {
      for (const [k, v] of this.failures) if (v.resetAt <= t) this.failures.delete(k);
    }
    const entry = this.failures.get(key);
    if (!entry || entry.resetAt <= t) this.failures.set(key, { count: 1, resetAt: t + this.windowMs });
    else entry.count++;
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }
}

/** Where to go after login: a path under /admin only (never another host). */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string') return '/admin';
  if (!/^\/admin(?:[/?][A-Za-z0-9_\-./?=&%:+~]*)?$/.test(next) || next.includes('//')) return '/admin';
  return next;
}
