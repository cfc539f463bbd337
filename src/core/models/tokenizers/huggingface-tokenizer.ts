import {
  NFCNormalizer,
  NFDNormalizer,
  NFKCNormalizer,
  NFKDNormalizer,
  PrecompiledNormalizer,
  ReplaceNormalizer,
  ReplacePreTokenizer,
  SplitPreTokenizer,
  StripAccentsNormalizer,
  Tokenizer,
} from '@huggingface/tokenizers';
import { loadFailed } from '../model-errors';
import type { TextTokenizer, TokenizedText } from './text-tokenizer';

/*
 * A Hugging Face `tokenizers` tokenizer.json, run by the maintained pure-JS library
 * @huggingface/tokenizers (models, added-token matching, BPE merges, byte-level mapping), with the
 * parts where that library differs from the Rust `tokenizers` library that Python uses replaced
 * by exact ports of the Rust behaviour (each difference was found with the golden fixtures in
 * test/fixtures/tokenizers, written by Python `tokenizers`):
 *
 * - Normalizers `BertNormalizer` and `Lowercase`: Rust lowercases character by character (a final
 *   `Σ` becomes `σ`; JavaScript's `toLowerCase()` applies Final_Sigma and gives `ς`); Rust's
 *   `handle_chinese_chars` also isolates CJK characters outside the BMP (the library looks at
 *   UTF-16 units and misses them), with Rust's exact ranges; Rust strips accents before lowercasing.
 * - Pre-tokenizers `BertPreTokenizer`, `Whitespace`, `WhitespaceSplit`, `ByteLevel`: whitespace is
 *   Unicode White_Space (Rust `char::is_whitespace`, Oniguruma `\s`: U+0085 is whitespace, U+FEFF
 *   is not; JavaScript `\s` is the other way round); `Whitespace`'s `\w` is Unicode (the library's
 *   is ASCII, splitting `café` into `caf` + `é`).
 * - `Metaspace` with `split: true` (the default) splits before every `▁` as Rust does (the library
 *   keeps the whole text as one word: the same ids in practice, but BPE over a 100,000-character
 *   "word"); a file from before `prepend_scheme` with `add_prefix_space: false` prepends nothing.
 * - `Split`, `Punctuation`, `Digits` split as Rust's `NormalizedString::split` with every behaviour
 *   (the library has `Isolated` and `Removed` only, groups runs of punctuation, and its `Digits`
 *   `\d` is ASCII where Rust's `is_numeric` is Unicode N*); `Split` patterns are compiled by the
 *   library (its Oniguruma translation).
 * - `Prepend` leaves an empty text empty (the library prepends to it).
 * - The `Strip` normalizer and added tokens' `lstrip` / `rstrip` take Unicode White_Space (JavaScript's `trim` also takes
 *   U+FEFF and leaves U+0085).
 * - The model runs on each pre-token on its own, as in Rust: the library runs it over all the
 *   pre-tokens of a section at once, so its `fuse_unk` fuses unknown tokens across words.
 * - `WordLevel`: the library runs it as its "Legacy" model, whose unk token comes from
 *   tokenizer_config.json (unknown words got no id); the model's own `unk_token` is used.
 * - BPE without `unk_token`: characters missing from the vocabulary are skipped before merging (the
 *   library keeps them between their neighbours, blocking merges, then drops them).
 * - `Unigram` is Rust's `encode_optimized` (see unigramModel): the library's lattice breaks
 *   near-ties differently; its scores are the doubles serde_json reads (see {@link serdeF64}).
 * - Truncation (the file's `truncation` block, or `maxIds`) and the post-processor's special tokens
 *   are applied here, from the file, the way Rust does: the library has no truncation.
 *
 * The library is used for the models (WordPiece, BPE, WordLevel; it also checks Unigram files), and the normalizers and
 * pre-tokenizers not listed above (NFC/NFD/NFKC/NFKD, StripAccents, Replace,
 * Precompiled; Replace). Added tokens are split off as the library does
 * (leftmost-longest, `lstrip`/`rstrip`, normalized ones matched in the normalized text).
 *
 * Known gaps (not in the tested models): `Precompiled` (SentencePiece's charsmap) is approximated
 * by the library with NFKC; a `Split` pattern that matches the empty string cuts there in Rust, not
 * here; BPE `continuing_subword_prefix`, added tokens' `single_word`, the `UnicodeScripts` and
 * `CharDelimiterSplit` pre-tokenizers are not supported by the library (an unsupported component is a load error, not a
 * silent difference, except `single_word` and `continuing_subword_prefix`); BPE `dropout` is
 * ignored (Rust samples); Unicode tables follow Node's ICU (Unicode 17), not the Rust build's.
 */

/** Unicode White_Space: Rust `char::is_whitespace` and Oniguruma's Unicode `\s`. */
const WS = '\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** Rust `is_bert_punc`: ASCII punctuation or Unicode P*. */
const PUNCT = '\\p{P}\\x21-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7e';
/** Rust regex `\w` (Unicode). */
const WORD = '\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}';

