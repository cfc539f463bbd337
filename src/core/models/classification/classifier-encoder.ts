import { splitEmailHeaders } from '../tokenizers/email-headers';
import { NOT_ASCII, UNK_ID } from '../tokenizers/vocabulary';
import type { TokenTable, Vocabulary } from '../tokenizers/vocabulary';
import { MAX_TOKEN_CHARS } from '../tokenizers/word-tokenizer';

/** The `tokenizer` block of a text-classifier `config.json`. */
export interface ClassifierTokenizerConfig {
  /** Only `word` (see word-tokenizer.ts) is supported. */
  type: 'word';
  /** Lowercase tokens (default true). */
  lowercase?: boolean;
  /** Also emit an id for every adjacent word pair found in the vocabulary as `"w1 w2"` (default false). */
  bigrams?: boolean;
  /** Skip a leading RFC 5322 header block, keeping only its Subject (default false). */
  strip_email_headers?: boolean;
}

/*
 * The words are those of word-tokenizer.ts (`WORD_RE`: a run of letters, marks and digits, joined
 * by inner `' ’ . - ,`, or one of `$ € £ ¥ ! %`), cut to MAX_TOKEN_CHARS code units and lowercased,
 * but found by a scanner over char codes and looked up in the vocabulary's TokenTable where they
 * lie in the text: an ASCII word never becomes a string. Words with other characters take the
 * regex tokenizer's way (slice, toLowerCase, Map). test/unit/models/classifier-encoder.test.ts
 * holds the ids to those of the regex tokenizer (test/support/classifier-encoder-reference.ts)
 * and to the golden ids of every SpamAssassin message.
 */

const OTHER = 0;
const WORD = 1;
const JOIN = 2;
const SYMBOL = 3;

/** Class of each ASCII character. */
const ASCII_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[0-9A-Za-z]/.test(ch)) ASCII_CLASS[c] = WORD;
  else if ("'.-,".includes(ch)) ASCII_CLASS[c] = JOIN;
  else if ('$!%'.includes(ch)) ASCII_CLASS[c] = SYMBOL;
}

const WORD_CHAR = /^[\p{L}\p{M}\p{N}]$/u;
/** Class + 1 of each BMP code point met so far (0: not looked up yet). */
const BMP_CLASS = new Uint8Array(0x10000);
/** Class of each astral code point met so far. */
const ASTRAL_CLASS = new Map<number, number>();

function classOfCodePoint(cp: number): number {
  if (cp === 0x2019) return JOIN; // ’
  if (cp === 0x20ac || cp === 0xa3 || cp === 0xa5) return SYMBOL; // € £ ¥
  // A lone surrogate is no letter: the regex (flag u) sees it as a code point of its own, too.
  return WORD_CHAR.test(String.fromCodePoint(cp)) ? WORD : OTHER;
}

/**
 * The class of the code point at `text[i]` (`c` its first code unit, above 127) in the low two
 * bits, its width in code units (1 or 2, a surrogate pair) above them.
 */
function classAt(text: string, i: number, c: number): number {
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) {
      const cp = (c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000;
      let k = ASTRAL_CLASS.get(cp);
      if (k === undefined) {
        k = classOfCodePoint(cp);
        if (ASTRAL_CLASS.size < 65_536) ASTRAL_CLASS.set(cp, k);
      }
      return k | 8;
    }
  }
  let k = BMP_CLASS[c]!;
  if (k === 0) {
    k = classOfCodePoint(c) + 1;
    BMP_CLASS[c] = k;
  }
  return (k - 1) | 4;
}

/** End (exclusive) of the word {@link nextWord} found last. */
let wordEnd = 0;

/**
 * Start of the first word of `text` at or after `pos` (what `WORD_RE.exec` with `lastIndex = pos`
 * matches), its end in {@link wordEnd}; -1 when there is none.
 */
