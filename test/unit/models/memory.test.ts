import * as tf from '@tensorflow/tfjs';
import { initTfBackend } from '../../../src/core/models/backend';
import { backendName, testBackends } from '../../support/test-backend';
import { ModelRegistry } from '../../../src/core/models/registry';
import type { TaskModel } from '../../../src/core/models/types';

/**
 * A long-running worker calls runBatch millions of times; no call may leave a tensor behind. On wasm,
 * or `TEST_TF_BACKEND`.
 */
const [BACKEND] = testBackends(['wasm']);

describe(`tensor memory (${BACKEND})`, () => {
  const registry = new ModelRegistry();
  let classifier: TaskModel;
  let summarizer: TaskModel;

  beforeAll(async () => {
    await expect(initTfBackend(BACKEND)).resolves.toBe(backendName(BACKEND!));
    classifier = await registry.load((await registry.resolve('classification')).id);
    summarizer = await registry.load((await registry.resolve('summarization')).id);
  });
  afterAll(() => registry.disposeAll());

  it('10,000 tiny classification runBatch calls do not grow tf.memory().numTensors', async () => {
    const batch = [classifier.encode('win money now', {})];
    await classifier.runBatch(batch, {});
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10_000; i++) await classifier.runBatch(batch, { top_k: 1 });
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000);

  // 3,000 rather than 10,000 to keep the unit suite fast: each call runs ~40 kernels (30 iterations).
  it('3,000 tiny summarization runBatch calls do not grow tf.memory().numTensors', async () => {
    const batch = [summarizer.encode('Budget talks. The budget passed. Rain.', {})];
    await summarizer.runBatch(batch, {});
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3_000; i++) await summarizer.runBatch(batch, { max_sentences: 1 });
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000);

  it('disposing the models releases their weights', async () => {
    const before = tf.memory().numTensors;
    await registry.disposeAll();
    expect(tf.memory().numTensors).toBeLessThan(before);
    const fresh = new ModelRegistry();
    const start = tf.memory().numTensors;
    await fresh.load((await fresh.resolve('classification')).id);
    await fresh.disposeAll();
    expect(tf.memory().numTensors).toBe(start);
  });
});