const BERT_CONTROL = /[\0\ufffd]|(?![\t\n\r])[\p{Cc}\p{Cf}\p{Co}\p{Cs}]/gu;
const WHITESPACE = new RegExp(`[${WS}]`, 'gu');
/** Rust `char::is_whitespace` (all of them are in the BMP). */
function isWhiteSpace(cu: number): boolean {
  return (
    (cu >= 0x09 && cu <= 0x0d) ||
    cu === 0x20 ||
    cu === 0x85 ||
    cu === 0xa0 ||
    cu === 0x1680 ||
    (cu >= 0x2000 && cu <= 0x200a) ||
    cu === 0x2028 ||
    cu === 0x2029 ||
    cu === 0x202f ||
    cu === 0x205f ||
    cu === 0x3000
  );
}

/** Rust's strip of Unicode White_Space (`Strip`, added tokens' `lstrip`/`rstrip`); JS `trim` differs on U+FEFF, U+0085. */
function stripWhiteSpace(text: string, left: boolean, right: boolean): string {
  let a = 0;
  let b = text.length;
  if (left) while (a < b && isWhiteSpace(text.charCodeAt(a))) a++;
  if (right) while (b > a && isWhiteSpace(text.charCodeAt(b - 1))) b--;
  return a === 0 && b === text.length ? text : text.slice(a, b);
}

/** Rust `BertNormalizer::is_chinese_char` (its 0x2B920 differs from BERT's Python 0x2B820). */
const CHINESE =
  /[\u4e00-\u9fff\u3400-\u4dbf\u{20000}-\u{2a6df}\u{2a700}-\u{2b73f}\u{2b740}-\u{2b81f}\u{2b920}-\u{2ceaf}\uf900-\ufaff\u{2f800}-\u{2fa1f}]/gu;
