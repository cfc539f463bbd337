import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

import { initTfBackend } from '../../../src/core/models/backend';
import { backendName, testBackends } from '../../support/test-backend';
import { loadTranslator, type TranslationPayload } from '../../../src/core/models/translation';
import { BpeTokenizer } from '../../../src/core/models/translation/bpe-tokenizer';
import { segmentSentences } from '../../../src/core/models/translation/sentence-segmenter';
import type { ModelInfo, TaskModel, TranslationResult } from '../../../src/core/models/types';
import { DocumentInputError } from '../../../src/core/models/types';

// Model load and greedy decoding of a few sentences take a few seconds per test on the wasm backend.
jest.setTimeout(30_000);

const MODEL_DIR = path.resolve(__dirname, '../../../models/en-es-translator/1');

function bundledInfo(overrides: Partial<ModelInfo> = {}): ModelInfo {
  const c = JSON.parse(readFileSync(path.join(MODEL_DIR, 'config.json'), 'utf8')) as {
    name: string;
    version: number;
    source_lang: string;
    target_lang: string;
    max_length: number;
  };
  return {
    id: `${c.name}@${c.version}`,
    name: c.name,
    version: c.version,
    task: 'translation',
    source_lang: c.source_lang,
    target_lang: c.target_lang,
    maxLength: c.max_length,
    dir: MODEL_DIR,
    ...overrides,
  };
}

async function translate(model: TaskModel, texts: string[]): Promise<string[]> {
  const encoded = texts.map((t) => model.encode(t, {}));
  const results = (await model.runBatch(encoded, {})) as TranslationResult[];
  return results.map((r) => r.translation);
}

const SENTENCES = [
  'The President spoke to Congress about the economy.',
  'We must reduce taxes and balance the budget.',
  'The government of the United States must protect the people.',
  'Please send me the new version of the file.',
];

describe('en-es translator (bundled model)', () => {
  let model: TaskModel;

  beforeAll(async () => {
    const [backend] = testBackends(['wasm']);
    await expect(initTfBackend(backend)).resolves.toBe(backendName(backend!));
    model = await loadTranslator(bundledInfo());
  });

  afterAll(() => model?.dispose());

  it('returns one Spanish translation per input, in order, with the language pair', async () => {
    const encoded = SENTENCES.map((t) => model.encode(t, { source_lang: 'en', target_lang: 'es' }));
    const results = (await model.runBatch(encoded, {})) as TranslationResult[];
    expect(results).toHaveLength(SENTENCES.length);
    for (const r of results) {
      expect(r.source_lang).toBe('en');
      expect(r.target_lang).toBe('es');
      expect(r.translation.length).toBeGreaterThan(5);
    }
    const [president, taxes, government, file] = results.map((r) => r.translation.toLowerCase());
    expect(president).toMatch(/presidente/);
    expect(president).toMatch(/congreso/);
    expect(president).toMatch(/econom/);
    expect(taxes).toMatch(/impuestos/);
    expect(taxes).toMatch(/presupuesto/);
    expect(government).toMatch(/gobierno/);
    expect(government).toMatch(/estados unidos/);
    expect(file).toMatch(/versi[oó]n/);
    // Not a copy of the input.
    results.forEach((r, i) => expect(r.translation).not.toBe(SENTENCES[i]));
  });

  it('is deterministic', async () => {
    const first = await translate(model, SENTENCES);
    const second = await translate(model, SENTENCES);
    expect(second).toEqual(first);
  });

  it('gives the same output for a document alone as inside a padded batch', async () => {
    const docs = [
      SENTENCES[0]!,
      SENTENCES[2]!,
      'Yes.',
      'The Government of the United States has always sought peace with every nation of the world, and it will continue to do so in the coming years.',
    ];
    const batched = await translate(model, docs);
    const single: string[] = [];
    for (const d of docs) single.push(...(await translate(model, [d])));
    expect(batched).toEqual(single);
  });

  it('translates every sentence of a multi-sentence document and keeps paragraph breaks', async () => {
    const doc = 'The war is over. Our soldiers are coming home.\n\nThe economy is growing again.';
    const encoded = model.encode(doc, {});
    expect((encoded.payload as TranslationPayload).segmentLengths).toHaveLength(3);
    const [out] = await translate(model, [doc]);
    const paragraphs = out!.split('\n\n');
    expect(paragraphs).toHaveLength(2);
    expect(paragraphs[0]!.toLowerCase()).toMatch(/soldados/);
    expect(paragraphs[1]!.toLowerCase()).toMatch(/econom/);
  });

  it('rejects a text that is empty after cleaning', () => {
    for (const text of ['', '   \n\t  ', '\u200b\u200b']) {
      expect(() => model.encode(text, {})).toThrow(DocumentInputError);
      try {
        model.encode(text, {});
      } catch (err) {
        expect((err as DocumentInputError).code).toBe('EMPTY_TEXT');
      }
    }
  });

  it('rejects a language pair the model does not have, in encode and in runBatch', async () => {
    const expectPairError = (fn: () => unknown): void => {
      try {
        fn();
        throw new Error('expected UNSUPPORTED_LANGUAGE_PAIR');
      } catch (err) {
        expect(err).toBeInstanceOf(DocumentInputError);
        expect((err as DocumentInputError).code).toBe('UNSUPPORTED_LANGUAGE_PAIR');
      }
    };
    expectPairError(() => model.encode('Hello there.', { source_lang: 'en', target_lang: 'fr' }));
    expectPairError(() => model.encode('Hola.', { source_lang: 'es' }));
    expect(() => model.encode('Hello there.', { source_lang: 'EN', target_lang: 'Es' })).not.toThrow();
    const encoded = model.encode('Hello there.', {});
    await expect(model.runBatch([encoded], { target_lang: 'de' })).rejects.toMatchObject({
      code: 'UNSUPPORTED_LANGUAGE_PAIR',
    });
  });

  it('truncates a long text to the max length and still translates it', async () => {
    const small = await loadTranslator(bundledInfo({ maxLength: 48 }));
    try {
      const long = Array.from(
        { length: 40 },
        (_, i) => `This is sentence number ${i + 1} of a long letter.`,
      ).join(' ');
      const encoded = small.encode(long, {});
      const payload = encoded.payload as TranslationPayload;
      expect(payload.truncated).toBe(true);
      expect(encoded.length).toBeLessThanOrEqual(48);
      expect(encoded.ids.length).toBeLessThan(48);
      expect(payload.segmentLengths.reduce((a, b) => a + b, 0)).toBe(encoded.ids.length);
      const [result] = (await small.runBatch([encoded], {})) as TranslationResult[];
      expect(result!.translation.length).toBeGreaterThan(0);
      expect(result!.translation.length).toBeLessThan(long.length);
      // A single unbroken sentence longer than the segment limit is cut into pieces, not dropped.
      const oneSentence = Array.from({ length: 60 }, () => 'the people and the government').join(' ') + '.';
      const enc2 = model.encode(oneSentence, {});
      expect((enc2.payload as TranslationPayload).segmentLengths.length).toBeGreaterThan(1);
      expect(Math.max(...(enc2.payload as TranslationPayload).segmentLengths)).toBeLessThanOrEqual(64);
    } finally {
      small.dispose();
    }
  });

  it('leaks no tensors across many runBatch calls, and dispose releases the weights', async () => {
    const encoded = SENTENCES.slice(0, 2).map((t) => model.encode(t, {}));
    await model.runBatch(encoded, {});
    const before = tf.memory().numTensors;
    for (let i = 0; i < 8; i += 1) await model.runBatch(i % 2 ? encoded : encoded.slice(0, 1), {});
    expect(tf.memory().numTensors).toBe(before);

    const extra = await loadTranslator(bundledInfo());
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    extra.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await expect(extra.runBatch(encoded, {})).rejects.toThrow(/disposed/);
  });
});

