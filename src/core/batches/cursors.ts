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

/** `Date.toISOString()` of a time Postgres' timestamptz holds (years 1000-9999 here: the API never made others). */
const ISO_MS = /^[1-9][0-9]{3}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z$/;
/** A batch id as `newId('bat')` makes it (`bat_` + base36), with some room. */
const BATCH_ID = /^bat_[0-9a-z]{1,60}$/;

export function decodeBatchCursor(cursor: string, name = 'after'): BatchListCursor {
  const v = decode('b', cursor, name);
  if (
    typeof v.c !== 'string' ||
    typeof v.i !== 'string' ||
    !ISO_MS.test(v.c) ||
    Number.isNaN(Date.parse(v.c)) ||
    new Date(v.c).toISOString() !== v.c ||
    !BATCH_ID.test(v.i)
  ) {
    throw new AppError('INVALID_REQUEST', `Invalid \`${name}\` cursor: pass back a value the API returned.`);
  }
  return { c: v.c, i: v.i };
}

/**
 * Cursor of a results listing: the input position (`seq`) of the last document returned, and the batch
 * it belongs to (a cursor of another batch is refused; cursors made before the batch was recorded in them
 * carry none and stay valid).
 */
export function encodeResultCursor(seq: number, batchId: string): string {
  return encode('r', { s: seq, b: batchId });
}

export function decodeResultCursor(cursor: string, batchId: string, name = 'after'): number {
  const v = decode('r', cursor, name);
  if (v.b !== undefined && v.b !== batchId) {
    throw new AppError('INVALID_REQUEST', `Invalid \`${name}\` cursor: it belongs to another batch.`, [
      { field: name, message: 'belongs to another batch' },
    ]);
  }
  // seq is a Postgres integer (int4): anything larger was not made by the API.
  if (typeof v.s !== 'number' || !Number.isInteger(v.s) || v.s < 0 || v.s > 2_147_483_647) {
    throw new AppError('INVALID_REQUEST', `Invalid \`${name}\` cursor: pass back a value the API returned.`);
  }
  return v.s;
}
