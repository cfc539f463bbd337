import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../core/errors';

/**
 * Strict reading of request URLs (issue 16): a path or query that is not valid percent-encoded UTF-8, or
 * that decodes to NUL, is refused with 400 INVALID_REQUEST before any route runs. Without this, Express
 * and `qs` decode such input leniently (`%FF` -> U+FFFD, `%ED%A0%80` -> a lone surrogate, `%` -> URIError
 * 500) and Postgres refuses NUL in text (22021): either a 500 or a value stored altered.
 *
 * Query parameters are also checked for prototype names (`__proto__`, `constructor`, `prototype`), which
 * `qs` drops silently; routes then refuse names they do not know with {@link allowQuery}.
 */

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Strict percent-decoding (and `+` as space in queries); null when not valid UTF-8 or when it holds NUL. */
export function strictDecode(raw: string, plusIsSpace: boolean): string | null {
  const s = plusIsSpace ? raw.replace(/\+/g, ' ') : raw;
  if (!s.includes('%')) return s.includes('\u0000') ? null : s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i += 1) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      // A raw non-ASCII character in the URL (Node hands it over as latin1-decoded bytes): encode as UTF-8.
      for (const b of Buffer.from(s[i]!, 'utf8')) bytes.push(b);
    }
  }
  let out: string;
  try {
    out = decoder.decode(Uint8Array.from(bytes));
  } catch {
    return null;
  }
  return out.includes('\u0000') ? null : out;
}

const PROTOTYPE_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

/** The query parameters as sent, strictly decoded, in order; throws 400 INVALID_REQUEST on bad input. */
export function rawQuery(req: Request): [string, string][] {
  const url = req.originalUrl;
  const q = url.indexOf('?');
  if (q < 0) return [];
  const out: [string, string][] = [];
  for (const part of url.slice(q + 1).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? '' : part.slice(eq + 1);
    const key = strictDecode(rawKey, true);
    const value = key === null ? null : strictDecode(rawValue, true);
    if (key === null || value === null) {
      throw new AppError(
        'INVALID_REQUEST',
        'A query parameter is not valid percent-encoded UTF-8 or contains NUL.',
        [{ field: key ?? rawKey.slice(0, 64), message: 'must be percent-encoded UTF-8 without NUL' }],
      );
    }
    out.push([key, value]);
  }
  return out;
}

/** Middleware: refuses a URL whose path or query is not strict UTF-8 or holds NUL, and prototype-named parameters. */
export function strictUrl() {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const url = req.originalUrl;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (strictDecode(path, false) === null) {
      next(
        new AppError('INVALID_REQUEST', 'The URL path is not valid percent-encoded UTF-8 or contains NUL.', [
          { field: 'path', message: 'must be percent-encoded UTF-8 without NUL' },
        ]),
      );
      return;
    }
    try {
      for (const [key] of rawQuery(req)) {
        if (PROTOTYPE_NAMES.has(key)) {
          throw new AppError('INVALID_REQUEST', `Unknown query parameter \`${key}\`.`, [
            { field: key, message: 'unknown query parameter' },
          ]);
        }
      }
    } catch (err) {
      next(err);
      return;
    }
    next();
  };
}

/** Refuses query parameters a route does not know (400 INVALID_REQUEST naming them). */
export function allowQuery(req: Request, allowed: readonly string[]): void {
  const unknown = [...new Set(rawQuery(req).map(([k]) => k))].filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new AppError(
      'INVALID_REQUEST',
      `Unknown query parameter(s): ${unknown.map((k) => `\`${k}\``).join(', ')}${allowed.length ? `; this route takes ${allowed.join(', ')}` : '; this route takes none'}.`,
      unknown.map((k) => ({ field: k, message: 'unknown query parameter' })),
    );
  }
}
