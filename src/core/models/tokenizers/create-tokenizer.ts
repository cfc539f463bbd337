import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ClassifierTokenizerConfig } from '../classification/classifier-encoder';
import { loadFailed } from '../model-errors';
import { parseHuggingFaceTokenizer } from './huggingface-tokenizer';
import { parseKerasTokenizer } from './keras-tokenizer';
import type { TextTokenizer } from './text-tokenizer';
import { Vocabulary } from './vocabulary';
import { WordTextTokenizer } from './word-text-tokenizer';

/** The `tokenizer.type` values `config.json` can name. */
export const TOKENIZER_TYPES = ['word', 'keras', 'huggingface'] as const;

/** A `tokenizer.type` of `config.json`. */
export type TokenizerType = (typeof TOKENIZER_TYPES)[number];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readText(dir: string, file: string, field: string): string {
  const resolved = path.resolve(dir, file);
  const rel = path.relative(path.resolve(dir), resolved);
  if (rel.startsWith('..') || path.isAbsolute(rel))
    throw loadFailed(file, 'is outside the model directory', field);
  try {
    return readFileSync(resolved, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'file not found' : (e.message.split('\n')[0] ?? 'unreadable');
    throw loadFailed(file, why, field);
  }
}

function fileField(tok: Record<string, unknown>, fallback: string, field: string): string {
  const file = tok.file ?? fallback;
  if (typeof file !== 'string' || file === '') {
    throw loadFailed('config.json', `not a file name: ${JSON.stringify(file)}`, field);
  }
  return file;
}

function optionalBool(tok: Record<string, unknown>, name: string): boolean | undefined {
  const v = tok[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') {
    throw loadFailed('config.json', `not a boolean: ${JSON.stringify(v)}`, `tokenizer.${name}`);
  }
  return v;
}

/**
 * The tokenizer a model's `config.json` names, read from the model's version directory `dir`
 * (synchronously: it is called in worker threads). `config.tokenizer` is
 * `{type: "word" | "keras" | "huggingface", file?, ...}` (default `{type: "word"}`):
 *
 * - `word`: docbatch's word tokenizer over `config.vocab_file` (default `vocab.txt`), with
 *   `lowercase`, `bigrams` and `strip_email_headers`.
 * - `keras`: `file` (default `tokenizer.json`) holds the string Keras `Tokenizer.to_json()` returned.
 * - `huggingface`: `file` (default `tokenizer.json`) is a Hugging Face `tokenizers` file.
 *
 * Every problem is a ModelError naming the file and the field (an unknown type names
 * `config.json tokenizer.type`).
 */
export function createTokenizer(dir: string, config: Record<string, unknown>): TextTokenizer {
  const raw = config.tokenizer ?? { type: 'word' };
  if (!isRecord(raw)) throw loadFailed('config.json', 'not a JSON object', 'tokenizer');
  const type = raw.type ?? 'word';
  switch (type) {
    case 'word': {
      const vocabFile = config.vocab_file ?? 'vocab.txt';
      if (typeof vocabFile !== 'string' || vocabFile === '') {
        throw loadFailed('config.json', `not a file name: ${JSON.stringify(vocabFile)}`, 'vocab_file');
      }
      const lines = readText(dir, vocabFile, 'config.json vocab_file').split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      let vocab: Vocabulary;
      try {
        vocab = new Vocabulary(lines);
      } catch (err) {
        throw loadFailed(vocabFile, (err as Error).message);
      }
      const wordConfig: ClassifierTokenizerConfig = {
        type: 'word',
        lowercase: optionalBool(raw, 'lowercase'),
        bigrams: optionalBool(raw, 'bigrams'),
        strip_email_headers: optionalBool(raw, 'strip_email_headers'),
      };
      return new WordTextTokenizer(vocab, wordConfig);
    }
    case 'keras': {
      const file = fileField(raw, 'tokenizer.json', 'tokenizer.file');
      return parseKerasTokenizer(readText(dir, file, 'config.json tokenizer.file'), file);
    }
    case 'huggingface': {
      const file = fileField(raw, 'tokenizer.json', 'tokenizer.file');
      return parseHuggingFaceTokenizer(readText(dir, file, 'config.json tokenizer.file'), file);
    }
    default:
      throw loadFailed(
        'config.json',
        `unknown tokenizer type ${JSON.stringify(type)} (expected ${TOKENIZER_TYPES.map((t) => `"${t}"`).join(', ')})`,
        'tokenizer.type',
      );
  }
}
