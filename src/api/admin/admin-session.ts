import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Stateless admin sessions. The cookie value is `v1.<expiresAtSeconds>.<nonce>.<signature>`, the
 * signature an HMAC-SHA256 over the rest with a key derived from `ADMIN_TOKEN`, so changing the
 * token logs every session out. The CSRF token of a session is an HMAC of its nonce: it is tied to
 * that session and cannot be forged without the key. All comparisons are constant-time.
 */

/** Name of the session cookie (scoped to `/admin`). */
export const SESSION_COOKIE = 'docbatch_admin';
/** How long a session lasts after login, seconds (8 hours). */
export const SESSION_TTL_SECONDS = 8 * 3600;

export interface AdminSession {
  /** Random per-login value; the CSRF token derives from it. */
  nonce: string;
  /** Unix seconds. */
  expiresAt: number;
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Constant-time string equality (hashing first makes lengths equal and hides them). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

export class AdminSessions {
  private readonly key: Buffer;

  constructor(
    private readonly adminToken: string,
    private readonly ttlSeconds = SESSION_TTL_SECONDS,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.key = createHmac('sha256', adminToken).update('docbatch-admin-session-v1').digest();
  }

  /** True when `candidate` is the admin token. */
  checkToken(candidate: string): boolean {
    return safeEqual(candidate, this.adminToken);
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }

  /** A new session and its cookie value. */
  issue(): { session: AdminSession; cookie: string } {
    const session: AdminSession = {
      nonce: randomBytes(18).toString('base64url'),
      expiresAt: Math.floor(this.now() / 1000) + this.ttlSeconds,
    };
    const payload = `v1.${session.expiresAt}.${session.nonce}`;
    return { session, cookie: `${payload}.${this.sign(payload)}` };
  }

  /** The session a cookie value carries, or null when it is malformed, forged or expired. */
  verify(cookie: string | undefined): AdminSession | null {
    if (!cookie || cookie.length > 200) return null;
    const parts = cookie.split('.');
    if (parts.length !== 4 || parts[0] !== 'v1') return null;
    const [, exp, nonce, sig] = parts as [string, string, string, string];
    if (!safeEqual(sig, this.sign(`v1.${exp}.${nonce}`))) return null;
    const expiresAt = Number(exp);
    if (!Number.isInteger(expiresAt) || expiresAt * 1000 <= this.now()) return null;
    return { nonce, expiresAt };
  }

  /** The CSRF token of a session. */
  csrfToken(session: AdminSession): string {
    return createHmac('sha256', this.key).update(`csrf.${session.nonce}`).digest('base64url');
  }

  /** True when `token` is the CSRF token of `session`. */
  checkCsrf(session: AdminSession, token: unknown): boolean {
    return typeof token === 'string' && safeEqual(token, this.csrfToken(session));
  }
}
