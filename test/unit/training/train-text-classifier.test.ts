import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initTfBackend } from '../../../src/core/models/backend';
import { ModelRegistry } from '../../../src/core/models/registry';
import { parseKerasTokenizer } from '../../../src/core/models/tokenizers/keras-tokenizer';
import type { ClassificationResult } from '../../../src/core/models/types';
import {
  checkTrainingRequest,
  InvalidHyperparametersError,
  NaiveBayes,
  RECIPES,
  TrainingCancelledError,
  TrainingDataError,
  trainTextClassifier,
  type TrainTextClassifierResult,
} from '../../../src/core/training';
import { testBackends } from '../../support/test-backend';
import { loadUciSentences } from '../../support/uci-sentences';

/**
 * The training library of issue 20 on the 3,000 UCI sentiment sentences (npm sentiment@5.0.2's
 * fixtures): deterministic files, a contract model the registry serves with the same scores as
 * tfjs' own predict, a held-out accuracy above naive Bayes on the same split, cancellation and
 * the hyperparameter checks.
 */
jest.setTimeout(120_000);

const UCI = loadUciSentences();
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const digests = (r: TrainTextClassifierResult): Record<string, string> =>
  Object.fromEntries([...r.files].filter(([n]) => n !== 'card.md').map(([n, b]) => [n, sha(b)]));

describe('on a small labelled set', () => {
  const small = UCI.filter((_, i) => i % 6 === 0);
  // A smaller table and fewer filters than the defaults keep these runs short.
  const hp = { epochs: 3, seed: 7, pretrained_words: 2000, pair_filters: 8 };

  it('gives byte-identical model files for the same examples, recipe and seed, and other files for another seed', async () => {
    const a = await trainTextClassifier({
      examples: small,
      recipe: 'embedding-pooling',
      hyperparameters: hp,
    });
    const b = await trainTextClassifier({
      examples: (async function* () {
        yield* small;
      })(),
      recipe: 'embedding-pooling',
      hyperparameters: hp,
    });
    expect(digests(b)).toEqual(digests(a));
    expect(b.held_out_indices).toEqual(a.held_out_indices);
    const c = await trainTextClassifier({
      examples: small,
      recipe: 'embedding-pooling',
      hyperparameters: { ...hp, seed: 8 },
    });
    expect(sha(c.files.get('weights.bin')!)).not.toBe(sha(a.files.get('weights.bin')!));
    expect([...a.files.keys()].sort()).toEqual([
      'card.md',
      'config.json',
      'model.json',
      'tokenizer.json',
      'weights.bin',
    ]);
  });

  it('resumes from a checkpoint of a cancelled run to the same files as an uninterrupted run', async () => {
    const hp4 = { ...hp, epochs: 4 };
    const checkpoints = new Map<number, Buffer>();
    const whole = await trainTextClassifier({
      examples: small,
      recipe: 'embedding-pooling',
      hyperparameters: hp4,
      onCheckpoint: (c, epoch) => {
        checkpoints.set(epoch, c);
      },
    });
    expect([...checkpoints.keys()]).toEqual([1, 2, 3, 4]);
    // A worker dies after epoch 2: the job runs again from the checkpoint it stored.
    const controller = new AbortController();
    let saved: Buffer | undefined;
    await expect(
      trainTextClassifier({
        examples: small,
        recipe: 'embedding-pooling',
        hyperparameters: hp4,
        signal: controller.signal,
        onCheckpoint: (c, epoch) => {
          saved = c;
          if (epoch === 2) controller.abort();
        },
      }),
    ).rejects.toBeInstanceOf(TrainingCancelledError);
    expect(saved?.equals(checkpoints.get(2)!)).toBe(true);
    const epochs: number[] = [];
    const resumed = await trainTextClassifier({
      examples: small,
      recipe: 'embedding-pooling',
      hyperparameters: hp4,
      resume: saved,
      onProgress: (p) => {
        epochs.push(p.epoch);
      },
    });
    expect(epochs).toEqual([3, 4]);
    expect(resumed.metrics.resumed_from_epoch).toBe(2);
    expect(digests(resumed)).toEqual(digests(whole));
    expect(resumed.metrics.val_accuracy).toBe(whole.metrics.val_accuracy);
    // A checkpoint of another run (another seed) is ignored: training starts over.
    const other = await trainTextClassifier({
      examples: small,
      recipe: 'embedding-pooling',
      hyperparameters: { ...hp4, seed: 8 },
      resume: checkpoints.get(3),
    });
    expect(other.metrics.resumed_from_epoch).toBe(0);
  });

  it('caps the vocabulary at max_words, the rarer words reading as the OOV token', async () => {
    const r = await trainTextClassifier({
      examples: small,
      recipe: 'embedding-pooling',
      hyperparameters: { ...hp, epochs: 1, max_words: 300 },
    });
    expect(r.metrics.vocabulary_size).toBe(300);
    const tok = parseKerasTokenizer(r.files.get('tokenizer.json')!.toString());
    expect(tok.vocabSize).toBe(300);
    expect(Array.from(tok.encode('the zyzzyva').ids)).toEqual([tok.config.wordIndex.get('the'), 1]);
    const spec = JSON.parse(r.files.get('model.json')!.toString()) as {
      weightsManifest: { weights: { name: string; shape: number[] }[] }[];
    };
    expect(spec.weightsManifest[0]!.weights.find((w) => w.name.startsWith('embedding'))!.shape[0]).toBe(300);
  });

  it('holds out a stratified share of each label', async () => {
    const r = await trainTextClassifier({
      examples: small,
      recipe: 'embedding-pooling',
      hyperparameters: { ...hp, epochs: 1 },
    });
    const held = r.held_out_indices.map((i) => small[i]!);
    for (const label of ['negative', 'positive']) {
      const n = small.filter((e) => e.label === label).length;
      const h = held.filter((e) => e.label === label).length;
      expect(Math.abs(h - n * 0.2)).toBeLessThanOrEqual(1);
    }
    expect(r.metrics.validation_size).toBe(held.length);
    expect(r.metrics.train_size + r.metrics.validation_size).toBe(small.length);
  });

  it('stops between batches when the signal fires', async () => {
    const controller = new AbortController();
    const epochs: number[] = [];
    const run = trainTextClassifier({
      examples: small,
      recipe: 'embedding-pooling',
      hyperparameters: { ...hp, epochs: 50, seed: 1 },
      signal: controller.signal,
      onProgress: (p) => {
        epochs.push(p.epoch);
        if (p.epoch === 2) controller.abort();
      },
    });
    await expect(run).rejects.toBeInstanceOf(TrainingCancelledError);
    expect(epochs).toEqual([1, 2]);
    const aborted = new AbortController();
    aborted.abort();
    await expect(
      trainTextClassifier({ examples: small, recipe: 'embedding-pooling', signal: aborted.signal }),
    ).rejects.toBeInstanceOf(TrainingCancelledError);
  });

  it('reports progress after every epoch with loss, held-out accuracy and an ETA', async () => {
    const seen: { epoch: number; epochs: number; loss: number; val_accuracy: number; eta_seconds: number }[] =
      [];
    await trainTextClassifier({
      examples: small,
      recipe: 'embedding-pooling',
      hyperparameters: hp,
      onProgress: (p) => {
        seen.push(p);
      },
    });
    expect(seen.map((p) => p.epoch)).toEqual([1, 2, 3]);
    for (const p of seen) {
      expect(p.epochs).toBe(3);
      expect(p.loss).toBeGreaterThan(0);
      expect(p.val_accuracy).toBeGreaterThanOrEqual(0);
      expect(p.eta_seconds).toBeGreaterThanOrEqual(0);
    }
    expect(seen[2]!.eta_seconds).toBe(0);
  });

  it('refuses data it cannot train on', async () => {
    await expect(
      trainTextClassifier({
        examples: small.map((e) => ({ ...e, label: 'one' })),
        recipe: 'embedding-pooling',
      }),
    ).rejects.toThrow(/at least 2 labels/);
    await expect(
      trainTextClassifier({
        examples: [...small, { text: 'lonely', label: 'rare' }],
        recipe: 'embedding-pooling',
      }),
    ).rejects.toBeInstanceOf(TrainingDataError);
    await expect(
      trainTextClassifier({ examples: [{ text: '', label: 'a' }], recipe: 'embedding-pooling' }),
    ).rejects.toMatchObject({ code: 'INVALID_TRAINING_DATA', index: 0 });
  });
});

