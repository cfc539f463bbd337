import { loadFailed } from '../model-errors';
import type { TextTokenizer, TokenizedText } from './text-tokenizer';

/** Keras's default `filters` (`keras.preprocessing.text.Tokenizer`). */
export const KERAS_DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n';

/** The settings of a Keras `Tokenizer` that `texts_to_sequences` uses. */
export interface KerasTokenizerConfig {
  /** Keep only ids below this (ids at or above it are dropped, or become the OOV id); null: all. */
  numWords: number | null;
  /** Characters replaced by `split` before splitting (code points, astral ones included). */
  filters: string;
  /** Lowercase (Python `str.lower()`) first. */
  lower: boolean;
  /** The separator words are split on (Python `str.split(split)`, empty strings dropped). */
  split: string;
  /** Every character (code point) is a token; `filters` and `split` do not apply. */
  charLevel: boolean;
  /** The token standing for unknown words, or null (unknown words are dropped). */
  oovToken: string | null;
  /** Word -> id (ids start at 1; 0 is padding). */
  wordIndex: ReadonlyMap<string, number>;
}

/**
 * Code points that JavaScript's `toLowerCase()` (ICU, Unicode 17 in Node 20.20) lowercases and
 * Python's `str.lower()` leaves alone because they are newer than Python's Unicode database (14.0
 * in Python 3.11; found by comparing both over every code point): U+1C89, U+A7CB..U+A7DC (some),
 * Garay U+10D50..U+10D65, Beria Erfe U+16EA0..U+16EB8.
 */
const NEWER_THAN_PYTHON =
  /([\u1C89\uA7CB\uA7CC\uA7CE\uA7D2\uA7D4\uA7DA\uA7DC\u{10D50}-\u{10D65}\u{16EA0}-\u{16EB8}])/u;

/**
 * Python's `str.lower()`: the full Unicode lowercase mapping including Final_Sigma, which is what
 * JavaScript's locale-independent `toLowerCase()` does too (`İ` becomes `i̇`, a final `Σ` becomes
 * `ς`), except for the characters of {@link NEWER_THAN_PYTHON}, which are kept as they are (Python
 * sees them as unassigned, uncased characters, so the text between them is lowercased on its own).
 */
export function pythonLower(text: string): string {
  if (!NEWER_THAN_PYTHON.test(text)) return text.toLowerCase();
  const parts = text.split(NEWER_THAN_PYTHON);
  for (let i = 0; i < parts.length; i += 2) parts[i] = (parts[i] as string).toLowerCase();
  return parts.join('');
}

