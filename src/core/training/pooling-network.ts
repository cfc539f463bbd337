import { SeededRandom } from './random';

/**
 * The `embedding-pooling` network, trained in plain JavaScript (float32 parameters, float64
 * arithmetic in a fixed order):
 *
 *   ids -> Embedding(V, D) -+-> masked mean and max over the words (2D) --------------------+
 *                           +-> Conv1D(F, kernel 2, relu: word pairs) -> masked mean and max (2F) -+
 *       -> concatenate -> Dropout -> [Dense(H, relu) -> Dropout] -> Dense(K, softmax)
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
  /** Word-pair (kernel 2) convolution filters; 0: none. */
  filters: number;
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

/** Centred Laplace-smoothed naive Bayes log-probabilities of one word (0 for a word no label has seen). */
export function naiveBayesValues(
  counts: ArrayLike<number>,
  totals: ArrayLike<number>,
  vocabulary: number,
  out: Float64Array,
  outOffset: number,
): void {
  const K = totals.length;
  let any = false;
  for (let k = 0; k < K; k++) if (counts[k]! > 0) any = true;
  if (!any) {
    for (let k = 0; k < K; k++) out[outOffset + k] = 0;
    return;
  }
  let mean = 0;
  for (let k = 0; k < K; k++) {
    const lp = Math.log((counts[k]! + 1) / (totals[k]! + vocabulary));
    out[outOffset + k] = lp;
    mean += lp / K;
  }
  for (let k = 0; k < K; k++) out[outOffset + k]! -= mean;
}

/** A parameter tensor with its Adam moments. */
export class DenseParam {
  readonly m: Float32Array;
  readonly v: Float32Array;
  constructor(readonly w: Float32Array) {
    this.m = new Float32Array(w.length);
    this.v = new Float32Array(w.length);
  }
}

/** What the backward pass needs from one document's forward pass. */
interface Forward {
  n: number;
  /** Pooled features before dropout (P). */
  pooled: Float64Array;
  /** Position of each embedding column's max. */
  argmaxE: Int32Array;
  /** Conv pre-activations, `[t * F + f]`. */
  z: Float64Array;
  /** Position of each filter's max. */
  argmaxC: Int32Array;
}

export class PoolingNetwork {
  readonly emb: Float32Array;
  readonly embM: Float32Array;
  readonly embV: Float32Array;
  /** Adam steps taken by each embedding row (lazy Adam's bias correction). */
  readonly rowSteps: Int32Array;
  /** Conv kernel `[(k * dim + d) * F + f]` (tfjs Conv1D layout [2, dim, F]) and bias. */
  readonly wc: DenseParam;
  readonly bc: DenseParam;
  readonly w1: DenseParam;
  readonly b1: DenseParam;
  readonly w2: DenseParam;
  readonly b2: DenseParam;
  /** Dense Adam steps taken. */
  step = 0;
  readonly pooledSize: number;
  private readonly outIn: number;

  constructor(
    readonly shape: PoolingNetworkShape,
    embedding: Float32Array,
    random: SeededRandom,
    /** Inference only: no Adam state for the embedding table (it cannot be trained). */
    inferenceOnly = false,
  ) {
    const { vocabSize, dim, filters, hidden, labels } = shape;
    if (embedding.length !== vocabSize * dim) throw new Error('embedding size mismatch');
    this.emb = embedding;
    this.embM = new Float32Array(inferenceOnly ? 0 : embedding.length);
    this.embV = new Float32Array(inferenceOnly ? 0 : embedding.length);
    this.rowSteps = new Int32Array(inferenceOnly ? 0 : vocabSize);
    this.pooledSize = 2 * dim + 2 * filters;
    this.outIn = hidden > 0 ? hidden : this.pooledSize;
    const glorot = (fanIn: number, fanOut: number, n = fanIn * fanOut): Float32Array => {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      const w = new Float32Array(n);
      for (let i = 0; i < w.length; i++) w[i] = random.uniform(-limit, limit);
      return w;
    };
    // Keras's glorot_uniform for a Conv1D kernel: fan_in = kernel * dim, fan_out = kernel * filters.
    this.wc = new DenseParam(
      filters > 0 ? glorot(2 * dim, 2 * filters, 2 * dim * filters) : new Float32Array(0),
    );
    this.bc = new DenseParam(new Float32Array(filters));
    this.w1 = new DenseParam(hidden > 0 ? glorot(this.pooledSize, hidden) : new Float32Array(0));
    this.b1 = new DenseParam(new Float32Array(hidden));
    this.w2 = new DenseParam(glorot(this.outIn, labels));
    this.b2 = new DenseParam(new Float32Array(labels));
  }

  /** The trained values (what the served model holds): embedding, conv kernel and bias, dense layers. */
  params(): Float32Array[] {
    return [this.emb, this.wc.w, this.bc.w, this.w1.w, this.b1.w, this.w2.w, this.b2.w];
  }

  /** Every dense parameter tensor with its Adam moments (checkpoints store them all). */
  denseParams(): DenseParam[] {
    return [this.wc, this.bc, this.w1, this.b1, this.w2, this.b2];
  }

