/**
 * Strings Postgres cannot store as sent (issue 16): NUL (U+0000, refused by `text` and `jsonb`) and lone
 * UTF-16 surrogates (JSON's `"\ud800"`, which UTF-8 cannot encode: Node would store U+FFFD instead, so two
 * different ids could collide). Such values are refused with the field that holds them, never altered.
 * The six characters `\u0000` written as text (an escaped backslash in JSON) are ordinary text.
 */

/** A high surrogate not followed by a low one, or a low one not preceded by a high one (UTF-16 code units). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What is wrong with a string, or null when it can be stored exactly. */
export function badString(s: string): string | null {
  if (s.includes('\u0000')) return 'must not contain NUL (\\u0000) characters';
  if (LONE_SURROGATE.test(s))
    return 'must not contain lone UTF-16 surrogates (\\ud800-\\udfff without a pair)';
  return null;
}

/**
 * The first string (object key or value, any depth) of a JSON value that cannot be stored exactly, with
 * its path (`metadata.a.0`), or null. Iterative: safe on any depth.
 */
export function findBadString(value: unknown, root: string): { field: string; message: string } | null {
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      const problem = badString(v);
      if (problem) return { field: path, message: problem };
    } else if (v !== null && typeof v === 'object') {
      for (const key of Object.keys(v)) {
        const problem = badString(key);
        if (problem) return { field: path || key, message: `keys ${problem}` };
        stack.push([(v as Record<string, unknown>)[key], path ? `${path}.${key}` : key]);
      }
    }
  }
  return null;
}