describe('hyperparameter and recipe checks', () => {
  it('lists the recipes', () => {
    expect(RECIPES).toContain('embedding-pooling');
  });

  it('fills in the defaults', () => {
    const check = checkTrainingRequest('embedding-pooling', { epochs: 3 });
    expect(check.ok).toBe(true);
    if (check.ok) expect(check.hyperparameters).toMatchObject({ epochs: 3, validation_split: 0.2, seed: 42 });
  });

  it('names every bad field', () => {
    const check = checkTrainingRequest('lstm-please', {
      epochs: 0,
      validation_split: 0.9,
      seed: -1,
      learning_rate: 'fast',
      embeddings: 'word2vec',
      epoch: 3,
    });
    expect(check.ok).toBe(false);
    if (!check.ok)
      expect(check.errors.map((e) => e.field).sort()).toEqual([
        'hyperparameters.embeddings',
        'hyperparameters.epoch',
        'hyperparameters.epochs',
        'hyperparameters.learning_rate',
        'hyperparameters.seed',
        'hyperparameters.validation_split',
        'recipe',
      ]);
    expect(checkTrainingRequest('embedding-pooling', 'epochs=3').ok).toBe(false);
  });

  it('refuses bad input in trainTextClassifier with a 400 INVALID_REQUEST error', async () => {
    const run = trainTextClassifier({
      examples: [],
      recipe: 'embedding-pooling',
      hyperparameters: { epochs: 1.5 },
    });
    await expect(run).rejects.toBeInstanceOf(InvalidHyperparametersError);
    await expect(run).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
      status: 400,
      details: [{ field: 'hyperparameters.epochs', message: expect.any(String) }],
    });
  });
});

