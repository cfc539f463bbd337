/**
 * Text tokenizers of the model layer: one TextTokenizer interface for docbatch's `word` tokenizer,
 * Keras `Tokenizer.to_json()` files and Hugging Face tokenizer.json files, created from
 * `config.json` `tokenizer` by {@link createTokenizer}.
 */
export type { TextTokenizer, TokenizedText } from './text-tokenizer';
export { createTokenizer, TOKENIZER_TYPES, type TokenizerType } from './create-tokenizer';
export {
  KerasTokenizer,
  KERAS_DEFAULT_FILTERS,
  parseKerasTokenizer,
  pythonLower,
  type KerasTokenizerConfig,
} from './keras-tokenizer';
export { HuggingFaceTokenizer, parseHuggingFaceTokenizer, rustLowercase } from './huggingface-tokenizer';
export { WordTextTokenizer } from './word-text-tokenizer';