const NONSPACING_MARK = /\p{Mn}/gu;
const BERT_PRE = new RegExp(`[^${WS}${PUNCT}]+|[${PUNCT}]`, 'gu');
const WHITESPACE_PRE = new RegExp(`[${WORD}]+|[^${WORD}${WS}]+`, 'gu');
const WHITESPACE_SPLIT_PRE = new RegExp(`[^${WS}]+`, 'gu');
const BYTE_LEVEL_PATTERN = new RegExp(
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`,
  'gu',
);

/** GPT-2's `bytes_to_unicode`: the character standing for each byte in byte-level BPE. */
const BYTE_CHARS: readonly string[] = (() => {
  const chars: string[] = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars[b] = String.fromCharCode(printable ? b : 256 + n++);
  }
  return chars;
})();

const UTF8 = new TextEncoder();
/** Byte-level mappings of recent pieces (words repeat: most pieces are found here). */
const MAX_CACHE = 50_000;

/** Rust `ByteLevel` pre-tokenizer: GPT-2's split (Oniguruma `\s`), each piece as byte characters. */
function byteLevel(cfg: Json): (text: string) => string[] {
  const addPrefixSpace = cfg.add_prefix_space === true;
  const useRegex = cfg.use_regex !== false;
  const cache = new Map<string, string>();
  const map = (piece: string): string => {
    let mapped = cache.get(piece);
    if (mapped === undefined) {
      const bytes = UTF8.encode(piece);
      const chars = new Array<string>(bytes.length);
      for (let i = 0; i < bytes.length; i++) chars[i] = BYTE_CHARS[bytes[i] as number] as string;
      mapped = chars.join('');
      if (cache.size >= MAX_CACHE) cache.clear();
      cache.set(piece, mapped);
    }
    return mapped;
  };
  return (text) => {
    if (addPrefixSpace && !text.startsWith(' ')) text = ' ' + text;
    const pieces = useRegex ? (text.match(BYTE_LEVEL_PATTERN) ?? []) : [text];
    return pieces.map(map);
  };
}

/** Rust `NormalizedString::lowercase`: per character, so `Σ` is always `σ` (no Final_Sigma). */
export function rustLowercase(text: string): string {
  if (!text.includes('\u03a3')) return text.toLowerCase();
  return text
    .split('\u03a3')
    .map((s) => s.toLowerCase())
    .join('\u03c3');
}

type NormalizeFn = (text: string) => string;
type PreTokenizeFn = (pieces: string[], sectionIndex: number | undefined) => string[];
type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

function bertNormalizer(cfg: Json): NormalizeFn {
  const cleanText = cfg.clean_text !== false;
  const chinese = cfg.handle_chinese_chars !== false;
  const lowercase = cfg.lowercase !== false;
  const stripAccents = typeof cfg.strip_accents === 'boolean' ? cfg.strip_accents : lowercase;
  return (text) => {
    if (cleanText) text = text.replace(BERT_CONTROL, '').replace(WHITESPACE, ' ');
    if (chinese) text = text.replace(CHINESE, ' $& ');
    if (stripAccents) text = text.normalize('NFD').replace(NONSPACING_MARK, '');
    if (lowercase) text = rustLowercase(text);
    return text;
  };
}

const LIBRARY_NORMALIZERS: Record<string, new (cfg: never) => { normalize(text: string): string }> = {
  NFC: NFCNormalizer,
  NFD: NFDNormalizer,
  NFKC: NFKCNormalizer,
  NFKD: NFKDNormalizer,
  StripAccents: StripAccentsNormalizer,
  Replace: ReplaceNormalizer,
  Precompiled: PrecompiledNormalizer,
};

function buildNormalizer(cfg: unknown, field: string): NormalizeFn | null {
  if (cfg === null || cfg === undefined) return null;
  if (!isRecord(cfg)) throw new FieldError(field, 'not a JSON object');
  switch (cfg.type) {
    case 'BertNormalizer':
      return bertNormalizer(cfg);
    case 'Lowercase':
      return rustLowercase;
    case 'Prepend': {
      // Rust prepends to a non-empty text only (the library prepends to '' too).
      const prepend = typeof cfg.prepend === 'string' ? cfg.prepend : '';
      return (text) => (text === '' ? text : prepend + text);
    }
    case 'Strip': {
      // Rust strips `char::is_whitespace` (JavaScript's trim also takes U+FEFF and leaves U+0085).
      const left = cfg.strip_left !== false;
      const right = cfg.strip_right !== false;
      return (text) => stripWhiteSpace(text, left, right);
    }
    case 'Sequence': {
      if (!Array.isArray(cfg.normalizers)) throw new FieldError(`${field}.normalizers`, 'not an array');
      const parts = cfg.normalizers
        .map((n, i) => buildNormalizer(n, `${field}.normalizers[${i}]`))
        .filter((n): n is NormalizeFn => n !== null);
      return (text) => parts.reduce((t, n) => n(t), text);
    }
    default: {
      const Impl = typeof cfg.type === 'string' ? LIBRARY_NORMALIZERS[cfg.type] : undefined;
      if (!Impl) throw new FieldError(`${field}.type`, `unsupported normalizer ${JSON.stringify(cfg.type)}`);
      const n = new Impl(cfg as never);
      return (text) => n.normalize(text);
    }
  }
}

function matchAll(re: RegExp): (text: string) => string[] {
  return (text) => text.match(re) ?? [];
}

/** Splits before every `rep` (Rust `split(rep, MergedWithNext)`), dropping empty pieces. */
function splitMergedWithNext(text: string, rep: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = text.indexOf(rep); i !== -1; i = text.indexOf(rep, i + rep.length)) {
    if (i > start) out.push(text.slice(start, i));
    start = i;
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

function metaspace(cfg: Json): PreTokenizeFn {
  const rep = typeof cfg.replacement === 'string' ? cfg.replacement : '\u2581';
  const scheme =
    typeof cfg.prepend_scheme === 'string'
      ? cfg.prepend_scheme.toLowerCase()
      : cfg.add_prefix_space === false
        ? 'never'
        : 'always';
  const split = cfg.split !== false;
  return (pieces, sectionIndex) =>
    pieces.flatMap((piece) => {
      let s = piece.replaceAll(' ', rep);
      if (!s.startsWith(rep) && (scheme === 'always' || (scheme === 'first' && (sectionIndex ?? 0) === 0))) {
        s = rep + s;
      }
      return split ? splitMergedWithNext(s, rep) : s ? [s] : [];
    });
}

type SplitBehavior = 'removed' | 'isolated' | 'mergedwithprevious' | 'mergedwithnext' | 'contiguous';

function splitBehavior(v: unknown, fallback: SplitBehavior, field: string): SplitBehavior {
  if (v === undefined || v === null) return fallback;
  const b = typeof v === 'string' ? v.toLowerCase().replace(/_/g, '') : '';
  if (['removed', 'isolated', 'mergedwithprevious', 'mergedwithnext', 'contiguous'].includes(b)) {
    return b as SplitBehavior;
  }
  throw new FieldError(field, `unsupported split behavior ${JSON.stringify(v)}`);
}

/**
 * Rust `NormalizedString::split(pattern, behavior)`: the text cut into the matches of `re` (global;
 * with `invert`, the text between matches is what matched) and the text between them, then the
 * matches removed, isolated, merged with the piece before or after, or runs of them merged; empty
 * pieces dropped (as `PreTokenizedString::split` does).
 */
function splitBy(text: string, re: RegExp, behavior: SplitBehavior, invert = false): string[] {
  const spans: [number, number, boolean][] = [];
  let prev = 0;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0] === '') {
      re.lastIndex++;
      continue;
    }
    if (m.index > prev) spans.push([prev, m.index, invert]);
    spans.push([m.index, m.index + m[0].length, !invert]);
    prev = m.index + m[0].length;
  }
  if (prev < text.length) spans.push([prev, text.length, invert]);
  const out: [number, number][] = [];
  if (behavior === 'mergedwithnext') {
    let previousMatch = false;
    for (let i = spans.length - 1; i >= 0; i--) {
      const [a, b, isMatch] = spans[i] as [number, number, boolean];
      const last = out[out.length - 1];
      if (isMatch && !previousMatch && last) last[0] = a;
      else out.push([a, b]);
      previousMatch = isMatch;
    }
    out.reverse();
  } else {
    let previousMatch = false;
    for (const [a, b, isMatch] of spans) {
      const last = out[out.length - 1];
      if (behavior === 'removed') {
        if (!isMatch) out.push([a, b]);
      } else if (behavior === 'contiguous' && isMatch === previousMatch && last) last[1] = b;
      else if (behavior === 'mergedwithprevious' && isMatch && !previousMatch && last) last[1] = b;
      else out.push([a, b]);
      previousMatch = isMatch;
    }
  }
  return out.filter(([a, b]) => b > a).map(([a, b]) => text.slice(a, b));
}

function perPiece(fn: (text: string) => string[]): PreTokenizeFn {
  return (pieces) => pieces.flatMap(fn);
}

const LIBRARY_PRE_TOKENIZERS: Record<
  string,
  new (cfg: never) => { pre_tokenize_text(text: string): string[] }
> = {
  Replace: ReplacePreTokenizer,
};

function buildPreTokenizer(cfg: unknown, field: string): PreTokenizeFn | null {
  if (cfg === null || cfg === undefined) return null;
  if (!isRecord(cfg)) throw new FieldError(field, 'not a JSON object');
  switch (cfg.type) {
    case 'BertPreTokenizer':
      return perPiece(matchAll(BERT_PRE));
    case 'Whitespace':
      return perPiece(matchAll(WHITESPACE_PRE));
    case 'WhitespaceSplit':
      return perPiece(matchAll(WHITESPACE_SPLIT_PRE));
    case 'Metaspace':
      return metaspace(cfg);
    case 'Punctuation': {
      const behavior = splitBehavior(cfg.behavior, 'isolated', `${field}.behavior`);
      const re = new RegExp(`[${PUNCT}]`, 'gu');
      return perPiece((text) => splitBy(text, re, behavior));
    }
    case 'Digits': {
      // Rust `char::is_numeric` (Nd, Nl, No), each digit a match.
      const behavior = cfg.individual_digits === true ? 'isolated' : 'contiguous';
      return perPiece((text) => splitBy(text, /\p{N}/gu, behavior));
    }
    case 'Split': {
      const behavior = splitBehavior(cfg.behavior, 'isolated', `${field}.behavior`);
      // The library translates the Oniguruma pattern; the split itself is Rust's.
      const re = new SplitPreTokenizer({ ...cfg, invert: true } as never).pattern as RegExp | null;
      if (!(re instanceof RegExp)) throw new FieldError(`${field}.pattern`, 'not a String or Regex pattern');
      const invert = cfg.invert === true;
      return perPiece((text) => splitBy(text, re, behavior, invert));
    }
    case 'ByteLevel':
      return perPiece(byteLevel(cfg));
    case 'FixedLength': {
      // Rust counts characters (code points); the library counts UTF-16 units.
      const size = cfg.length === undefined ? 5 : intField(cfg.length, `${field}.length`);
      if (size === 0) throw new FieldError(`${field}.length`, 'must be positive');
      return perPiece((text) => {
        const chars = Array.from(text);
        const out: string[] = [];
        for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''));
        return out;
      });
    }
    case 'Sequence': {
      if (!Array.isArray(cfg.pretokenizers)) throw new FieldError(`${field}.pretokenizers`, 'not an array');
      const parts = cfg.pretokenizers
        .map((p, i) => buildPreTokenizer(p, `${field}.pretokenizers[${i}]`))
        .filter((p): p is PreTokenizeFn => p !== null);
      return (pieces, sectionIndex) => parts.reduce((ps, p) => p(ps, sectionIndex), pieces);
    }
    default: {
      const Impl = typeof cfg.type === 'string' ? LIBRARY_PRE_TOKENIZERS[cfg.type] : undefined;
      if (!Impl)
        throw new FieldError(`${field}.type`, `unsupported pre-tokenizer ${JSON.stringify(cfg.type)}`);
      const p = new Impl(cfg as never);
      return perPiece((text) => p.pre_tokenize_text(text));
    }
  }
}

/** The special ids a post-processor puts around one sequence, with their type ids. */
interface Specials {
  prefix: number[];
  prefixTypes: number[];
  suffix: number[];
  suffixTypes: number[];
  /** Type id of the sequence's own ids. */
  typeId: number;
}

const NO_SPECIALS: Specials = { prefix: [], prefixTypes: [], suffix: [], suffixTypes: [], typeId: 0 };

function intField(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new FieldError(field, `not a non-negative integer: ${JSON.stringify(v)}`);
  }
  return v;
}

function tokenIdPair(v: unknown, field: string): number {
  if (!Array.isArray(v) || v.length !== 2) throw new FieldError(field, 'not a [token, id] pair');
  return intField(v[1], `${field}[1]`);
}

/** Rust's post-processors, for a single sequence (`encode(text)`), as data. */
function buildPostProcessor(cfg: unknown, field: string): Specials {
  if (cfg === null || cfg === undefined) return NO_SPECIALS;
  if (!isRecord(cfg)) throw new FieldError(field, 'not a JSON object');
  switch (cfg.type) {
    case 'ByteLevel':
      return NO_SPECIALS;
    case 'BertProcessing':
    case 'RobertaProcessing':
      return {
        prefix: [tokenIdPair(cfg.cls, `${field}.cls`)],
        prefixTypes: [0],
        suffix: [tokenIdPair(cfg.sep, `${field}.sep`)],
        suffixTypes: [0],
        typeId: 0,
      };
    case 'TemplateProcessing': {
      if (!Array.isArray(cfg.single)) throw new FieldError(`${field}.single`, 'not an array');
      const specials = isRecord(cfg.special_tokens) ? cfg.special_tokens : {};
      const out: Specials = { prefix: [], prefixTypes: [], suffix: [], suffixTypes: [], typeId: 0 };
      let seen = false;
      cfg.single.forEach((piece: unknown, i) => {
        const f = `${field}.single[${i}]`;
        if (isRecord(piece) && isRecord(piece.Sequence)) {
          seen = true;
          out.typeId = intField(piece.Sequence.type_id ?? 0, `${f}.Sequence.type_id`);
        } else if (isRecord(piece) && isRecord(piece.SpecialToken)) {
          const name = piece.SpecialToken.id;
          const special = typeof name === 'string' ? specials[name] : undefined;
          if (!isRecord(special) || !Array.isArray(special.ids)) {
            throw new FieldError(
              `${field}.special_tokens`,
              `no ids for special token ${JSON.stringify(name)}`,
            );
          }
          const typeId = intField(piece.SpecialToken.type_id ?? 0, `${f}.SpecialToken.type_id`);
          for (const id of special.ids) {
            (seen ? out.suffix : out.prefix).push(intField(id, `${field}.special_tokens.${name}.ids`));
            (seen ? out.suffixTypes : out.prefixTypes).push(typeId);
          }
        } else throw new FieldError(f, 'neither a Sequence nor a SpecialToken');
      });
      return out;
    }
    case 'Sequence': {
      if (!Array.isArray(cfg.processors)) throw new FieldError(`${field}.processors`, 'not an array');
      // Each processor wraps the encoding the previous one gave (its ids take the new sequence type).
      return cfg.processors.reduce((inner: Specials, p: unknown, i: number) => {
        const outer = buildPostProcessor(p, `${field}.processors[${i}]`);
        if (outer === NO_SPECIALS) return inner;
        return {
          prefix: [...outer.prefix, ...inner.prefix],
          prefixTypes: [...outer.prefixTypes, ...inner.prefix.map(() => outer.typeId)],
          suffix: [...inner.suffix, ...outer.suffix],
          suffixTypes: [...inner.suffix.map(() => outer.typeId), ...outer.suffixTypes],
          typeId: outer.typeId,
        };
      }, NO_SPECIALS);
    }
    default:
      throw new FieldError(`${field}.type`, `unsupported post-processor ${JSON.stringify(cfg.type)}`);
  }
}

/** An added token (`added_tokens` of the file). */
interface AddedToken {
  content: string;
  id: number;
  lstrip: boolean;
  rstrip: boolean;
  special: boolean;
  normalized: boolean;
}

/** A piece of text between added tokens, or an added token. */
interface Section {
  text: string;
  added?: AddedToken;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Leftmost-longest matcher of added tokens (the library's DictionarySplitter), or null. */
function addedMatcher(contents: string[]): RegExp | null {
  if (contents.length === 0) return null;
  const sorted = [...new Set(contents)].sort((a, b) => b.length - a.length);
  return new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
}

/**
 * Splits `text` around the added tokens `re` finds, then strips the whitespace an added token's
 * `lstrip` / `rstrip` takes from its neighbours, as the library does.
 */
function splitAdded(text: string, re: RegExp | null, added: Map<string, AddedToken>): Section[] {
  if (re === null) return [{ text }];
  const out: Section[] = [];
  let start = 0;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m.index > start) out.push({ text: text.slice(start, m.index) });
    out.push({ text: m[0], added: added.get(m[0]) });
    start = m.index + m[0].length;
  }
  if (start < text.length) out.push({ text: text.slice(start) });
  for (let i = 0; i < out.length; i++) {
    const a = (out[i] as Section).added;
    if (!a) continue;
    const prev = out[i - 1];
    const next = out[i + 1];
    if (a.lstrip && prev && !prev.added) prev.text = stripWhiteSpace(prev.text, false, true);
    if (a.rstrip && next && !next.added) next.text = stripWhiteSpace(next.text, true, false);
  }
  return out;
}

function readAddedTokens(list: unknown): AddedToken[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new FieldError('added_tokens', 'not an array');
  return list.map((t: unknown, i) => {
    if (!isRecord(t) || typeof t.content !== 'string' || t.content === '') {
      throw new FieldError(`added_tokens[${i}]`, 'not an added token (no content)');
    }
    return {
      content: t.content,
      id: intField(t.id, `added_tokens[${i}].id`),
      lstrip: t.lstrip === true,
      rstrip: t.rstrip === true,
      special: t.special === true,
      normalized: typeof t.normalized === 'boolean' ? t.normalized : t.special !== true,
    };
  });
}

/** The library's model as this module calls it: one pre-token in, its tokens out. */
type ModelFn = ((pieces: string[]) => string[]) & {
  tokens_to_ids: Map<string, number>;
  unk_token_id?: number;
};

/**
 * The double serde_json (without `float_roundtrip`, as `tokenizers` builds it) reads for the
 * number JavaScript parsed as `x`: the decimal significand converted to a double, then divided (or
 * multiplied) by a power of ten, which can be one ulp off the correctly rounded value. Unigram
 * scores decide between segmentations whose sums tie, so they must be the very doubles Rust uses.
 * `x` prints with the digits the file has (both are the shortest round-trip form).
 */
export function serdeF64(x: number): number {
  if (!Number.isFinite(x)) return x;
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(String(x));
  if (!m) return x;
  const fraction = m[3] ?? '';
  const digits = (m[2] as string) + fraction;
  if (digits.replace(/^0+/, '').length > 19) return x; // not a significand serde keeps whole
  let exponent = (m[4] ? Number(m[4]) : 0) - fraction.length;
  let f = Number(BigInt(digits));
  while (f !== 0 && exponent < -308) {
    f /= 1e308;
    exponent += 308;
  }
  const pow = Number(`1e${Math.abs(exponent)}`);
  f = exponent >= 0 ? f * pow : f / pow;
  return m[1] ? -f : f;
}

interface TrieNode {
  next: Map<number, TrieNode>;
  id: number;
}

/**
 * Rust's `Unigram::encode_optimized` (the best path over the characters of one pre-token, ties
 * kept by the earliest start, unknown characters at the minimum score - 10, fused when
 * `fuse_unk`), with byte fallback as in `Unigram::tokenize`. The library's lattice reaches the same
 * best score but breaks near-ties (one ulp apart) differently, giving another segmentation.
 */
function unigramModel(model: Json): ModelFn {
  if (!Array.isArray(model.vocab)) throw new FieldError('model.vocab', 'not an array of [piece, score]');
  const pieces: string[] = [];
  const scores: number[] = [];
  const ids = new Map<string, number>();
  const root: TrieNode = { next: new Map(), id: -1 };
  let minScore = Infinity;
  model.vocab.forEach((entry: unknown, i) => {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') {
      throw new FieldError(`model.vocab[${i}]`, 'not a [piece, score] pair');
    }
    const [piece, score] = entry as [string, number];
    const f = serdeF64(score);
    pieces.push(piece);
    scores.push(f);
    ids.set(piece, i); // a repeated piece: the last one wins, as in Rust's HashMap
    if (f < minScore) minScore = f;
    let node = root;
    for (const ch of piece) {
      const cp = ch.codePointAt(0) as number;
      let child = node.next.get(cp);
      if (!child) node.next.set(cp, (child = { next: new Map(), id: -1 }));
      node = child;
    }
    node.id = i;
  });
  const unkId = typeof model.unk_id === 'number' ? model.unk_id : undefined;
  const unkScore = minScore - 10;
  const fuseUnk = model.fuse_unk !== false;
  const byteFallback = model.byte_fallback === true;

  const encodeOne = (sentence: string): string[] => {
    const chars = Array.from(sentence);
    const n = chars.length;
    const cps = chars.map((c) => c.codePointAt(0) as number);
    const bestScore = new Float64Array(n + 1);
    const bestStart = new Int32Array(n + 1).fill(-1);
    const bestId = new Int32Array(n + 1);
    const offer = (end: number, start: number, id: number, score: number): void => {
      if (bestStart[end] === -1 || score > (bestScore[end] as number)) {
        bestScore[end] = score;
        bestStart[end] = start;
        bestId[end] = id;
      }
    };
    for (let start = 0; start < n; start++) {
      const till = bestScore[start] as number;
      let single = false;
      let node: TrieNode | undefined = root;
      for (let end = start; end < n; end++) {
        node = node.next.get(cps[end] as number);
        if (!node) break;
        if (node.id >= 0) {
          offer(end + 1, start, node.id, (scores[node.id] as number) + till);
          if (end === start) single = true;
        }
      }
      if (!single) {
        if (unkId === undefined) throw new Error('Unigram model without unk_id met an unknown character');
        offer(start + 1, start, unkId, unkScore + till);
      }
    }
    const out: string[] = [];
    let fused: string[] = [];
    for (let end = n; end > 0;) {
      const start = bestStart[end] as number;
      const piece = chars.slice(start, end).join('');
      if (fuseUnk && unkId !== undefined && bestId[end] === unkId) fused.push(piece);
      else {
        if (fused.length) out.push(fused.reverse().join(''));
        fused = [];
        out.push(piece);
      }
      end = start;
    }
    if (fused.length) out.push(fused.reverse().join(''));
    return out.reverse();
  };

  const unkToken = unkId === undefined ? undefined : pieces[unkId];
  const fn = ((input: string[]): string[] => {
    const out: string[] = [];
    for (const sentence of input) {
      if (sentence === '') continue;
      for (const token of encodeOne(sentence)) {
        if (ids.has(token)) out.push(token);
        else if (byteFallback) {
          const bytes = Array.from(
            UTF8.encode(token),
            (b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`,
          );
          if (bytes.every((b) => ids.has(b))) out.push(...bytes);
          else if (unkToken !== undefined) out.push(unkToken);
        } else if (unkToken !== undefined) out.push(unkToken);
      }
    }
    return out;
  }) as ModelFn;
  fn.tokens_to_ids = ids;
  fn.unk_token_id = unkId;
  return fn;
}