describe('on the 3,000 UCI sentences', () => {
  let result: TrainTextClassifierResult;
  let dir: string;

  beforeAll(async () => {
    result = await trainTextClassifier({ examples: UCI, recipe: 'embedding-pooling', name: 'uci-sentiment' });
    dir = mkdtempSync(path.join(os.tmpdir(), 'docbatch-trained-'));
    const version = path.join(dir, 'uci-sentiment', '1');
    mkdirSync(version, { recursive: true });
    for (const [name, bytes] of result.files) writeFileSync(path.join(version, name), bytes);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('beats a naive Bayes baseline trained and scored on the same split', () => {
    const held = new Set(result.held_out_indices);
    const nb = new NaiveBayes(UCI.filter((_, i) => !held.has(i)));
    const nbAccuracy = nb.accuracy(UCI.filter((_, i) => held.has(i)));
    console.log(
      `UCI held-out (${held.size} sentences): trained ${(100 * result.metrics.val_accuracy).toFixed(1)}%, naive Bayes ${(100 * nbAccuracy).toFixed(1)}% (${result.metrics.seconds_per_epoch.toFixed(2)} s/epoch)`,
    );
    expect(result.metrics.naive_bayes_val_accuracy).toBeCloseTo(nbAccuracy, 10);
    expect(result.metrics.val_accuracy).toBeGreaterThan(nbAccuracy);
  });

  it('writes a contract config and a card with the held-out figures', () => {
    const config = JSON.parse(result.files.get('config.json')!.toString()) as Record<string, unknown>;
    expect(config).toMatchObject({
      task: 'classification',
      runtime: 'text-classifier',
      labels: ['negative', 'positive'],
      model_file: 'model.json',
      tokenizer: { type: 'keras', file: 'tokenizer.json' },
      input: { length: 128, padding: 'post', truncating: 'post' },
      output: 'probabilities',
    });
    const card = result.files.get('card.md')!.toString();
    expect(card).toContain(`${(100 * result.metrics.val_accuracy).toFixed(1)}%`);
    expect(card).toContain('seed 42');
    expect(card).toContain('Where it fails');
    const tok = parseKerasTokenizer(result.files.get('tokenizer.json')!.toString());
    expect(tok.vocabSize).toBe(result.metrics.vocabulary_size);
  });

  describe.each(testBackends(['wasm', 'cpu']))('served on the %s backend', (backend) => {
    let registry: ModelRegistry;
    beforeAll(async () => {
      await initTfBackend(backend);
      registry = new ModelRegistry({ modelsDir: dir, bundledDir: null });
    });
    afterAll(() => registry.disposeAll());

    it("loads through the registry and scores like tfjs' own predict (within 1e-6) and like training's evaluation", async () => {
      expect(await registry.problems()).toEqual([]);
      const model = await registry.load('uci-sentiment@1');
      // The plain-JS cpu backend is ~50x slower than wasm at this: 64 sentences there.
      const all = result.held_out_indices.map((i) => UCI[i]!);
      const held = backend === 'cpu' ? all.slice(0, 64) : all;
      const docs = held.map((e) => model.encode(e.text, {}));
      const served: ClassificationResult[] = [];
      for (let i = 0; i < docs.length; i += 64)
        served.push(...((await model.runBatch(docs.slice(i, i + 64), {})) as ClassificationResult[]));

      const version = path.join(dir, 'uci-sentiment', '1');
      const { loadLayersModelFromDir } = await import('../../../src/core/models/io/tfjs-files');
      const net = await loadLayersModelFromDir(version);
      const tok = parseKerasTokenizer(result.files.get('tokenizer.json')!.toString());
      const ids = new Int32Array(held.length * 128);
      held.forEach((e, i) => ids.set(tok.encode(e.text).ids.slice(0, 128), i * 128));
      const x = tf.tensor2d(ids, [held.length, 128], 'int32');
      const y = net.predict(x) as tf.Tensor2D;
      const want = y.arraySync();
      x.dispose();
      y.dispose();
      net.dispose();
      let worst = 0;
      served.forEach((r, i) => {
        worst = Math.max(
          worst,
          Math.abs(r.scores.negative! - want[i]![0]!),
          Math.abs(r.scores.positive! - want[i]![1]!),
        );
      });
      expect(worst).toBeLessThanOrEqual(1e-6);
      if (held === all) {
        // The figures training reports are the served model's own.
        const correct = served.filter((r, i) => r.label === held[i]!.label).length;
        expect(correct / held.length).toBe(result.metrics.val_accuracy);
        const loss = served.reduce((s, r, i) => s - Math.log(r.scores[held[i]!.label]!), 0) / held.length;
        expect(Math.abs(loss - result.metrics.val_loss)).toBeLessThan(1e-5);
      }
    });
  });
});
