export { loadTranslator } from './load-translator';
export { BpeTokenizer } from './bpe-tokenizer';
export type { TranslationPayload, TranslatorSettings } from './translator';