/** Truncation settings: the file's `truncation` block. */
interface Truncation {
  maxLength: number | null;
  left: boolean;
}

/** Hugging Face pad-token names tried, in order, when the file has no `padding.pad_id`. */
const PAD_TOKENS = ['[PAD]', '<pad>', '<|padding|>'];

/**
 * A Hugging Face `tokenizers` tokenizer (tokenizer.json). `encode(text)` gives exactly Python's
 * `Tokenizer.from_file(f).encode(text)` ids and type ids (special tokens added by the
 * post-processor, the file's `truncation` applied); `encode(text, maxIds)` what it gives after
 * `enable_truncation(max_length=maxIds)` (direction from the file's `truncation`, else right).
 * The file's `padding` is not applied (padding is input shaping); its `pad_id` is {@link padId}.
 */
export class HuggingFaceTokenizer implements TextTokenizer {
  readonly type = 'huggingface';
  readonly vocabSize: number;
  readonly padId: number;
  private readonly model: ModelFn;
  private readonly normalize: NormalizeFn | null;
  private readonly preTokenize: PreTokenizeFn | null;
  private readonly specials: Specials;
  private readonly truncation: Truncation;
  private readonly added = new Map<string, AddedToken>();
  /** Added tokens matched in the raw text (`normalized: false`). */
  private readonly addedRaw: RegExp | null;
  /** Added tokens matched in the normalized text (`normalized: true`, by their normalized form). */
  private readonly addedNormalized: RegExp | null;
  /**
   * BPE without `unk_token` (nor byte fallback): Rust skips a character that is not in the
   * vocabulary before merging, so its neighbours can merge; the library keeps it as a symbol that
   * blocks merges and drops it afterwards. Removing those characters first gives Rust's result.
   */
  private readonly dropUnknownChars: ((piece: string) => string) | null = null;
  /** Ids of recent pre-tokens: the model's output for a word depends on nothing else. */
  private readonly cache = new Map<string, readonly number[]>();

