import type { SeededRandom } from './random';

/**
 * The `embedding-pooling` network, trained in plain JavaScript (float32 parameters, float64
 * arithmetic in a fixed order):
 *
 *   ids -> Embedding(V, D) -> masked mean and max over the words (2D) -> Dropout
 *       -> [Dense(H, relu) -> Dropout] -> Dense(K, softmax)
 *
 * It is the network docbatch serves (train-text-classifier.ts writes it as a TensorFlow.js layers
 * model with `MaskedGlobalPooling1D`). Training it here rather than through tfjs' autodiff keeps it
 * identical on every backend (a job resumed on another worker gives the same bytes), needs no
 * gradient kernel wasm lacks, and updates only the embedding rows a batch uses (lazy Adam: tfjs'
 * dense embedding gradient costs a pass over the whole table per step).
 */
export interface PoolingNetworkShape {
  vocabSize: number;
  dim: number;
  hidden: number;
  labels: number;
}

export interface PoolingNetworkOptions {
  learningRate: number;
  embeddingLearningRate: number;
  dropout: number;
}

const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-7;
/** What the served pooling layer gives for a document without any word (masked max of nothing). */
const EMPTY_MAX = -1e9;

/** Adam state of one dense parameter tensor. */
class DenseParam {
  readonly m: Float32Array;
  readonly v: Float32Array;
  constructor(readonly w: Float32Array) {
    this.m = new Float32Array(w.length);
    this.v = new Float32Array(w.length);
  }
}

export class PoolingNetwork {
  readonly emb: Float32Array;
  readonly embM: Float32Array;
  readonly embV: Float32Array;
  /** Adam steps taken by each embedding row (lazy Adam's bias correction). */
  readonly rowSteps: Int32Array;
  readonly w1: DenseParam;
  readonly b1: DenseParam;
  readonly w2: DenseParam;
  readonly b2: DenseParam;
  /** Dense Adam steps taken. */
  step = 0;
  private readonly pooledSize: number;
  private readonly outIn: number;

  constructor(
    readonly shape: PoolingNetworkShape,
    embedding: Float32Array,
    random: SeededRandom,
  ) {
    const { vocabSize, dim, hidden, labels } = shape;
    if (embedding.length !== vocabSize * dim) throw new Error('embedding size mismatch');
    this.emb = embedding;
    this.embM = new Float32Array(embedding.length);
    this.embV = new Float32Array(embedding.length);
    this.rowSteps = new Int32Array(vocabSize);
    this.pooledSize = 2 * dim;
    this.outIn = hidden > 0 ? hidden : this.pooledSize;
    const glorot = (fanIn: number, fanOut: number): Float32Array => {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      const w = new Float32Array(fanIn * fanOut);
      for (let i = 0; i < w.length; i++) w[i] = random.uniform(-limit, limit);
      return w;
    };
    this.w1 = new DenseParam(hidden > 0 ? glorot(this.pooledSize, hidden) : new Float32Array(0));
    this.b1 = new DenseParam(new Float32Array(hidden));
    this.w2 = new DenseParam(glorot(this.outIn, labels));
    this.b2 = new DenseParam(new Float32Array(labels));
  }

  /** Masked mean and max of a document's vectors; `argmax[d]` is the position the max came from. */
  private pool(ids: Int32Array, pooled: Float64Array, argmax: Int32Array | null): void {
    const { dim } = this.shape;
    const n = ids.length;
    if (n === 0) {
      for (let d = 0; d < dim; d++) {
        pooled[d] = 0;
        pooled[dim + d] = EMPTY_MAX;
      }
      return;
    }
    for (let d = 0; d < dim; d++) {
      pooled[d] = 0;
      pooled[dim + d] = -Infinity;
    }
    for (let t = 0; t < n; t++) {
      const off = ids[t]! * dim;
      for (let d = 0; d < dim; d++) {
        const x = this.emb[off + d]!;
        pooled[d]! += x;
        if (x > pooled[dim + d]!) {
          pooled[dim + d] = x;
          if (argmax) argmax[d] = t;
        }
      }
    }
    for (let d = 0; d < dim; d++) pooled[d]! /= n;
  }

