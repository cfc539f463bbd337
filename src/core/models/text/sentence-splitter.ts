/**
 * The project's one rule-based English sentence splitter, used by the extractive summarizer (spans into
 * the original text, `sentence_indices` count these spans) and by the translator's segmenter.
 *
 * A boundary is a run of `.`, `!`, `?` or `…` (optionally followed by closing quotes or brackets)
 * followed by whitespace and then something that can start a sentence (an upper-case letter, a digit,
 * an opening quote or bracket), or the end of the text; a blank line is always a boundary. A terminator
 * directly followed by a dash (`--`, `—`, `–`) and such a start is a boundary too (`often been.--Mr.
 * Knightley's words` splits after `been.`); the dash belongs to neither sentence. A period is not a
 * boundary after:
 * - a title that precedes a name (`Mr.`, `Dr.`, `Gen.` ...) or a Latin abbreviation (`e.g.`, `i.e.`, `cf.`),
 *   also when a dash precedes the title (`--Mr.`),
 * - a single-letter initial (`J. Smith`; a lone upper-case `I` is the pronoun, not an initial),
 * - another abbreviation (`U.S.`, `Inc.`, `etc.`, `a.m.`, `Jan.` ...) unless the next word is a common
 *   sentence opener (`U.S. The next ...`).
 * Decimals (`3.14`) and inner dots (`www.example.com`) never match because no whitespace follows the dot.
 * An ellipsis is a boundary only before an upper-case start.
 *
 * Dialogue:
 * - a closing quote after the terminator stays with its sentence (`He said, "Stop!"`), and a lower-case
 *   word after it continues the sentence (`"Oh!" said she.` is one sentence);
 * - a one-word exclamation does not end a sentence (`"Oh! Mr. Knightley, how could you?"` stays whole);
 * - with `maxQuotedChars` > 0, a boundary inside an open double quote (straight `"` or curly `“ ”`,
 *   counted from the last blank line) is skipped when the quote closes in the same paragraph within
 *   `maxQuotedChars` characters of the sentence start, so a short multi-sentence speech is one sentence
 *   rather than fragments with unbalanced quotes. A quote that never closes in its paragraph (novels open
 *   each paragraph of a long speech without closing the previous one) does not hold boundaries back.
 *
 * Scans left to right and stops after `maxSentences` sentences or `maxChars` characters, so the cost is
 * bounded by what the caller will use.
 */

export interface SentenceSpan {
  /** Offset of the first character (inclusive). */
  start: number;
  /** Offset after the last character (exclusive). */
  end: number;
}