  /** `json` is the parsed tokenizer.json; throws a ModelError naming `file` and the field. */
  constructor(json: unknown, file = 'tokenizer.json') {
    try {
      if (!isRecord(json)) throw new FieldError('', 'not a JSON object');
      if (!isRecord(json.model)) throw new FieldError('model', 'missing or not a JSON object');
      const addedTokens = readAddedTokens(json.added_tokens);
      this.normalize = buildNormalizer(json.normalizer, 'normalizer');
      this.preTokenize = buildPreTokenizer(json.pre_tokenizer, 'pre_tokenizer');
      this.specials = buildPostProcessor(json.post_processor, 'post_processor');
      this.truncation = readTruncation(json.truncation);
      let lib: Tokenizer;
      try {
        // Only the model (and its vocabulary with the added tokens) of the library is used.
        lib = new Tokenizer(
          {
            ...json,
            normalizer: null,
            pre_tokenizer: null,
            post_processor: null,
            decoder: null,
            added_tokens: json.added_tokens ?? [],
          },
          {},
        );
      } catch (err) {
        throw new FieldError('model', (err as Error).message.split('\n')[0] ?? 'invalid');
      }
      this.model =
        json.model.type === 'Unigram' ? unigramModel(json.model) : (lib.model as unknown as ModelFn);
      // WordLevel runs as the library's "Legacy" model, which takes its unk token from
      // tokenizer_config.json: Rust takes the model's `unk_token`.
      const unk = json.model.unk_token;
      if (this.model.unk_token_id === undefined && typeof unk === 'string') {
        this.model.unk_token_id = this.model.tokens_to_ids.get(unk);
      }
      const m = json.model;
      if (
        m.type === 'BPE' &&
        isRecord(m.vocab) &&
        (m.unk_token === null || m.unk_token === undefined) &&
        m.byte_fallback !== true &&
        !m.continuing_subword_prefix &&
        !m.end_of_word_suffix
      ) {
        const vocab = m.vocab;
        this.dropUnknownChars = (piece) => {
          for (const ch of piece)
            if (!Object.hasOwn(vocab, ch)) return [...piece].filter((c) => Object.hasOwn(vocab, c)).join('');
          return piece;
        };
      }
      const raw: string[] = [];
      const normalized: string[] = [];
      for (const t of addedTokens) {
        this.added.set(t.content, t);
        raw.push(t.content);
        if (t.normalized && this.normalize) {
          const n = this.normalize(t.content);
          if (n !== '' && !this.added.has(n)) this.added.set(n, t);
          if (n !== '') normalized.push(n);
        }
      }
      this.addedRaw = addedMatcher(
        addedTokens.filter((t) => !t.normalized || !this.normalize).map((t) => t.content),
      );
      this.addedNormalized = addedMatcher(normalized);
      let maxId = -1;
      for (const id of lib.get_vocab(true).values()) if (id > maxId) maxId = id;
      for (const id of [...this.specials.prefix, ...this.specials.suffix]) if (id > maxId) maxId = id;
      this.vocabSize = maxId + 1;
      this.padId = readPadId(json.padding) ?? padTokenId(lib) ?? 0;
    } catch (err) {
      if (err instanceof FieldError) throw loadFailed(file, err.message, err.field || undefined);
      throw err;
    }
  }

