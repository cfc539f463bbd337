import { promises as fs } from 'node:fs';
import path from 'node:path';

import type { ModelInfo, TaskModel } from '../types';
import { BpeTokenizer, type BpeVocabFile } from './bpe-tokenizer';
import { parsePlaceholderScheme, placeholderChar } from './placeholders';
import { readSeq2SeqArtifacts } from './seq2seq-weights';
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
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as T;
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
  };
  try {
    return new Translator(info, tokenizer, network, settings);
  } catch (err) {
    network.dispose();
    throw err;
  }
}