  /** Class probabilities of one document (no dropout), as the served model computes them. */
  predict(ids: Int32Array): Float64Array {
    const { hidden, labels } = this.shape;
    const pooled = new Float64Array(this.pooledSize);
    this.pool(ids, pooled, null);
    let a: Float64Array = pooled;
    if (hidden > 0) {
      const h = new Float64Array(hidden);
      for (let j = 0; j < hidden; j++) h[j] = this.b1.w[j]!;
      for (let i = 0; i < this.pooledSize; i++) {
        const x = pooled[i]!;
        if (x === 0) continue;
        const row = i * hidden;
        for (let j = 0; j < hidden; j++) h[j]! += x * this.w1.w[row + j]!;
      }
      for (let j = 0; j < hidden; j++) if (h[j]! < 0) h[j] = 0;
      a = h;
    }
    const z = new Float64Array(labels);
    for (let k = 0; k < labels; k++) z[k] = this.b2.w[k]!;
    for (let i = 0; i < this.outIn; i++) {
      const x = a[i]!;
      if (x === 0) continue;
      for (let k = 0; k < labels; k++) z[k]! += x * this.w2.w[i * labels + k]!;
    }
    return softmax(z);
  }

  /**
   * One optimisation step on a batch (documents with at least one word); returns the mean
   * cross-entropy. Dropout masks come from `random`.
   */
  trainBatch(
    docs: readonly Int32Array[],
    targets: readonly number[],
    options: PoolingNetworkOptions,
    random: SeededRandom,
  ): number {
    const { dim, hidden, labels } = this.shape;
    const P = this.pooledSize;
    const B = docs.length;
    const keep = 1 - options.dropout;
    const gW1 = new Float64Array(this.w1.w.length);
    const gB1 = new Float64Array(hidden);
    const gW2 = new Float64Array(this.w2.w.length);
    const gB2 = new Float64Array(labels);
    const gEmb = new Map<number, Float64Array>();
    const pooled = new Float64Array(P);
    const argmax = new Int32Array(dim);
    const a1 = new Float64Array(P);
    const m1 = new Float64Array(P);
    const z1 = new Float64Array(hidden);
    const a2 = new Float64Array(hidden);
    const m2 = new Float64Array(hidden);
    const da2 = new Float64Array(this.outIn);
    const da1 = new Float64Array(P);
    let lossSum = 0;
    for (let b = 0; b < B; b++) {
      const ids = docs[b]!;
      const n = ids.length;
      this.pool(ids, pooled, argmax);
      for (let i = 0; i < P; i++) {
        m1[i] = options.dropout > 0 ? (random.next() < keep ? 1 / keep : 0) : 1;
        a1[i] = pooled[i]! * m1[i]!;
      }
      let out: Float64Array = a1;
      if (hidden > 0) {
        for (let j = 0; j < hidden; j++) z1[j] = this.b1.w[j]!;
        for (let i = 0; i < P; i++) {
          const x = a1[i]!;
          if (x === 0) continue;
          const row = i * hidden;
          for (let j = 0; j < hidden; j++) z1[j]! += x * this.w1.w[row + j]!;
        }
        for (let j = 0; j < hidden; j++) {
          m2[j] = options.dropout > 0 ? (random.next() < keep ? 1 / keep : 0) : 1;
          a2[j] = z1[j]! > 0 ? z1[j]! * m2[j]! : 0;
        }
        out = a2;
      }
      const z = new Float64Array(labels);
      for (let k = 0; k < labels; k++) z[k] = this.b2.w[k]!;
      for (let i = 0; i < this.outIn; i++) {
        const x = out[i]!;
        if (x === 0) continue;
        for (let k = 0; k < labels; k++) z[k]! += x * this.w2.w[i * labels + k]!;
      }
      const p = softmax(z);
      const y = targets[b]!;
      lossSum -= Math.log(Math.max(p[y]!, 1e-12));
      // Backward: d(mean loss)/d logits = (p - onehot) / B.
      for (let k = 0; k < labels; k++) p[k] = (p[k]! - (k === y ? 1 : 0)) / B;
      for (let k = 0; k < labels; k++) gB2[k]! += p[k]!;
      for (let i = 0; i < this.outIn; i++) {
        const x = out[i]!;
        let s = 0;
        for (let k = 0; k < labels; k++) {
          if (x !== 0) gW2[i * labels + k]! += x * p[k]!;
          s += p[k]! * this.w2.w[i * labels + k]!;
        }
        da2[i] = s;
      }
      if (hidden > 0) {
        for (let j = 0; j < hidden; j++) {
          const g = z1[j]! > 0 ? da2[j]! * m2[j]! : 0;
          da2[j] = g;
          gB1[j]! += g;
        }
        for (let i = 0; i < P; i++) {
          const x = a1[i]!;
          const row = i * hidden;
          let s = 0;
          for (let j = 0; j < hidden; j++) {
            const g = da2[j]!;
            if (g === 0) continue;
            if (x !== 0) gW1[row + j]! += x * g;
            s += g * this.w1.w[row + j]!;
          }
          da1[i] = s * m1[i]!;
        }
      } else {
        for (let i = 0; i < P; i++) da1[i] = da2[i]! * m1[i]!;
      }
      if (options.embeddingLearningRate > 0) {
        const row = (id: number): Float64Array => {
          let g = gEmb.get(id);
          if (!g) gEmb.set(id, (g = new Float64Array(dim)));
          return g;
        };
        for (let t = 0; t < n; t++) {
          const g = row(ids[t]!);
          for (let d = 0; d < dim; d++) g[d]! += da1[d]! / n;
        }
        for (let d = 0; d < dim; d++) {
          const g = da1[dim + d]!;
          if (g !== 0) row(ids[argmax[d]!]!)[d]! += g;
        }
      }
    }
    this.step++;
    const lr = options.learningRate;
    adam(this.w2, gW2, lr, this.step);
    adam(this.b2, gB2, lr, this.step);
    if (hidden > 0) {
      adam(this.w1, gW1, lr, this.step);
      adam(this.b1, gB1, lr, this.step);
    }
    if (options.embeddingLearningRate > 0) {
      // Rows in ascending id order: the same float operations in the same order on every run.
      for (const id of [...gEmb.keys()].sort((x, y) => x - y)) {
        const g = gEmb.get(id)!;
        const t = ++this.rowSteps[id]!;
        const rate = (options.embeddingLearningRate * Math.sqrt(1 - BETA2 ** t)) / (1 - BETA1 ** t);
        const off = id * dim;
        for (let d = 0; d < dim; d++) {
          const k = off + d;
          const m = (this.embM[k] = BETA1 * this.embM[k]! + (1 - BETA1) * g[d]!);
          const v = (this.embV[k] = BETA2 * this.embV[k]! + (1 - BETA2) * g[d]! * g[d]!);
          this.emb[k]! -= (rate * m) / (Math.sqrt(v) + EPSILON);
        }
      }
    }
    return lossSum / B;
  }
}

function adam(p: DenseParam, g: Float64Array, lr: number, t: number): void {
  const rate = (lr * Math.sqrt(1 - BETA2 ** t)) / (1 - BETA1 ** t);
  for (let i = 0; i < g.length; i++) {
    const m = (p.m[i] = BETA1 * p.m[i]! + (1 - BETA1) * g[i]!);
    const v = (p.v[i] = BETA2 * p.v[i]! + (1 - BETA2) * g[i]! * g[i]!);
    p.w[i]! -= (rate * m) / (Math.sqrt(v) + EPSILON);
  }
}

function softmax(z: Float64Array): Float64Array {
  let max = -Infinity;
  for (const v of z) if (v > max) max = v;
  let sum = 0;
  const out = new Float64Array(z.length);
  for (let k = 0; k < z.length; k++) sum += out[k] = Math.exp(z[k]! - max);
  for (let k = 0; k < z.length; k++) out[k]! /= sum;
  return out;
}
