import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** Random base36 string of `len` characters from a CSPRNG. */
export function randomId(len = 24): string {
  const bytes = randomBytes(len);
  let out = '';
  for (let i = 0; i < len; i++) out += ALPHABET[(bytes[i] ?? 0) % 36];
  return out;
}

/**
 * Prefixed, time-ordered id: `<prefix>_<10 chars of ms timestamp in base36><random>`. Sorting ids
 * sorts by creation time, which keeps index inserts at the right edge of the btree.
 */
export function newId(prefix: 'bat' | 'ten' | 'key' | 'whd' | 'tj', randomLen = 14): string {
  return `${prefix}_${Date.now().toString(36).padStart(10, '0')}${randomId(randomLen)}`;
}
