import { KERAS_DEFAULT_FILTERS, KerasTokenizer, pythonLower } from '../models/tokenizers/keras-tokenizer';

/** The OOV token of trained models' tokenizers (id 1). */
export const OOV_TOKEN = '<OOV>';

const FILTER_RE = new RegExp(
  `[${[...KERAS_DEFAULT_FILTERS].map((c) => `\\u{${c.codePointAt(0)!.toString(16)}}`).join('')}]`,
  'gu',
);

/** Keras's `text_to_word_sequence(text)` with the default filters, `lower=True`, `split=" "`. */
export function kerasWords(text: string): string[] {
  return pythonLower(text)
    .replace(FILTER_RE, ' ')
    .split(' ')
    .filter((w) => w !== '');
}

/** What Keras's `fit_on_texts` counts: word counts and document counts in first-seen order. */
export class KerasTokenizerCounts {
  readonly counts = new Map<string, number>();
  readonly docs = new Map<string, number>();
  documents = 0;

  /** Counts one more text (`fit_on_texts([text])`). */
  add(text: string): void {
    this.documents++;
    const seen = new Set<string>();
    for (const w of kerasWords(text)) {
      this.counts.set(w, (this.counts.get(w) ?? 0) + 1);
      if (!seen.has(w)) {
        seen.add(w);
        this.docs.set(w, (this.docs.get(w) ?? 0) + 1);
      }
    }
  }
}

/**
 * A fitted Keras `Tokenizer(oov_token="<OOV>")` (default filters, lower-cased, split on spaces, no
 * num_words): what `fit_on_texts(texts)` and then `fit_on_texts([" ".join(extraWords)])` give in
 * Keras, so `toJson()` is the string Keras's `Tokenizer.to_json()` would return and
 * `tokenizer_from_json` (or docbatch's `keras` tokenizer type) reads it back with the same ids.
 */
export class FittedKerasTokenizer {
  /** Words in id order: `words[0]` has id 1 (the OOV token). */
  readonly words: string[];
  readonly wordIndex: Map<string, number>;
  private readonly wordCounts: Map<string, number>;
  private readonly wordDocs: Map<string, number>;
  private readonly documentCount: number;
  private readonly tokenizer: KerasTokenizer;

  /**
   * `fitted` holds what `fit_on_texts(texts)` counted ({@link KerasTokenizerCounts}); the extra
   * words are fitted after them as one more document.
   */
  constructor(
    fitted: KerasTokenizerCounts,
    extraWords: Iterable<string> = [],
    /** Keep only ids below this (the most frequent words); the rest read as the OOV token. */
    maxIds = Infinity,
  ) {
    const counts = new Map(fitted.counts);
    const docs = new Map(fitted.docs);
    let documents = fitted.documents;
    const extra = [...extraWords].filter((w) => !counts.has(w) && w !== OOV_TOKEN);
    if (extra.length > 0) {
      documents++;
      for (const w of extra) {
        counts.set(w, 1);
        docs.set(w, 1);
      }
    }
    // Keras sorts by count, descending; Python's sort is stable, so ties keep first-seen order.
    const ordered = [...counts.entries()].map(([w, c], i) => ({ w, c, i }));
    ordered.sort((a, b) => b.c - a.c || a.i - b.i);
    // Past the cap, words are left out of the index altogether: Keras's texts_to_sequences then
    // gives them the OOV id, as num_words would, and tokenizer.json stays small.
    this.words = [OOV_TOKEN, ...ordered.filter((e) => e.w !== OOV_TOKEN).map((e) => e.w)].slice(
      0,
      Math.max(1, maxIds - 1),
    );
    this.wordIndex = new Map(this.words.map((w, i) => [w, i + 1]));
    const kept = <T>(m: Map<string, T>): Map<string, T> =>
      this.words.length > m.size ? m : new Map([...m].filter(([w]) => this.wordIndex.has(w)));
    this.wordCounts = kept(counts);
    this.wordDocs = kept(docs);
    this.documentCount = documents;
    this.tokenizer = new KerasTokenizer({
      numWords: null,
      filters: KERAS_DEFAULT_FILTERS,
      lower: true,
      split: ' ',
      charLevel: false,
      oovToken: OOV_TOKEN,
      wordIndex: this.wordIndex,
    });
  }

  /** Vocabulary size of the embedding table: the largest id + 1 (id 0 is padding). */
  get vocabSize(): number {
    return this.words.length + 1;
  }

  /** `texts_to_sequences([text])[0]`, exactly as the served `keras` tokenizer encodes it. */
  encode(text: string): Int32Array {
    return this.tokenizer.encode(text).ids;
  }

  /** The string Keras's `Tokenizer.to_json()` returns for this tokenizer. */
  toJson(): string {
    const obj = (entries: [string, number | string][]): string => JSON.stringify(Object.fromEntries(entries));
    const config = {
      num_words: null,
      filters: KERAS_DEFAULT_FILTERS,
      lower: true,
      split: ' ',
      char_level: false,
      oov_token: OOV_TOKEN,
      document_count: this.documentCount,
      word_counts: obj([...this.wordCounts.entries()]),
      word_docs: obj([...this.wordDocs.entries()]),
      index_docs: obj([...this.wordDocs.entries()].map(([w, c]) => [String(this.wordIndex.get(w)), c])),
      index_word: obj(this.words.map((w, i) => [String(i + 1), w])),
      word_index: obj(this.words.map((w, i) => [w, i + 1])),
    };
    return JSON.stringify({ class_name: 'Tokenizer', config });
  }
}
