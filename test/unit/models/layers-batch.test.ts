import * as tf from '@tensorflow/tfjs';
import { initTfBackend } from '../../../src/core/models/backend';
import { ModelRegistry } from '../../../src/core/models/registry';

/**
 * A Keras (tfjs-layers) network runs a tensor batch in one pass: LayersModel.predict's default
 * batchSize of 32 cut every batch into slices of 32 run one after another, so every op's fixed cost
 * was paid per 32 documents (the sentiment classifier's GRUs ran 5x slower on the native backend). On
 * wasm, passes hold at most 16,384 token ids (faster there for the spam classifier's long inputs).
 */
jest.setTimeout(60_000);

it('runs the bundled sentiment classifier (Keras .h5, GRUs) on 100 documents as one batch of 100 (wasm)', async () => {
  await initTfBackend('wasm');
  const registry = new ModelRegistry();
  const info = await registry.resolve('classification', 'sentiment-classifier@1');
  const model = await registry.load(info);
  try {
    const docs = Array.from({ length: 100 }, (_, i) => model.encode(`review ${i}: the food was great`, {}));
    const prof = await tf.profile(async () => {
      await model.runBatch(docs, {});
    });
    const leading = new Set(
      prof.kernels
        .filter((k) => k.name === 'BatchMatMul')
        .map((k) => (k.inputShapes[0] as number[] | undefined)?.[0]),
    );
    expect(leading).toEqual(new Set([100]));
    // On wasm, passes of at most 16,384 token ids: 300 documents of 64 tokens run as 256 + 44.
    const more = Array.from({ length: 300 }, (_, i) => model.encode(`review ${i}: the food was great`, {}));
    const prof2 = await tf.profile(async () => {
      await model.runBatch(more, {});
    });
    const rows = prof2.kernels
      .filter((k) => k.name === 'BatchMatMul')
      .map((k) => (k.inputShapes[0] as number[] | undefined)?.[0]);
    expect(new Set(rows)).toEqual(new Set([256, 44]));
  } finally {
    model.dispose?.();
  }
});
