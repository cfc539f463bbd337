import { initTfBackend } from '../../../src/core/models/backend';
import { backendName, testBackends } from '../../support/test-backend';
import { ModelRegistry } from '../../../src/core/models/registry';
import type { ModelInfo, TaskModel, TaskResult } from '../../../src/core/models/types';
import {
  EMPTY_AFTER_CLEANING,
  SAMPLE_TEXTS,
  checkResultShape,
  expectDocumentInputError,
  expectSameResult,
  longText,
  numTensors,
  optionsFor,
  runLongDocument,
  samplesFor,
  unicodeTextFor,
} from './model-contract';

/**
 * Every model in the bundled repository (whatever the task: classification, summarization,
 * translation) through the same checks, on the wasm and cpu backends (or `TEST_TF_BACKEND`, e.g.
 * `tensorflow`).
 */
const MODELS: ModelInfo[] = new ModelRegistry().configured();

jest.setTimeout(120_000);

test('the bundled repository has a model for classification and summarization', () => {
  const tasks = new Set(MODELS.map((m) => m.task));
  expect(tasks).toContain('classification');
  expect(tasks).toContain('summarization');
});

/**
 * A classifier with a fixed input length (config.json `input.length`, or the network's own) encodes
 * every document to exactly that many ids, so documents never differ in length.
 */
function hasFixedLength(model: TaskModel, info: ModelInfo): boolean {
  if (info.task !== 'classification') return false;
  return (
    model.encode('word', {}).ids.length === model.encode(SAMPLE_TEXTS.join(' ').repeat(20), {}).ids.length
  );
}

describe.each(testBackends(['wasm', 'cpu']))('on the %s backend', (backend) => {
  let registry: ModelRegistry;

  beforeAll(async () => {
    await expect(initTfBackend(backend)).resolves.toBe(backendName(backend));
    registry = new ModelRegistry();
  });

  afterAll(async () => {
    await registry.disposeAll();
  });

  describe.each(MODELS.map((m) => [m.id, m] as const))('%s', (_id, info) => {
    let model: TaskModel;
    const options = optionsFor(info);
    const samples = samplesFor(info);

    beforeAll(async () => {
      model = await registry.load(info.id);
    });

    it('returns one well-formed result per input, in input order', async () => {
      const encoded = samples.map((t) => model.encode(t, options));
      for (const e of encoded) {
        expect(e.ids).toBeInstanceOf(Int32Array);
        expect(e.length).toBeGreaterThan(0);
        expect(e.ids.length).toBeLessThanOrEqual(info.maxLength);
      }
      const results = await model.runBatch(encoded, options);
      expect(results).toHaveLength(samples.length);
      results.forEach((r, i) => checkResultShape(info, r, encoded[i]!, options));
      // Order: each batched result equals the result of that document run alone.
      for (let i = 0; i < encoded.length; i++) {
        const [alone] = await model.runBatch([encoded[i]!], options);
        expectSameResult(info, results[i]!, alone!);
      }
      await expect(model.runBatch([], options)).resolves.toEqual([]);
    });

    it('is deterministic across repeated runs and across batch compositions', async () => {
      const text = samples[1]!;
      const first = model.encode(text, options);
      const again = model.encode(text, options);
      expect(Array.from(again.ids)).toEqual(Array.from(first.ids));
      const a = await model.runBatch([first], options);
      const b = await model.runBatch([first], options);
      expect(b).toEqual(a);
      // Next to a much longer document, the short one is padded; its result must not change. (A
      // model with a fixed input length pads every document to it when encoding.)
      const long = model.encode(samples.join(' '), options);
      if (!hasFixedLength(model, info)) expect(long.length).toBeGreaterThan(first.length);
      const [padded] = await model.runBatch([first, long], options);
      expectSameResult(info, padded!, a[0]!);
    });

    it('handles unicode text', async () => {
      const encoded = model.encode(unicodeTextFor(info), options);
      const [result] = await model.runBatch([encoded], options);
      checkResultShape(info, result!, encoded, options);
    });

    it.each(EMPTY_AFTER_CLEANING.map((t) => [JSON.stringify(t), t]))(
      'rejects %s (empty after cleaning) with a DocumentInputError code, or scores it as all padding (fixed input length, as Keras does)',
      async (_label, text) => {
        if (!hasFixedLength(model, info)) {
          await expectDocumentInputError(model, text, options);
          return;
        }
        const encoded = model.encode(text, options);
        const [result] = await model.runBatch([encoded], options);
        checkResultShape(info, result!, encoded, options);
      },
    );

    it('truncates text longer than max_length and still returns a result', async () => {
      const text = longText(info);
      const encoded = model.encode(text, options);
      expect(encoded.ids.length).toBeLessThanOrEqual(info.maxLength);
      expect(encoded.length).toBeLessThanOrEqual(info.maxLength);
      if (!runLongDocument(info, backend)) return;
      const [result] = await model.runBatch([encoded], options);
      checkResultShape(info, result!, encoded, options);
    });

    it('does not keep tensors between runBatch calls', async () => {
      const encoded = samples.map((t) => model.encode(t, options));
      await model.runBatch(encoded, options);
      const before = numTensors();
      let last: TaskResult[] = [];
      // Any leak shows on the first call after warm-up; translation decodes slowly, so fewer calls.
      const calls = info.task === 'translation' ? 1 : 3;
      for (let i = 0; i < calls; i++) last = await model.runBatch(encoded, options);
      expect(last).toHaveLength(encoded.length);
      expect(numTensors()).toBe(before);
    });
  });
});
