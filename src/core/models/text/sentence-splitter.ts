/**
 * Rule-based English sentence splitter for extractive summarization.
 *
 * A boundary is a run of `.`, `!`, `?` or `…` (optionally followed by closing quotes or brackets)
 * followed by whitespace and then something that can start a sentence (an upper-case letter, a digit,
 * an opening quote or bracket), or the end of the text; a blank line is always a boundary. A period is
 * not a boundary after:
 * - a title that precedes a name (`Mr.`, `Dr.`, `Gen.` ...) or a Latin abbreviation (`e.g.`, `i.e.`, `cf.`),
 * - a single-letter initial (`J. Smith`),
 * - another abbreviation (`U.S.`, `Inc.`, `etc.`, `a.m.`, `Jan.` ...) unless the next word is a common
 *   sentence opener (`U.S. The next ...`).
 * Decimals (`3.14`) and inner dots (`www.example.com`) never match because no whitespace follows the dot.
 * An ellipsis is a boundary only before an upper-case start.
 *
 * Scans left to right and stops after `maxSentences` sentences or `maxChars` characters, so the cost is
 * bounded by what the summarizer will use.
 */

export interface SentenceSpan {
  /** Offset of the first character (inclusive). */
  start: number;
  /** Offset after the last character (exclusive). */
  end: number;
}

export interface SplitOptions {
  /** Stop after this many sentences (default unlimited). */
  maxSentences?: number;
  /** Ignore text beyond this offset (default: whole text). */
  maxChars?: number;
}

/** Abbreviations after which a period never ends a sentence (lower case, without the final period). */
const NEVER_FINAL = new Set([
  'mr',
  'mrs',
  'ms',
  'messrs',
  'mme',
  'dr',
  'prof',
  'rev',
  'hon',
  'gen',
  'col',
  'lt',
  'capt',
  'cmdr',
  'sgt',
  'maj',
  'adm',
  'gov',
  'sen',
  'rep',
  'pres',
  'supt',
  'st',
  'mt',
  'ft',
  'fr',
  'sr',
  'jr',
  'e.g',
  'i.e',
  'cf',
  'viz',
  'vs',
  'v',
  'no',
  'nos',
  'art',
  'fig',
  'figs',
  'vol',
  'vols',
  'pp',
  'p',
  'ch',
  'approx',
  'est',
  'dept',
  'univ',
  'assn',
  'bros',
  'ave',
  'blvd',
  'rd',
]);

/** Abbreviations that may end a sentence; they do only when the next word is a common sentence opener. */
const MAYBE_FINAL = new Set([
  'u.s',
  'u.s.a',
  'u.k',
  'u.n',
  'd.c',
  'a.m',
  'p.m',
  'etc',
  'inc',
  'ltd',
  'co',
  'corp',
  'llc',
  'plc',
  'al',
  'jan',
  'feb',
  'mar',
  'apr',
  'jun',
  'jul',
  'aug',
  'sep',
  'sept',
  'oct',
  'nov',
  'dec',
  'mon',
  'tue',
  'tues',
  'wed',
  'thu',
  'thurs',
  'fri',
  'sat',
  'sun',
  'ph.d',
  'b.a',
  'm.a',
  'a.d',
  'b.c',
]);

const OPENERS = new Set([
  'a',
  'after',
  'all',
  'also',
  'an',
  'and',
  'as',
  'at',
  'but',
  'by',
  'for',
  'from',
  'he',
  'her',
  'here',
  'his',
  'however',
  'i',
  'if',
  'in',
  'it',
  'its',
  'let',
  'many',
  'most',
  'my',
  'now',
  'of',
  'on',
  'one',
  'our',
  'she',
  'so',
  'some',
  'that',
  'the',
  'their',
  'then',
  'there',
  'these',
  'they',
  'this',
  'those',
  'thus',
  'to',
  'today',
  'tonight',
  'we',
  'what',
  'when',
  'where',
  'while',
  'with',
  'yet',
  'you',
  'your',
]);

/** Candidate terminators: punctuation run + closing quotes/brackets, then whitespace or end of text. */
const TERMINATOR = /[.!?…]+["'”’)\]]*(?=\s|$)|\n[ \t]*\n/g;
const STARTS_SENTENCE = /^["'“‘([]*[\p{Lu}\p{N}]/u;
const HAS_WORD = /[\p{L}\p{N}]/u;

function wordBefore(text: string, dot: number, from: number): string {
  let i = dot;
  while (i > from && !/\s/.test(text[i - 1]!) && !'("\'“‘[—–'.includes(text[i - 1]!)) i--;
  return text.slice(i, dot);
}

function nextWord(text: string, from: number, limit: number): string {
  let i = from;
  while (i < limit && /\s/.test(text[i]!)) i++;
  const start = i;
  while (i < limit && /[\p{L}\p{N}'’]/u.test(text[i]!)) i++;
  return text.slice(start, i);
}

function isBoundary(text: string, match: string, index: number, from: number, limit: number): boolean {
  if (match.includes('\n')) return true;
  const afterEnd = index + match.length;
  let next = afterEnd;
  while (next < limit && /\s/.test(text[next]!)) next++;
  if (next >= limit) return true;
  const rest = text.slice(next, Math.min(limit, next + 8));
  if (!STARTS_SENTENCE.test(rest)) return false;
  const punct = match.replace(/["'”’)\]]+$/, '');
  if (punct !== '.') return true; // !, ?, ellipsis (followed by a capital), "?!" ...
  const word = wordBefore(text, index, from);
  const bare = word.replace(/^[^\p{L}\p{N}]+/u, '').toLowerCase();
  if (bare.length === 0) return true;
  if (NEVER_FINAL.has(bare)) return false;
  if (/^\p{L}$/u.test(bare)) return false; // initial: "J. Smith"
  if (MAYBE_FINAL.has(bare) || /^(?:\p{L}\.)+\p{L}$/u.test(bare)) {
    return OPENERS.has(nextWord(text, afterEnd, limit).toLowerCase());
  }
  return true;
}

function trimSpan(text: string, start: number, end: number): SentenceSpan | undefined {
  let s = start;
  let e = end;
  while (s < e && /\s/.test(text[s]!)) s++;
  while (e > s && /\s/.test(text[e - 1]!)) e--;
  if (s >= e || !HAS_WORD.test(text.slice(s, e))) return undefined;
  return { start: s, end: e };
}

/** Yields the sentence spans of `text` left to right (see the module comment for the rules); stop early freely. */
export function* iterateSentences(text: string, maxChars = text.length): Generator<SentenceSpan> {
  const limit = Math.min(text.length, maxChars);
  const re = new RegExp(TERMINATOR.source, TERMINATOR.flags);
  let start = 0;
  for (let m = re.exec(text); m !== null && m.index < limit; m = re.exec(text)) {
    if (!isBoundary(text, m[0], m.index, start, limit)) continue;
    const end = m[0].includes('\n') ? m.index : m.index + m[0].length;
    const span = trimSpan(text, start, end);
    if (span) yield span;
    start = m.index + m[0].length;
  }
  if (start < limit) {
    const span = trimSpan(text, start, limit);
    if (span) yield span;
  }
}

/** Splits `text` into sentence spans (see the module comment for the rules). */
export function splitSentences(text: string, options: SplitOptions = {}): SentenceSpan[] {
  const maxSentences = options.maxSentences ?? Number.POSITIVE_INFINITY;
  const out: SentenceSpan[] = [];
  if (maxSentences <= 0) return out;
  for (const span of iterateSentences(text, options.maxChars)) {
    out.push(span);
    if (out.length >= maxSentences) break;
  }
  return out;
}
