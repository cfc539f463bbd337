import type { Request } from 'express';
import { OpenAiError } from '../../../core/openai';

/** A query parameter given at most once, as a string (empty counts as absent). */
export function stringQuery(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') {
    throw new OpenAiError('INVALID_REQUEST', `Query parameter '${name}' must be given once.`, name);
  }
  return v;
}

/** An integer query parameter from `min` to `max`. */
export function intQuery(req: Request, name: string, min: number, max: number): number | undefined {
  const v = stringQuery(req, name);
  if (v === undefined) return undefined;
  const n = /^[0-9]{1,9}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new OpenAiError(
      'INVALID_REQUEST',
      `Invalid '${name}': integer below minimum value or out of range (${min} to ${max}).`,
      name,
      'invalid_value',
    );
  }
  return n;
}
