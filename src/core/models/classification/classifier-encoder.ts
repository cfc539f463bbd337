import { splitEmailHeaders } from '../tokenizers/email-headers';
import type { Vocabulary } from '../tokenizers/vocabulary';
import { tokenizeWords } from '../tokenizers/word-tokenizer';

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
  let start = 0;
  let words: string[] = [];
  if (tokenizer.strip_email_headers) {
    const parts = splitEmailHeaders(text);
    start = parts.bodyStart;
    if (parts.subject) words = tokenizeWords(parts.subject, { maxTokens: maxLength, lowercase });
  }
  if (words.length < maxLength) {
    words = words.concat(tokenizeWords(text, { maxTokens: maxLength - words.length, lowercase, start }));
  }
  const ids = new Int32Array(maxLength);
  let n = 0;
  let prev: string | undefined;
  let prevId = 0;
  for (const w of words) {
    if (n >= maxLength) break;
    const wordId = vocab.idOf(w);
    ids[n++] = wordId;
    if (bigrams && prev !== undefined && n < maxLength) {
      const id = vocab.bigramId(prev, prevId, w, wordId);
      if (id !== undefined) ids[n++] = id;
    }
    prev = w;
    prevId = wordId;
  }
  return ids.slice(0, n);
}