  /** Number of special ids the post-processor adds to one sequence. */
  get specialCount(): number {
    return this.specials.prefix.length + this.specials.suffix.length;
  }

  encode(text: string, maxIds?: number): TokenizedText {
    const { prefix, prefixTypes, suffix, suffixTypes, typeId } = this.specials;
    const limit = maxIds === undefined ? this.truncation.maxLength : Math.floor(maxIds);
    let keep = Infinity;
    if (limit !== null) {
      keep = limit - prefix.length - suffix.length;
      if (keep < 0) {
        throw new RangeError(
          `maxIds ${limit} is less than the ${prefix.length + suffix.length} special tokens`,
        );
      }
    }
    const content = this.contentIds(text, keep, this.truncation.left);
    const n = prefix.length + content.length + suffix.length;
    const ids = new Int32Array(n);
    const typeIds = new Int32Array(n);
    let k = 0;
    for (let i = 0; i < prefix.length; i++, k++) {
      ids[k] = prefix[i] as number;
      typeIds[k] = prefixTypes[i] as number;
    }
    for (let i = 0; i < content.length; i++, k++) {
      ids[k] = content[i] as number;
      typeIds[k] = typeId;
    }
    for (let i = 0; i < suffix.length; i++, k++) {
      ids[k] = suffix[i] as number;
      typeIds[k] = suffixTypes[i] as number;
    }
    return { ids, typeIds };
  }