function nextWord(text: string, pos: number): number {
  const len = text.length;
  let i = pos;
  while (i < len) {
    const c = text.charCodeAt(i);
    const k = c < 128 ? ASCII_CLASS[c]! | 4 : classAt(text, i, c);
    const cls = k & 3;
    if (cls === WORD) {
      const start = i;
      i += k >> 2;
      while (i < len) {
        const c2 = text.charCodeAt(i);
        const k2 = c2 < 128 ? ASCII_CLASS[c2]! | 4 : classAt(text, i, c2);
        if ((k2 & 3) === WORD) {
          i += k2 >> 2;
          continue;
        }
        // A joiner belongs to the word only with a word character after it.
        if ((k2 & 3) === JOIN) {
          const j = i + (k2 >> 2);
          if (j < len) {
            const c3 = text.charCodeAt(j);
            const k3 = c3 < 128 ? ASCII_CLASS[c3]! | 4 : classAt(text, j, c3);
            if ((k3 & 3) === WORD) {
              i = j + (k3 >> 2);
              continue;
            }
          }
        }
        break;
      }
      wordEnd = i;
      return start;
    }
    if (cls === SYMBOL) {
      wordEnd = i + (k >> 2);
      return i;
    }
    i += k >> 2;
  }
  return -1;
}

/** The word `text[start, end)` as word-tokenizer.ts gives it: cut to MAX_TOKEN_CHARS, lowercased. */
function wordString(text: string, start: number, end: number, lowercase: boolean): string {
  const raw = text.slice(start, end - start > MAX_TOKEN_CHARS ? start + MAX_TOKEN_CHARS : end);
  return lowercase ? raw.toLowerCase() : raw;
}

function wordId(
  table: TokenTable,
  vocab: Vocabulary,
  text: string,
  start: number,
  end: number,
  lowercase: boolean,
): number {
  const cut = end - start > MAX_TOKEN_CHARS ? start + MAX_TOKEN_CHARS : end;
  const id = table.idOfAsciiRange(text, start, cut, lowercase);
  if (id === NOT_ASCII) return vocab.idOf(wordString(text, start, end, lowercase));
  return id < 0 ? UNK_ID : id;
}

/** Ids are written here first, then copied out at their count (one small allocation per text). */
let scratch = new Int32Array(1024);
/** The scratch buffer is kept only up to this many ids; longer encodings get a buffer of their own. */
const MAX_SCRATCH = 1 << 16;

/**
 * Turns a text into at most `maxLength` vocabulary ids: the words in order, each followed by the id
 * of the bigram it closes when that bigram is in the vocabulary. Unknown words map to `[UNK]`.
 * Returns an empty array when the text has no words.
 */
export function encodeClassifierText(
  text: string,
  vocab: Vocabulary,
  tokenizer: ClassifierTokenizerConfig,
  maxLength: number,
): Int32Array {
  const lowercase = tokenizer.lowercase ?? true;
  const bigrams = tokenizer.bigrams ?? false;
  const orphans = bigrams && vocab.hasOrphanBigrams;
  const table = vocab.tokenTable();
  // A word is at least one code unit of the text or of its subject (itself from the text) and
  // gives at most two ids.
  const capacity = Math.max(0, Math.min(maxLength, 4 * text.length + 4));
  if (capacity > scratch.length && capacity <= MAX_SCRATCH) scratch = new Int32Array(capacity);
  const ids = capacity <= scratch.length ? scratch : new Int32Array(capacity);
  let n = 0;
  let hasPrev = false;
  let prevId = 0;
  let prevText = '';
  let prevStart = 0;
  let prevEnd = 0;
  /** Appends the ids of the words of `source` from `pos` on, until `maxLength` ids. */
  const scan = (source: string, pos: number): void => {
    while (n < maxLength) {
      const start = nextWord(source, pos);
      if (start < 0) return;
      const end = wordEnd;
      pos = end;
      const id = wordId(table, vocab, source, start, end, lowercase);
      ids[n++] = id;
      if (bigrams && hasPrev && n < maxLength) {
        let pair = -1;
        if (prevId !== UNK_ID && id !== UNK_ID) pair = vocab.knownBigramId(prevId, id);
        else if (orphans) {
          pair =
            vocab.lookup(
              wordString(prevText, prevStart, prevEnd, lowercase) +
                ' ' +
                wordString(source, start, end, lowercase),
            ) ?? -1;
        }
        if (pair >= 0) ids[n++] = pair;
      }
      hasPrev = true;
      prevId = id;
      prevText = source;
      prevStart = start;
      prevEnd = end;
    }
  };
  let bodyStart = 0;
  if (tokenizer.strip_email_headers) {
    const parts = splitEmailHeaders(text);
    bodyStart = parts.bodyStart;
    // The subject's words come first, then the body's (a bigram may span the two).
    if (parts.subject) scan(parts.subject, 0);
  }
  scan(text, bodyStart);
  return ids.slice(0, n);
}