  /** A network of the same shape holding `values` (in {@link params} order), for inference only. */
  withParams(values: readonly Float32Array[]): PoolingNetwork {
    const net = new PoolingNetwork(this.shape, Float32Array.from(values[0]!), new SeededRandom(0), true);
    net.params().forEach((p, i) => {
      if (i > 0) p.set(values[i]!);
    });
    return net;
  }

  /** Embedding and convolution, pooled (the served model's layers up to the concatenation). */
  private forward(ids: Int32Array): Forward {
    const { dim, filters: F } = this.shape;
    const n = ids.length;
    const P = this.pooledSize;
    const pooled = new Float64Array(P);
    const argmaxE = new Int32Array(dim);
    const argmaxC = new Int32Array(F);
    const z = new Float64Array(n * F);
    if (n === 0) {
      for (let d = 0; d < dim; d++) pooled[dim + d] = EMPTY_MAX;
      for (let f = 0; f < F; f++) pooled[2 * dim + F + f] = EMPTY_MAX;
      return { n, pooled, argmaxE, z, argmaxC };
    }
    const emb = this.emb;
    for (let d = 0; d < dim; d++) pooled[dim + d] = -Infinity;
    for (let t = 0; t < n; t++) {
      const off = ids[t]! * dim;
      for (let d = 0; d < dim; d++) {
        const x = emb[off + d]!;
        pooled[d]! += x;
        if (x > pooled[dim + d]!) {
          pooled[dim + d] = x;
          argmaxE[d] = t;
        }
      }
    }
    for (let d = 0; d < dim; d++) pooled[d]! /= n;
    if (F > 0) {
      const wc = this.wc.w;
      const second = dim * F;
      for (let t = 0; t < n; t++) {
        const zt = t * F;
        for (let f = 0; f < F; f++) z[zt + f] = this.bc.w[f]!;
        const a = ids[t]! * dim;
        for (let d = 0; d < dim; d++) {
          const x = emb[a + d]!;
          if (x === 0) continue;
          const row = d * F;
          for (let f = 0; f < F; f++) z[zt + f]! += x * wc[row + f]!;
        }
        if (t + 1 < n) {
          const b = ids[t + 1]! * dim;
          for (let d = 0; d < dim; d++) {
            const x = emb[b + d]!;
            if (x === 0) continue;
            const row = second + d * F;
            for (let f = 0; f < F; f++) z[zt + f]! += x * wc[row + f]!;
          }
        }
      }
      const mean = 2 * dim;
      const max = 2 * dim + F;
      for (let f = 0; f < F; f++) pooled[max + f] = -Infinity;
      for (let t = 0; t < n; t++) {
        for (let f = 0; f < F; f++) {
          const c = Math.max(0, z[t * F + f]!);
          pooled[mean + f]! += c;
          if (c > pooled[max + f]!) {
            pooled[max + f] = c;
            argmaxC[f] = t;
          }
        }
      }
      for (let f = 0; f < F; f++) pooled[mean + f]! /= n;
    }
    return { n, pooled, argmaxE, z, argmaxC };
  }

  /** Logits from pooled features (after dropout); `h` receives the hidden layer's pre-activations. */
  private head(a1: Float64Array, z1: Float64Array, m2: Float64Array | null): Float64Array {
    const { hidden, labels } = this.shape;
    const P = this.pooledSize;
    let out: Float64Array = a1;
    if (hidden > 0) {
      for (let j = 0; j < hidden; j++) z1[j] = this.b1.w[j]!;
      for (let i = 0; i < P; i++) {
        const x = a1[i]!;
        if (x === 0) continue;
        const row = i * hidden;
        for (let j = 0; j < hidden; j++) z1[j]! += x * this.w1.w[row + j]!;
      }
      out = new Float64Array(hidden);
      for (let j = 0; j < hidden; j++) out[j] = z1[j]! > 0 ? z1[j]! * (m2 ? m2[j]! : 1) : 0;
    }
    const z = new Float64Array(labels);
    for (let k = 0; k < labels; k++) z[k] = this.b2.w[k]!;
    for (let i = 0; i < this.outIn; i++) {
      const x = out[i]!;
      if (x === 0) continue;
      for (let k = 0; k < labels; k++) z[k]! += x * this.w2.w[i * labels + k]!;
    }
    return z;
  }