  /**
   * The ids of `text` before post-processing, truncated to the first (or, `left`, the last) `keep`
   * ids, as the library's `encode_text` computes them: added tokens split off the raw text (then
   * off the normalized text), normalizer, pre-tokenizer, then the model on each pre-token (Rust
   * runs the model per pre-token too; `fuse_unk` stays inside it). The whole text is normalized and
   * pre-tokenized (cheap, and what decides the pieces); the model, the costly part, runs only on
   * the pieces whose ids survive truncation, since a piece's ids do not depend on the others.
   */
  private contentIds(text: string, keep: number, left: boolean): number[] {
    // Added-token ids as numbers, pre-tokens as strings, in text order.
    const items: (number | string)[] = [];
    const sections = splitAdded(text, this.addedRaw, this.added);
    for (let s = 0; s < sections.length; s++) {
      const section = sections[s] as Section;
      if (section.added) {
        items.push(section.added.id);
        continue;
      }
      if (section.text === '') continue;
      const normalized = this.normalize ? this.normalize(section.text) : section.text;
      if (normalized === '') continue;
      for (const sub of splitAdded(normalized, this.addedNormalized, this.added)) {
        if (sub.added) items.push(sub.added.id);
        else if (sub.text !== '') {
          if (this.preTokenize) for (const piece of this.preTokenize([sub.text], s)) items.push(piece);
          else items.push(sub.text);
        }
      }
    }
    const out: number[] = [];
    if (!left) {
      for (let i = 0; i < items.length && out.length < keep; i++) {
        const item = items[i] as number | string;
        if (typeof item === 'number') out.push(item);
        else for (const id of this.pieceIds(item)) out.push(id);
      }
      if (out.length > keep) out.length = keep;
      return out;
    }
    // Left truncation keeps the last ids: walk the pieces from the end.
    const tail: (readonly number[])[] = [];
    let count = 0;
    for (let i = items.length - 1; i >= 0 && count < keep; i--) {
      const item = items[i] as number | string;
      const ids = typeof item === 'number' ? [item] : this.pieceIds(item);
      tail.push(ids);
      count += ids.length;
    }
    for (let i = tail.length - 1; i >= 0; i--) for (const id of tail[i] as readonly number[]) out.push(id);
    return count > keep ? out.slice(count - keep) : out;
  }

