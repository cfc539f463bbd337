/**
 * One interface for every tokenizer a classification model can name in `config.json`
 * `tokenizer.type` (`word`, `keras`, `huggingface`). A tokenizer turns one text into the ids the
 * framework's own pipeline gives for it, nothing more: truncation and padding to the model's input
 * length are input shaping (../classification/input-shaping.ts), done afterwards.
 */
export interface TokenizedText {
  /** Token ids in order, special tokens included where the tokenizer adds them. */
  ids: Int32Array;
  /** Token type (segment) ids, one per id, when the tokenizer produces them (Hugging Face). */
  typeIds?: Int32Array;
}

export interface TextTokenizer {
  /** `word`, `keras` or `huggingface`. */
  readonly type: string;
  /**
   * Ids this tokenizer can produce are `0 .. vocabSize - 1` (Keras: `num_words` when set, else the
   * word index size + 1; Hugging Face: the vocabulary size with added tokens).
   */
  readonly vocabSize: number;
  /** The id used for padding (0 for `word` and `keras`; the `[PAD]`/`<pad>` id for Hugging Face). */
  readonly padId: number;
  /**
   * Tokenizes one text exactly as the framework's own tokenizer does.
   *
   * `maxIds` asks for the framework's own truncation where it has one: Hugging Face truncates as
   * `tokenizer(text, truncation=True, max_length=maxIds)` (special tokens kept, the side from the
   * file's `truncation.direction`, right by default); `word` stops after `maxIds` ids (the first
   * ones). `keras` ignores it: Keras truncates in `pad_sequences`, which input shaping does.
   */
  encode(text: string, maxIds?: number): TokenizedText;
}