function escapeCodePoint(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

/**
 * A Keras `Tokenizer` (`keras.preprocessing.text.Tokenizer`, Keras 2, tf.keras or Keras 3's
 * legacy API) read from the string `Tokenizer.to_json()` returned. `encode(text)` gives exactly
 * `texts_to_sequences([text])[0]`; `maxIds` is ignored (Keras truncates in `pad_sequences`, which
 * input shaping does).
 */
export class KerasTokenizer implements TextTokenizer {
  readonly type = 'keras';
  readonly vocabSize: number;
  readonly padId = 0;
  private readonly filterRe: RegExp | null;
  private readonly splitReplacement: string;
  private readonly oovId: number | null;
  /** char_level: the output id of every BMP code point (-1: dropped), after num_words and OOV. */
  private readonly bmpIds: Int32Array | null = null;
  /** char_level: single astral code points of the word index, by code point. */
  private readonly astralIds = new Map<number, number>();

  constructor(readonly config: KerasTokenizerConfig) {
    const { filters, split, wordIndex, oovToken, numWords } = config;
    let maxId = 0;
    for (const id of wordIndex.values()) if (id > maxId) maxId = id;
    this.oovId = oovToken === null ? null : (wordIndex.get(oovToken) ?? null);
    // The OOV id is emitted even when it is not below num_words (only num_words = 1 does that).
    this.vocabSize = numWords ? Math.max(numWords, (this.oovId ?? 0) + 1) : maxId + 1;
    const cps = new Set<number>();
    for (const ch of filters) cps.add(ch.codePointAt(0) as number);
    this.filterRe = cps.size ? new RegExp(`[${[...cps].map(escapeCodePoint).join('')}]`, 'gu') : null;
    this.splitReplacement = split.replace(/\$/g, '$$$$');
    if (config.charLevel) {
      const bmp = new Int32Array(0x10000).fill(this.oovId ?? -1);
      for (const [word, id] of wordIndex) {
        const cp = word.codePointAt(0);
        if (cp === undefined || word.length !== (cp > 0xffff ? 2 : 1)) continue;
        if (cp > 0xffff) this.astralIds.set(cp, id);
        else bmp[cp] = this.outputId(id);
      }
      this.bmpIds = bmp;
    }
  }

  /** The id emitted for a word-index id: itself, or (at or above `num_words`) the OOV id or -1. */
  private outputId(id: number): number {
    const { numWords } = this.config;
    return numWords && id >= numWords ? (this.oovId ?? -1) : id;
  }

  /** `texts_to_sequences([text])[0]`. */
  encode(text: string): TokenizedText {
    const { lower, split, wordIndex } = this.config;
    const src = lower ? pythonLower(text) : text;
    const bmp = this.bmpIds;
    if (bmp) {
      // char_level: Python iterates code points; a lone surrogate is a code point of its own.
      const ids = new Int32Array(src.length);
      let n = 0;
      for (let i = 0; i < src.length; i++) {
        const cu = src.charCodeAt(i);
        let id: number;
        if (cu >= 0xd800 && cu <= 0xdbff && i + 1 < src.length) {
          const lo = src.charCodeAt(i + 1);
          if (lo >= 0xdc00 && lo <= 0xdfff) {
            i++;
            const known = this.astralIds.get((cu - 0xd800) * 0x400 + (lo - 0xdc00) + 0x10000);
            id = known === undefined ? (this.oovId ?? -1) : this.outputId(known);
          } else id = bmp[cu] as number;
        } else id = bmp[cu] as number;
        if (id >= 0) ids[n++] = id;
      }
      return { ids: ids.slice(0, n) };
    }
    const translated = this.filterRe ? src.replace(this.filterRe, this.splitReplacement) : src;
    const words = translated.split(split);
    const ids = new Int32Array(words.length);
    let n = 0;
    for (const word of words) {
      if (word === '') continue;
      const known = wordIndex.get(word);
      const id = known === undefined ? (this.oovId ?? -1) : this.outputId(known);
      if (id >= 0) ids[n++] = id;
    }
    return { ids: ids.slice(0, n) };
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses the content of a Keras tokenizer file: the string `Tokenizer.to_json()` returned
 * (`{"class_name": "Tokenizer", "config": {...}}`, with `word_index` a JSON string inside it). A
 * file that holds that string JSON-encoded once more (`json.dump(tokenizer.to_json(), f)`) is read
 * too. Throws a ModelError `MODEL_LOAD_FAILED` naming `file` and the field.
 */
export function parseKerasTokenizer(content: string, file = 'tokenizer.json'): KerasTokenizer {
  let doc: unknown;
  try {
    doc = JSON.parse(content);
    if (typeof doc === 'string') doc = JSON.parse(doc);
  } catch (err) {
    throw loadFailed(file, `not JSON (${(err as Error).message})`);
  }
  if (!isRecord(doc)) throw loadFailed(file, 'not a JSON object');
  if (doc.class_name !== undefined && doc.class_name !== 'Tokenizer') {
    throw loadFailed(file, `expected "Tokenizer", got ${JSON.stringify(doc.class_name)}`, 'class_name');
  }
  const cfg = doc.config;
  if (!isRecord(cfg)) throw loadFailed(file, 'missing or not a JSON object', 'config');

  let wi: unknown = cfg.word_index;
  if (typeof wi === 'string') {
    try {
      wi = JSON.parse(wi);
    } catch (err) {
      throw loadFailed(file, `not JSON (${(err as Error).message})`, 'config.word_index');
    }
  }
  if (!isRecord(wi)) throw loadFailed(file, 'not a JSON object', 'config.word_index');
  const wordIndex = new Map<string, number>();
  for (const [word, id] of Object.entries(wi)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > 0x7fffffff) {
      throw loadFailed(
        file,
        `id of ${JSON.stringify(word)} is ${JSON.stringify(id)}, not an integer >= 1`,
        'config.word_index',
      );
    }
    wordIndex.set(word, id);
  }

  const str = (name: string, fallback: string): string => {
    const v = cfg[name];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string') throw loadFailed(file, `not a string: ${JSON.stringify(v)}`, `config.${name}`);
    return v;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const v = cfg[name];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean')
      throw loadFailed(file, `not a boolean: ${JSON.stringify(v)}`, `config.${name}`);
    return v;
  };

  const nw = cfg.num_words;
  if (nw !== undefined && nw !== null && (typeof nw !== 'number' || !Number.isInteger(nw) || nw < 0)) {
    throw loadFailed(file, `not a non-negative integer: ${JSON.stringify(nw)}`, 'config.num_words');
  }
  const split = str('split', ' ');
  const charLevel = bool('char_level', false);
  if (split === '' && !charLevel) throw loadFailed(file, 'empty separator', 'config.split');
  const oov = cfg.oov_token;
  if (oov !== undefined && oov !== null && typeof oov !== 'string') {
    throw loadFailed(file, `not a string: ${JSON.stringify(oov)}`, 'config.oov_token');
  }
  if (typeof oov === 'string' && !wordIndex.has(oov)) {
    throw loadFailed(file, `oov_token ${JSON.stringify(oov)} is not in the word index`, 'config.oov_token');
  }
  return new KerasTokenizer({
    numWords: typeof nw === 'number' && nw > 0 ? nw : null,
    filters: str('filters', KERAS_DEFAULT_FILTERS),
    lower: bool('lower', true),
    split,
    charLevel,
    oovToken: typeof oov === 'string' ? oov : null,
    wordIndex,
  });
}
