import * as tf from '@tensorflow/tfjs';
import {
  DocumentInputError,
  type ClassificationResult,
  type EncodedDocument,
  type ModelInfo,
  type SummarizationResult,
  type TaskModel,
  type TaskOptions,
  type TaskResult,
  type TranslationResult,
} from '../../../src/core/models/types';

/**
 * The checks every model of every task must pass (bull-board-style adapter contract). Used by
 * contract.test.ts for each model in the registry, on each backend.
 */

export const SAMPLE_TEXTS = [
  'Congratulations! You have won a FREE prize. Click here now to claim your $1000 reward.',
  'Hi Tom, the meeting moved to Thursday. Dr. Smith will present the results. Please bring the report.',
  'The committee met on Monday. It reviewed the budget for the U.S. office. Costs rose by 3.5 percent. ' +
    'Members agreed to cut travel. The chair thanked the staff. A vote is planned for June.',
];

/**
 * Short inputs for translation: greedy decoding costs time per generated token, and the cpu backend
 * is ~8x slower than wasm, so long samples would make the suite take minutes.
 */
export const SHORT_SAMPLE_TEXTS = [
  'Click here to win a free prize.',
  'The meeting moved to Thursday.',
  'Thank you all.',
];

export function samplesFor(info: ModelInfo): string[] {
  return info.task === 'translation' ? SHORT_SAMPLE_TEXTS : SAMPLE_TEXTS;
}

export const SHORT_UNICODE_TEXT = 'Ünïcödé café, déjà vu 👍🏽. Привет!';

export function unicodeTextFor(info: ModelInfo): string {
  return info.task === 'translation' ? SHORT_UNICODE_TEXT : UNICODE_TEXT;
}

/**
 * Whether to run the full over-long document through runBatch, not only check its truncation:
 * skipped for translation on the plain-JS cpu backend, where decoding max_length tokens takes over
 * a minute (the wasm run of the same check covers the runtime's truncation path).
 */
export function runLongDocument(info: ModelInfo, backend: string): boolean {
  return !(info.task === 'translation' && backend === 'cpu');
}

export const UNICODE_TEXT =
  'Ünïcödé naïve café — déjà vu. 日本語のテキストです。 Привет, мир! Ελληνικά κείμενα. 🚀 Emoji 👍🏽 here. Cafe\u0301 combining.';

/**
 * Texts that are empty for every task once cleaned (whitespace, zero-width characters). Symbol-only
 * text is task-specific (a translator may pass punctuation through) and is tested per runtime.
 */
export const EMPTY_AFTER_CLEANING = ['   \n\t  ', '\u200b\u200b\u200b', '\u00a0\u2003\r\n'];

export function optionsFor(info: ModelInfo): TaskOptions {
  switch (info.task) {
    case 'classification':
      return {};
    case 'summarization':
      return { max_sentences: 2 };
    case 'translation':
      return { source_lang: info.source_lang ?? 'en', target_lang: info.target_lang ?? 'es' };
  }
}

/** Asserts the result has the task's shape (throws with a readable message otherwise). */
export function checkResultShape(
  info: ModelInfo,
  result: TaskResult,
  encoded: EncodedDocument,
  options: TaskOptions,
): void {
  switch (info.task) {
    case 'classification': {
      const r = result as ClassificationResult;
      expect(info.labels).toContain(r.label);
      expect(r.score).toBeGreaterThanOrEqual(0);
      expect(r.score).toBeLessThanOrEqual(1);
      const values = Object.values(r.scores);
      expect(Object.keys(r.scores).sort()).toEqual([...info.labels!].sort());
      expect(values.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      expect(r.score).toBe(Math.max(...values));
      expect(r.scores[r.label]).toBe(r.score);
      break;
    }
    case 'summarization': {
      const r = result as SummarizationResult;
      const n = (encoded.payload as { sentences: string[] }).sentences.length;
      const max = (options as { max_sentences?: number }).max_sentences ?? 3;
      expect(r.sentence_indices.length).toBe(Math.min(max, n));
      expect([...r.sentence_indices].sort((a, b) => a - b)).toEqual(r.sentence_indices);
      expect(new Set(r.sentence_indices).size).toBe(r.sentence_indices.length);
      for (const i of r.sentence_indices) expect(i >= 0 && i < n).toBe(true);
      expect(typeof r.summary).toBe('string');
      expect(r.summary.length).toBeGreaterThan(0);
      break;
    }
    case 'translation': {
      const r = result as TranslationResult;
      expect(typeof r.translation).toBe('string');
      expect(r.source_lang).toBe((options as { source_lang?: string }).source_lang ?? 'en');
      expect(r.target_lang).toBe((options as { target_lang?: string }).target_lang ?? 'es');
      break;
    }
  }
}

/** Two results are "the same" across batchings: equal labels/indices/text, scores within 1e-4. */
export function expectSameResult(info: ModelInfo, a: TaskResult, b: TaskResult): void {
  if (info.task === 'classification') {
    const x = a as ClassificationResult;
    const y = b as ClassificationResult;
    expect(x.label).toBe(y.label);
    for (const label of Object.keys(x.scores))
      expect(Math.abs(x.scores[label]! - y.scores[label]!)).toBeLessThan(1e-4);
  } else {
    expect(a).toEqual(b);
  }
}

export function longText(info: ModelInfo): string {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'budget', 'report', 'meeting', 'offer'];
  const sentences: string[] = [];
  for (let i = 0; i < info.maxLength + 50; i += 8) {
    sentences.push(`The ${words[i % 8]} ${words[(i + 3) % 8]} number ${i} was ${words[(i + 5) % 8]} again.`);
  }
  return sentences.join(' ');
}

export async function expectDocumentInputError(
  model: TaskModel,
  text: string,
  options: TaskOptions,
): Promise<string> {
  let caught: unknown;
  try {
    const encoded = model.encode(text, options);
    await model.runBatch([encoded], options);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(DocumentInputError);
  const code = (caught as DocumentInputError).code;
  expect(code).toMatch(/^[A-Z][A-Z_]+$/);
  return code;
}

export function numTensors(): number {
  return tf.memory().numTensors;
}
