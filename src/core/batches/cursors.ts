import { AppError } from '../errors';

/**
 * Opaque pagination cursors: base64url of a small JSON value with a kind tag, so a cursor of one
 * listing is refused by another. Clients must treat them as opaque; a bad one is 400 INVALID_REQUEST.
 */

export interface BatchListCursor {
  /** created_at of the last batch returned, ISO. */
  c: string;
  /** id of the last batch returned. */
  i: string;
}

function encode(kind: string, value: object): string {
  return Buffer.from(JSON.stringify({ k: kind, ...value }), 'utf8').toString('base64url');
}

function decode(kind: string, cursor: string, name: string): Record<string, unknown> {
  try {
    if (!/^[A-Za-z0-9_-]{1,512}$/.test(cursor)) throw new Error('bad alphabet');
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (!v || typeof v !== 'object' || v.k !== kind) throw new Error('wrong kind');
    return v;
  } catch {
    throw new AppError('INVALID_REQUEST', `Invalid \`${name}\` cursor: pass back a value the API returned.`);
  }
}

export function encodeBatchCursor(createdAt: Date, id: string): string {
  return encode('b', { c: createdAt.toISOString(), i: id });
}

export function decodeBatchCursor(cursor: string, name = 'after'): BatchListCursor {
  const v = decode('b', cursor, name);
  if (typeof v.c !== 'string' || typeof v.i !== 'string' || Number.isNaN(Date.parse(v.c))) {
    throw new AppError('INVALID_REQUEST', `Invalid \`${name}\` cursor: pass back a value the API returned.`);
  }
  return { c: v.c, i: v.i };
}

/** Cursor of a results listing: the input position (`seq`) of the last document returned. */
export function encodeResultCursor(seq: number): string {
  return encode('r', { s: seq });
}

export function decodeResultCursor(cursor: string, name = 'after'): number {
  const v = decode('r', cursor, name);
  if (typeof v.s !== 'number' || !Number.isInteger(v.s) || v.s < 0) {
    throw new AppError('INVALID_REQUEST', `Invalid \`${name}\` cursor: pass back a value the API returned.`);
  }
  return v.s;
}