  /** Class probabilities of one document (no dropout), as the served model computes them. */
  predict(ids: Int32Array): Float64Array {
    const { pooled } = this.forward(ids);
    return softmax(this.head(pooled, new Float64Array(this.shape.hidden), null));
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
    if (this.rowSteps.length !== this.shape.vocabSize)
      throw new Error('an inference-only network cannot train');
    const { dim, filters: F, hidden, labels } = this.shape;
    const P = this.pooledSize;
    const B = docs.length;
    const keep = 1 - options.dropout;
    const gWc = new Float64Array(this.wc.w.length);
    const gBc = new Float64Array(F);
    const gW1 = new Float64Array(this.w1.w.length);
    const gB1 = new Float64Array(hidden);
    const gW2 = new Float64Array(this.w2.w.length);
    const gB2 = new Float64Array(labels);
    const gEmb = new Map<number, Float64Array>();
    const a1 = new Float64Array(P);
    const m1 = new Float64Array(P);
    const z1 = new Float64Array(hidden);
    const m2 = new Float64Array(hidden);
    const dOut = new Float64Array(this.outIn);
    const da1 = new Float64Array(P);
    const dz = new Float64Array(F);
    const trainEmbedding = options.embeddingLearningRate > 0;
    let lossSum = 0;
    for (let b = 0; b < B; b++) {
      const ids = docs[b]!;
      const fw = this.forward(ids);
      const n = fw.n;
      for (let i = 0; i < P; i++) {
        m1[i] = options.dropout > 0 ? (random.next() < keep ? 1 / keep : 0) : 1;
        a1[i] = fw.pooled[i]! * m1[i]!;
      }
      if (hidden > 0)
        for (let j = 0; j < hidden; j++)
          m2[j] = options.dropout > 0 ? (random.next() < keep ? 1 / keep : 0) : 1;
      const p = softmax(this.head(a1, z1, m2));
      const y = targets[b]!;
      lossSum -= Math.log(Math.max(p[y]!, 1e-12));
      // Backward: d(mean loss)/d logits = (p - onehot) / B.
      for (let k = 0; k < labels; k++) p[k] = (p[k]! - (k === y ? 1 : 0)) / B;
      for (let k = 0; k < labels; k++) gB2[k]! += p[k]!;
      for (let i = 0; i < this.outIn; i++) {
        const x = hidden > 0 ? (z1[i]! > 0 ? z1[i]! * m2[i]! : 0) : a1[i]!;
        let s = 0;
        for (let k = 0; k < labels; k++) {
          if (x !== 0) gW2[i * labels + k]! += x * p[k]!;
          s += p[k]! * this.w2.w[i * labels + k]!;
        }
        dOut[i] = s;
      }
      if (hidden > 0) {
        for (let j = 0; j < hidden; j++) {
          const g = z1[j]! > 0 ? dOut[j]! * m2[j]! : 0;
          dOut[j] = g;
          gB1[j]! += g;
        }
        for (let i = 0; i < P; i++) {
          const x = a1[i]!;
          const row = i * hidden;
          let s = 0;
          for (let j = 0; j < hidden; j++) {
            const g = dOut[j]!;
            if (g === 0) continue;
            if (x !== 0) gW1[row + j]! += x * g;
            s += g * this.w1.w[row + j]!;
          }
          da1[i] = s * m1[i]!;
        }
      } else {
        for (let i = 0; i < P; i++) da1[i] = dOut[i]! * m1[i]!;
      }
      // Gradient with respect to each position's word vector, `[t * dim + d]`.
      const dx = trainEmbedding ? new Float64Array(n * dim) : null;
      if (dx) {
        for (let t = 0; t < n; t++) for (let d = 0; d < dim; d++) dx[t * dim + d] = da1[d]! / n;
        for (let d = 0; d < dim; d++) dx[fw.argmaxE[d]! * dim + d]! += da1[dim + d]!;
      }
      if (F > 0) {
        const wc = this.wc.w;
        const second = dim * F;
        for (let t = 0; t < n; t++) {
          let any = false;
          for (let f = 0; f < F; f++) {
            let g = da1[2 * dim + f]! / n;
            if (fw.argmaxC[f] === t) g += da1[2 * dim + F + f]!;
            g = fw.z[t * F + f]! > 0 ? g : 0;
            dz[f] = g;
            if (g !== 0) any = true;
          }
          if (!any) continue;
          for (let f = 0; f < F; f++) gBc[f]! += dz[f]!;
          const a = ids[t]! * dim;
          for (let d = 0; d < dim; d++) {
            const x = this.emb[a + d]!;
            const row = d * F;
            let s = 0;
            for (let f = 0; f < F; f++) {
              gWc[row + f]! += x * dz[f]!;
              s += wc[row + f]! * dz[f]!;
            }
            if (dx) dx[t * dim + d]! += s;
          }
          if (t + 1 < n) {
            const c = ids[t + 1]! * dim;
            for (let d = 0; d < dim; d++) {
              const x = this.emb[c + d]!;
              const row = second + d * F;
              let s = 0;
              for (let f = 0; f < F; f++) {
                gWc[row + f]! += x * dz[f]!;
                s += wc[row + f]! * dz[f]!;
              }
              if (dx) dx[(t + 1) * dim + d]! += s;
            }
          }
        }
      }
      if (dx) {
        for (let t = 0; t < n; t++) {
          const id = ids[t]!;
          let g = gEmb.get(id);
          if (!g) gEmb.set(id, (g = new Float64Array(dim)));
          for (let d = 0; d < dim; d++) g[d]! += dx[t * dim + d]!;
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
    if (F > 0) {
      adam(this.wc, gWc, lr, this.step);
      adam(this.bc, gBc, lr, this.step);
    }
    if (trainEmbedding) {
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