describe('BPE tokenizer', () => {
  const vocab = JSON.parse(readFileSync(path.join(MODEL_DIR, 'vocab.json'), 'utf8')) as ConstructorParameters<
    typeof BpeTokenizer
  >[0];
  const tok = new BpeTokenizer(vocab);

  it('round-trips text through encode/decode', () => {
    for (const text of [
      'The President spoke to Congress.',
      'Él dijo: "Hola, señor García."',
      'In 1998, 42% rose.',
    ]) {
      expect(tok.decode(tok.encode(text))).toBe(text);
    }
  });

  it('maps unseen characters to <unk> instead of failing', () => {
    const ids = tok.encode('hello \u4e16\u754c');
    expect(ids).toContain(3);
    expect(tok.decode(ids)).toBe('hello');
  });
});

describe('sentence segmenter', () => {
  it('splits sentences, respects abbreviations and marks paragraph ends', () => {
    const segs = segmentSentences(
      'Mr. Smith went to Washington. He met Dr. Jones!\nThen he left.\n\nNew paragraph?',
    );
    expect(segs.map((s) => s.text)).toEqual([
      'Mr. Smith went to Washington.',
      'He met Dr. Jones!',
      'Then he left.',
      'New paragraph?',
    ]);
    expect(segs.map((s) => s.separator)).toEqual([' ', ' ', '\n\n', '\n\n']);
  });

  it('uses the shared splitter: .--Mr., dialogue, speech split by sentence, symbol-only paragraphs kept', () => {
    const segs = segmentSentences(
      'It had often been.--Mr. Knightley came. "Oh! Mr. Knightley," said she. "I cannot. I will not."\n\n* * *',
    );
    expect(segs.map((s) => s.text)).toEqual([
      'It had often been.',
      'Mr. Knightley came.',
      '"Oh! Mr. Knightley," said she.',
      '"I cannot.',
      'I will not."',
      '* * *',
    ]);
    expect(segs.map((s) => s.separator)).toEqual([' ', ' ', ' ', ' ', '\n\n', '\n\n']);
  });
});
