import { promises as fs } from 'node:fs';
import path from 'node:path';

import type { ModelInfo, TaskModel } from '../types';
import { BpeTokenizer, type BpeVocabFile } from './bpe-tokenizer';
import { parsePlaceholderScheme, placeholderChar } from './placeholders';
import { readSeq2SeqArtifacts } from './seq2seq-weights';
import { SPECIAL_TOKENS } from './bpe-tokenizer';
import { TargetWordList, WordConstraintFactory } from './target-words';
import { TransformerTranslator } from './transformer';
import { DEFAULT_TRANSLATOR_SETTINGS, Translator, type TranslatorSettings } from './translator';

/** Optional runtime fields of a translation model's `config.json` (all other fields belong to the registry). */
interface TranslatorConfigJson {
  /** Longest source segment in tokens (default 64). */
  max_segment_tokens?: number;
  /** Generated tokens allowed per source token (default 2). */
  target_length_ratio?: number;
  /**
   * Placeholders for what is copied verbatim (URLs, e-mail addresses, numbers, non-ASCII words, symbols):
   * `{"first": "U+E000", "slots": 16}` (or `true` for exactly that). The vocabulary must hold each placeholder
   * character as a token. Absent: no placeholders (en-es-translator@1).
   */
  placeholders?: unknown;
  /**
   * File (in the version directory) of the words the decoder may write, one per line: word-constrained decoding
   * (target-words.ts). Absent: unconstrained greedy decoding.
   */
  target_words?: unknown;
  /**
   * File of the source-language words the model was trained on, one per line: with `target_words`, such a word
   * is not copied into the output when it is written in lower case (target-words.ts). Absent: any source word
   * may be copied.
   */
  source_words?: unknown;
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as T;
}

/** Reads the word file a config.json field names (a file inside the version directory). */
async function readWordList(
  info: ModelInfo,
  config: TranslatorConfigJson,
  field: 'target_words' | 'source_words',
): Promise<TargetWordList> {
  const file = config[field];
  if (
    typeof file !== 'string' ||
    file.length === 0 ||
    path.isAbsolute(file) ||
    file.split(/[\\/]/).includes('..')
  )
    throw new Error(`${info.id}: config.json ${field} must be a file name inside the version directory`);
  const list = TargetWordList.parse(await fs.readFile(path.join(info.dir, file), 'utf8'));
  if (list.size === 0) throw new Error(`${info.id}: ${file} (config.json ${field}) has no words`);
  return list;
}

/**
 * Loads a `runtime: "seq2seq-attention"` model from its version directory (`info.dir`):
 * `vocab.json` (BPE vocabulary, see bpe-tokenizer.ts), `model.json` + `weights.bin` (see seq2seq-weights.ts),
 * and the optional runtime fields of `config.json`. Uses whichever tfjs backend is active.
 */
export async function loadTranslator(info: ModelInfo): Promise<TaskModel> {
  if (info.task !== 'translation') throw new Error(`${info.id}: task is ${info.task}, not translation`);
  const config = await readJson<TranslatorConfigJson>(path.join(info.dir, 'config.json')).catch(
    (): TranslatorConfigJson => ({}),
  );
  const placeholders = parsePlaceholderScheme(config.placeholders, `${info.id}: config.json`);
  const vocab = await readJson<BpeVocabFile>(path.join(info.dir, 'vocab.json'));
  const tokenizer = new BpeTokenizer(vocab);
  if (placeholders) {
    const known = new Set(vocab.tokens);
    for (let i = 0; i < placeholders.slots; i += 1) {
      const ch = placeholderChar(i, placeholders);
      if (!known.has(ch))
        throw new Error(
          `${info.id}: config.json placeholders: vocab.json has no token for slot ${i} (U+${ch.codePointAt(0)!.toString(16).toUpperCase()})`,
        );
    }
  }
  let targetWords: WordConstraintFactory | undefined;
  if (config.target_words !== undefined) {
    const list = await readWordList(info, config, 'target_words');
    const known =
      config.source_words !== undefined ? await readWordList(info, config, 'source_words') : undefined;
    targetWords = new WordConstraintFactory(
      vocab.tokens,
      list,
      new Set(SPECIAL_TOKENS.map((_, i) => i)),
      known,
    );
  }
  const artifacts = await readSeq2SeqArtifacts(info.dir);
  const network = new TransformerTranslator(artifacts);
  if (network.arch.vocab_size !== tokenizer.size) {
    network.dispose();
    throw new Error(
      `${info.id}: model vocabulary ${network.arch.vocab_size} != tokenizer vocabulary ${tokenizer.size}`,
    );
  }
  const settings: TranslatorSettings = {
    ...DEFAULT_TRANSLATOR_SETTINGS,
    ...(config.max_segment_tokens ? { maxSegmentTokens: config.max_segment_tokens } : {}),
    ...(config.target_length_ratio ? { targetLengthRatio: config.target_length_ratio } : {}),
    ...(placeholders ? { placeholders } : {}),
    ...(targetWords ? { targetWords } : {}),
  };
  try {
    return new Translator(info, tokenizer, network, settings);
  } catch (err) {
    network.dispose();
    throw err;
  }
}
