/**
 * Word tokenizer shared by the classification and summarization runtimes.
 *
 * Built for long documents: it scans with one sticky-free global regex from the start of the text and
 * stops as soon as it has `maxTokens` words, so a 100,000-character document costs only as much as the
 * prefix that is actually used. Lowercasing and length capping happen per token, never on the whole text.
 */

/**
 * A word is a run of letters, combining marks and digits (any script), optionally joined by inner
 * apostrophes, dots, hyphens or commas (`don't`, `u.s`, `e-mail`, `3.14`, `1,000`); `$ € £ ¥ ! %` are
 * tokens of their own because they carry signal for classification.
 */
const WORD_RE = /[\p{L}\p{M}\p{N}]+(?:['’.\-,][\p{L}\p{M}\p{N}]+)*|[$€£¥!%]/gu;

/** Tokens longer than this (base64 blobs, hashes) are cut, so one token never dominates memory. */
export const MAX_TOKEN_CHARS = 32;

export interface WordTokenizeOptions {
  /** Stop after this many tokens (default: no limit). */
  maxTokens?: number;
  /** Lowercase each token (default true). */
  lowercase?: boolean;
  /** Character offset to start scanning at (default 0). */
  start?: number;
  /** Character offset to stop scanning at (default: end of text). */
  end?: number;
}

function normalize(raw: string, lowercase: boolean): string {
  const cut = raw.length > MAX_TOKEN_CHARS ? raw.slice(0, MAX_TOKEN_CHARS) : raw;
  return lowercase ? cut.toLowerCase() : cut;
}

/** Returns the words of `text` (see {@link WORD_RE}), at most `maxTokens` of them. */
export function tokenizeWords(text: string, options: WordTokenizeOptions = {}): string[] {
  const { maxTokens = Number.POSITIVE_INFINITY, lowercase = true, start = 0, end = text.length } = options;
  const out: string[] = [];
  if (maxTokens <= 0) return out;
  const re = new RegExp(WORD_RE.source, WORD_RE.flags);
  re.lastIndex = start;
  for (let m = re.exec(text); m !== null && m.index < end; m = re.exec(text)) {
    const raw = m.index + m[0].length > end ? m[0].slice(0, end - m.index) : m[0];
    out.push(normalize(raw, lowercase));
    if (out.length >= maxTokens) break;
  }
  return out;
}