  /** The model's ids for one pre-token (cached). */
  private pieceIds(piece: string): readonly number[] {
    let ids = this.cache.get(piece);
    if (ids === undefined) {
      const { tokens_to_ids: known, unk_token_id: unk } = this.model;
      const found: number[] = [];
      const modelPiece = this.dropUnknownChars ? this.dropUnknownChars(piece) : piece;
      for (const token of modelPiece === '' ? [] : this.model([modelPiece])) {
        // No unk token: the library keeps nothing for an unknown piece, as Rust does.
        const id = known.get(token) ?? unk;
        if (id !== undefined) found.push(id);
      }
      ids = found;
      if (this.cache.size >= MAX_CACHE) this.cache.clear();
      this.cache.set(piece, ids);
    }
    return ids;
  }
}

function readTruncation(t: unknown): Truncation {
  if (t === null || t === undefined) return { maxLength: null, left: false };
  if (!isRecord(t)) throw new FieldError('truncation', 'not a JSON object');
  const dir = t.direction ?? 'Right';
  if (typeof dir !== 'string' || !['left', 'right'].includes(dir.toLowerCase())) {
    throw new FieldError('truncation.direction', `not "Left" or "Right": ${JSON.stringify(dir)}`);
  }
  return { maxLength: intField(t.max_length, 'truncation.max_length'), left: dir.toLowerCase() === 'left' };
}

function readPadId(p: unknown): number | null {
  if (p === null || p === undefined) return null;
  if (!isRecord(p)) throw new FieldError('padding', 'not a JSON object');
  return p.pad_id === undefined || p.pad_id === null ? null : intField(p.pad_id, 'padding.pad_id');
}

function padTokenId(lib: Tokenizer): number | null {
  for (const t of PAD_TOKENS) {
    const id = lib.token_to_id(t);
    if (id !== undefined) return id;
  }
  return null;
}

/**
 * Parses the content of a tokenizer.json; throws a ModelError `MODEL_LOAD_FAILED` naming `file`
 * (and the field) when it is not JSON or not a tokenizer this module can run.
 */
export function parseHuggingFaceTokenizer(content: string, file = 'tokenizer.json'): HuggingFaceTokenizer {
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch (err) {
    throw loadFailed(file, `not JSON (${(err as Error).message})`);
  }
  return new HuggingFaceTokenizer(json, file);
}
