import { encodeClassifierText } from '../classification/classifier-encoder';
import type { ClassifierTokenizerConfig } from '../classification/classifier-encoder';
import { PAD_ID } from './vocabulary';
import type { Vocabulary } from './vocabulary';
import type { TextTokenizer, TokenizedText } from './text-tokenizer';

/**
 * docbatch's own `word` tokenizer (config `tokenizer: {type: "word", lowercase, bigrams,
 * strip_email_headers}` with `vocab_file`) as a TextTokenizer: the same ids as
 * encodeClassifierText, stopping after `maxIds` ids.
 */
export class WordTextTokenizer implements TextTokenizer {
  readonly type = 'word';
  readonly padId = PAD_ID;

  constructor(
    readonly vocab: Vocabulary,
    readonly config: ClassifierTokenizerConfig = { type: 'word' },
  ) {}

  get vocabSize(): number {
    return this.vocab.size;
  }

  /** The ids of `text` (every word, or the first `maxIds` ids). */
  encode(text: string, maxIds?: number): TokenizedText {
    // A text of n characters has at most (n + 1) / 2 words, each giving at most 2 ids (word, bigram).
    const bound = text.length + 1;
    const limit = maxIds === undefined ? bound : Math.max(0, Math.min(Math.floor(maxIds), bound));
    return { ids: encodeClassifierText(text, this.vocab, this.config, limit) };
  }
}
