import { AppError } from '../errors';

/**
 * Cursor of `GET /v1/training_jobs`: base64url of `{k: "t", c: created_at, i: id}` of the last job
 * returned (opaque to clients; a cursor of another listing is refused with 400 INVALID_REQUEST).
 */

const ISO_MS = /^[1-9][0-9]{3}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z$/;
const JOB_ID = /^tj_[0-9a-z]{1,60}$/;

function bad(name: string): AppError {
  return new AppError('INVALID_REQUEST', `Invalid \`${name}\` cursor: pass back a value the API returned.`, [
    { field: name, message: 'is not a cursor the API returned' },
  ]);
}

export function encodeTrainingJobCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify({ k: 't', c: createdAt.toISOString(), i: id }), 'utf8').toString(
    'base64url',
  );
}

export function decodeTrainingJobCursor(cursor: string, name = 'after'): { c: string; i: string } {
  let v: Record<string, unknown>;
  try {
    if (!/^[A-Za-z0-9_-]{1,512}$/.test(cursor)) throw new Error('alphabet');
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw bad(name);
  }
  if (
    !v ||
    typeof v !== 'object' ||
    v.k !== 't' ||
    typeof v.c !== 'string' ||
    typeof v.i !== 'string' ||
    !ISO_MS.test(v.c) ||
    Number.isNaN(Date.parse(v.c)) ||
    new Date(v.c).toISOString() !== v.c ||
    !JOB_ID.test(v.i)
  ) {
    throw bad(name);
  }
  return { c: v.c, i: v.i };
}