export interface SplitOptions extends SentenceOptions {
  /** Stop after this many sentences (default unlimited). */
  maxSentences?: number;
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

/**
 * Candidate terminators: punctuation run + closing quotes/brackets, then whitespace or end of text; or
 * the same directly followed by a dash and a non-space; or a blank line.
 */
const TERMINATOR = /[.!?…]+["'”’)\]]*(?=\s|$|(?:--|[—–])[^\s-])|\n[ \t]*\n/g;
const STARTS_SENTENCE = /^["'“‘([]*[\p{Lu}\p{N}]/u;
const HAS_WORD = /[\p{L}\p{N}]/u;
const DASH = /[-—–]/;
const PARAGRAPH = /\n[ \t]*\n/g;
const WORD_RUN = /[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu;
/** Default of `maxQuotedChars` for `iterateSentences` / `splitSentences`. */
export const DEFAULT_MAX_QUOTED_CHARS = 400;

export interface SentenceOptions {
  /** Ignore text beyond this offset (default: whole text). */
  maxChars?: number;
  /**
   * Longest sentence (in characters) kept whole to avoid splitting inside an open double quote
   * (default 400); 0 splits inside quotes like anywhere else.
   */
  maxQuotedChars?: number;
}

function wordBefore(text: string, dot: number, from: number): string {
  let i = dot;
  while (i > from && !/\s/.test(text[i - 1]!) && !'("\'“‘[—–-'.includes(text[i - 1]!)) i--;
  return text.slice(i, dot);
}

function nextWord(text: string, from: number, limit: number): string {
  let i = from;
  while (i < limit && /\s/.test(text[i]!)) i++;
  const start = i;
  while (i < limit && /[\p{L}\p{N}'’]/u.test(text[i]!)) i++;
  return text.slice(start, i);
}

function countWords(text: string): number {
  return text.match(WORD_RUN)?.length ?? 0;
}

function isBoundary(text: string, match: string, index: number, from: number, limit: number): boolean {
  if (match.includes('\n')) return true;
  const afterEnd = index + match.length;
  let next = afterEnd;
  while (next < limit && (/\s/.test(text[next]!) || DASH.test(text[next]!))) next++;
  if (next >= limit) return true;
  const rest = text.slice(next, Math.min(limit, next + 8));
  if (!STARTS_SENTENCE.test(rest)) return false;
  const punct = match.replace(/["'”’)\]]+$/, '');
  if (punct === '!' && countWords(text.slice(from, index)) === 1) return false; // "Oh! Mr. Knightley"
  if (punct !== '.') return true; // !, ?, ellipsis (followed by a capital), "?!" ...
  const word = wordBefore(text, index, from);
  const bare = word.replace(/^[^\p{L}\p{N}]+/u, '').toLowerCase();
  if (bare.length === 0) return true;
  if (NEVER_FINAL.has(bare)) return false;
  if (/^\p{L}$/u.test(bare)) return word.endsWith('I'); // initial "J. Smith"; "I." is the pronoun
  if (MAYBE_FINAL.has(bare) || /^(?:\p{L}\.)+\p{L}$/u.test(bare)) {
    return OPENERS.has(nextWord(text, afterEnd, limit).toLowerCase());
  }
  return true;
}

function trimSpan(text: string, start: number, end: number): SentenceSpan | undefined {
  let s = start;
  let e = end;
  while (s < e && (/\s/.test(text[s]!) || DASH.test(text[s]!))) s++;
  while (e > s && /\s/.test(text[e - 1]!)) e--;
  if (s >= e || !HAS_WORD.test(text.slice(s, e))) return undefined;
  return { start: s, end: e };
}

/**
 * Double-quote state, scanned incrementally left to right: whether a quote is open at a position, and
 * where the next quote mark and the next paragraph break are (cached, so the whole scan stays linear).
 */
class QuoteTracker {
  private pos = 0;
  private open = false;
  private nextQuote = -1;
  private nextParagraph = -1;

  constructor(
    private readonly text: string,
    private readonly limit: number,
  ) {}

  /** Whether a double quote is open just before `to` (to >= every earlier call's `to`). */
  openAt(to: number): boolean {
    const { text } = this;
    for (; this.pos < to; this.pos++) {
      const c = text[this.pos]!;
      if (c === '"') this.open = !this.open;
      else if (c === '“') this.open = true;
      else if (c === '”') this.open = false;
      else if (c === '\n') {
        let j = this.pos + 1;
        while (j < text.length && (text[j] === ' ' || text[j] === '\t')) j++;
        if (text[j] === '\n') this.open = false; // a blank line closes every quote
      }
    }
    return this.open;
  }

  /** Offset of the first quote mark at or after `from` if it comes before the next blank line, else -1. */
  closingBeforeParagraphEnd(from: number): number {
    if (this.nextQuote < from) {
      let q = this.limit;
      for (let i = from; i < this.limit; i++) {
        const c = this.text[i]!;
        if (c === '"' || c === '”' || c === '“') {
          q = i;
          break;
        }
      }
      this.nextQuote = q;
    }
    if (this.nextParagraph < from) {
      const re = new RegExp(PARAGRAPH.source, 'g');
      re.lastIndex = from;
      const m = re.exec(this.text);
      this.nextParagraph = m === null ? this.text.length : m.index;
    }
    return this.nextQuote < this.limit && this.nextQuote < this.nextParagraph ? this.nextQuote : -1;
  }
}

/** Yields the sentence spans of `text` left to right (see the module comment for the rules); stop early freely. */
export function* iterateSentences(
  text: string,
  maxCharsOrOptions: number | SentenceOptions = {},
): Generator<SentenceSpan> {
  const options = typeof maxCharsOrOptions === 'number' ? { maxChars: maxCharsOrOptions } : maxCharsOrOptions;
  const limit = Math.min(text.length, options.maxChars ?? text.length);
  const maxQuoted = options.maxQuotedChars ?? DEFAULT_MAX_QUOTED_CHARS;
  const quotes = new QuoteTracker(text, limit);
  const re = new RegExp(TERMINATOR.source, TERMINATOR.flags);
  let start = 0;
  for (let m = re.exec(text); m !== null && m.index < limit; m = re.exec(text)) {
    if (!isBoundary(text, m[0], m.index, start, limit)) continue;
    const paragraph = m[0].includes('\n');
    const after = m.index + m[0].length;
    if (!paragraph && maxQuoted > 0 && quotes.openAt(after)) {
      const close = quotes.closingBeforeParagraphEnd(after);
      if (close >= 0 && close - start < maxQuoted) continue;
    }
    const end = paragraph ? m.index : after;
    const span = trimSpan(text, start, end);
    if (span) yield span;
    start = after;
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
  for (const span of iterateSentences(text, options)) {
    out.push(span);
    if (out.length >= maxSentences) break;
  }
  return out;
}

/** Lower-cased abbreviations (without the final period) after which a period never ends a sentence. */
export function isNeverFinalAbbreviation(word: string): boolean {
  return NEVER_FINAL.has(word.toLowerCase());
}
