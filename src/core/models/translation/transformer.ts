import * as tf from '@tensorflow/tfjs';

import { BOS_ID, EOS_ID, PAD_ID } from './bpe-tokenizer';
import type { Seq2SeqArtifacts, TransformerArchitecture } from './seq2seq-weights';
import type { DecodeConstraint } from './target-words';

/** Candidates per row read back at each step of a constrained decode (the best accepted one is taken). */
const CONSTRAINED_TOP_K = 16;

/**
 * Inference-only pre-LayerNorm Transformer encoder-decoder (Vaswani et al., 2017) with plain tf ops, so it
 * runs unchanged on every tfjs backend (cpu, wasm, tensorflow). Mirrors scripts/models/translation/train.py.
 *
 * Weight names (dense kernels `[in, out]`):
 * - `embedding` `[vocab, d]`: shared by encoder input, decoder input and the output projection; with a
 *   factorised embedding (`embedding_dim` e < d) `embedding` is `[vocab, e]`, `embedding_in/kernel` `[e, d]`
 *   maps it to the model width and `embedding_out/kernel` `[d, e]` maps the decoder output back before the
 *   (tied) projection onto the vocabulary.
 * - `encoder/layer_{i}/{ln1,ln2}/{gamma,beta}`, `encoder/layer_{i}/self_attention/{q,k,v,o}/{kernel,bias}`,
 *   `encoder/layer_{i}/ffn/{w1,w2}/{kernel,bias}`, `encoder/final_ln/{gamma,beta}`.
 * - `decoder/layer_{i}/{ln1,ln2,ln3}/...`, `decoder/layer_{i}/{self_attention,cross_attention}/...`,
 *   `decoder/layer_{i}/ffn/...`, `decoder/final_ln/...`.
 *
 * Decoding is batched greedy search with per-layer key/value caches; a row stops at `</s>` and finished rows
 * are dropped from the working batch, so the remaining steps only pay for unfinished rows.
 */

interface Dense {
  kernel: tf.Tensor2D;
  bias: tf.Tensor1D;
}
interface LayerNorm {
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
}
interface Attention {
  q: Dense;
  k: Dense;
  v: Dense;
  o: Dense;
}
interface FeedForward {
  w1: Dense;
  w2: Dense;
}
interface EncoderLayer {
  ln1: LayerNorm;
  selfAttention: Attention;
  ln2: LayerNorm;
  ffn: FeedForward;
}
interface DecoderLayer {
  ln1: LayerNorm;
  selfAttention: Attention;
  ln2: LayerNorm;
  crossAttention: Attention;
  ln3: LayerNorm;
  ffn: FeedForward;
}

/** One decoding request: source token ids (without `</s>`) and the cap on generated tokens. */
export interface DecodeRow {
  src: ArrayLike<number>;
  maxTokens: number;
  /**
   * Restricts what the row may write (target-words.ts): at each step the best-scoring token it accepts is
   * taken instead of the argmax. Without one the row is decoded greedily as is.
   */
  constraint?: DecodeConstraint;
}

class WeightReader {
  private readonly used = new Set<string>();

  constructor(private readonly weights: tf.NamedTensorMap) {}

  take<R extends tf.Rank>(name: string, shape: number[]): tf.Tensor<R> {
    const t = this.weights[name];
    if (!t) throw new Error(`missing weight ${name}`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`weight ${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    this.used.add(name);
    return t as tf.Tensor<R>;
  }

  unused(): string[] {
    return Object.keys(this.weights).filter((n) => !this.used.has(n));
  }
}

function sinusoidTable(maxPositions: number, d: number): Float32Array {
  const table = new Float32Array(maxPositions * d);
  for (let pos = 0; pos < maxPositions; pos += 1) {
    for (let i = 0; i < d / 2; i += 1) {
      const angle = pos / Math.pow(10000, (2 * i) / d);
      table[pos * d + 2 * i] = Math.sin(angle);
      table[pos * d + 2 * i + 1] = Math.cos(angle);
    }
  }
  return table;
}

export class TransformerTranslator {
  readonly arch: TransformerArchitecture;
  private readonly all: tf.Tensor[];
  private readonly embedding: tf.Tensor2D;
  /** `embedding` transposed once at load (`[d, vocab]`): the output projection is much faster without transposeB. */
  private readonly outputProjection: tf.Tensor2D;
  /** Factorised embedding only: `[e, d]` input and `[d, e]` output maps. */
  private readonly embeddingIn: tf.Tensor2D | null = null;
  private readonly embeddingOut: tf.Tensor2D | null = null;
  private readonly positions: tf.Tensor2D;
  private readonly encoder: EncoderLayer[];
  private readonly encoderNorm: LayerNorm;
  private readonly decoder: DecoderLayer[];
  private readonly decoderNorm: LayerNorm;
  private readonly headDim: number;
  private readonly embedScale: number;
  private disposed = false;

  /** Takes ownership of the artifact tensors. Throws (after disposing them) when a weight is missing or misshapen. */
  constructor(artifacts: Seq2SeqArtifacts) {
    const { architecture: a, weights } = artifacts;
    this.arch = a;
    this.headDim = a.d_model / a.heads;
    this.embedScale = Math.sqrt(a.d_model);
    const d = a.d_model;
    try {
      const r = new WeightReader(weights);
      const dense = (p: string, inDim: number, outDim: number): Dense => ({
        kernel: r.take<tf.Rank.R2>(`${p}/kernel`, [inDim, outDim]),
        bias: r.take<tf.Rank.R1>(`${p}/bias`, [outDim]),
      });
      const norm = (p: string): LayerNorm => ({
        gamma: r.take<tf.Rank.R1>(`${p}/gamma`, [d]),
        beta: r.take<tf.Rank.R1>(`${p}/beta`, [d]),
      });
      const attention = (p: string): Attention => ({
        q: dense(`${p}/q`, d, d),
        k: dense(`${p}/k`, d, d),
        v: dense(`${p}/v`, d, d),
        o: dense(`${p}/o`, d, d),
      });
      const ffn = (p: string): FeedForward => ({
        w1: dense(`${p}/w1`, d, a.ff),
        w2: dense(`${p}/w2`, a.ff, d),
      });
      const e = a.embedding_dim;
      this.embedding = r.take<tf.Rank.R2>('embedding', [a.vocab_size, e]);
      if (e !== d) {
        this.embeddingIn = r.take<tf.Rank.R2>('embedding_in/kernel', [e, d]);
        this.embeddingOut = r.take<tf.Rank.R2>('embedding_out/kernel', [d, e]);
      }
      this.encoder = Array.from({ length: a.encoder_layers }, (_, i) => {
        const p = `encoder/layer_${i}`;
        return {
          ln1: norm(`${p}/ln1`),
          selfAttention: attention(`${p}/self_attention`),
          ln2: norm(`${p}/ln2`),
          ffn: ffn(`${p}/ffn`),
        };
      });
      this.encoderNorm = norm('encoder/final_ln');
      this.decoder = Array.from({ length: a.decoder_layers }, (_, i) => {
        const p = `decoder/layer_${i}`;
        return {
          ln1: norm(`${p}/ln1`),
          selfAttention: attention(`${p}/self_attention`),
          ln2: norm(`${p}/ln2`),
          crossAttention: attention(`${p}/cross_attention`),
          ln3: norm(`${p}/ln3`),
          ffn: ffn(`${p}/ffn`),
        };
      });
      this.decoderNorm = norm('decoder/final_ln');
      const unused = r.unused();
      if (unused.length > 0) throw new Error(`unexpected weights: ${unused.slice(0, 5).join(', ')}`);
    } catch (err) {
      tf.dispose(weights);
      throw err;
    }
    this.positions = tf.tensor2d(sinusoidTable(a.max_positions, d), [a.max_positions, d]);
    this.outputProjection = tf.transpose(this.embedding);
    this.all = [...Object.values(weights), this.positions, this.outputProjection];
  }

  /**
   * Greedy-decodes a batch of rows. Returns the generated token ids per row (without `</s>`), in input order.
   * Every intermediate tensor is disposed before this resolves.
   */
  async translate(rows: readonly DecodeRow[]): Promise<number[][]> {
    if (this.disposed) throw new Error('model is disposed');
    if (rows.length === 0) return [];
    const maxPos = this.arch.max_positions;
    const srcLen = Math.min(maxPos, Math.max(...rows.map((r) => r.src.length + 1)));
    const srcIds = new Int32Array(rows.length * srcLen).fill(PAD_ID);
    rows.forEach((row, b) => {
      const n = Math.min(row.src.length, srcLen - 1);
      for (let i = 0; i < n; i += 1) srcIds[b * srcLen + i] = row.src[i] ?? PAD_ID;
      srcIds[b * srcLen + n] = EOS_ID;
    });
    const maxSteps = rows.map((r) => Math.max(1, Math.min(r.maxTokens, maxPos)));
    const outputs: number[][] = rows.map(() => []);

    // Encoder output and the per-layer cross-attention keys/values stay alive across steps.
    const { memBias, crossKeys, crossValues } = tf.tidy(() => {
      const ids = tf.tensor2d(srcIds, [rows.length, srcLen], 'int32');
      const bias = tf
        .mul(tf.cast(tf.equal(ids, PAD_ID), 'float32'), -1e9)
        .reshape([rows.length, 1, 1, srcLen]);
      const memory = this.encode(ids, bias as tf.Tensor4D);
      return {
        memBias: bias as tf.Tensor4D,
        crossKeys: this.decoder.map((l) => this.splitHeads(this.dense(memory, l.crossAttention.k))),
        crossValues: this.decoder.map((l) => this.splitHeads(this.dense(memory, l.crossAttention.v))),
      };
    });
    let state = {
      memBias,
      crossKeys,
      crossValues,
      selfKeys: [] as tf.Tensor4D[],
      selfValues: [] as tf.Tensor4D[],
    };
    let active = rows.map((_, i) => i);
    let tokens = new Int32Array(rows.length).fill(BOS_ID);
    const constrained = rows.some((r) => r.constraint !== undefined);
    try {
      for (let step = 0; active.length > 0; step += 1) {
        const { next, logits, selfKeys, selfValues } = tf.tidy(() => {
          const r = this.decodeStep(tokens, step, state);
          if (!constrained)
            return {
              next: tf.argMax(r.logits, -1),
              logits: [],
              selfKeys: r.selfKeys,
              selfValues: r.selfValues,
            };
          const top = tf.topk(r.logits, Math.min(CONSTRAINED_TOP_K, this.arch.vocab_size));
          return { next: top.indices, logits: [r.logits], selfKeys: r.selfKeys, selfValues: r.selfValues };
        });
        tf.dispose([...state.selfKeys, ...state.selfValues]);
        state = { ...state, selfKeys, selfValues };
        let predicted: Int32Array;
        try {
          predicted = (await next.data()) as Int32Array;
          if (constrained) predicted = await this.pickAccepted(predicted, logits[0]!, active, rows, outputs);
        } finally {
          next.dispose();
          tf.dispose(logits);
        }
        const keep: number[] = [];
        const nextActive: number[] = [];
        active.forEach((rowIndex, j) => {
          const id = predicted[j] ?? EOS_ID;
          const out = outputs[rowIndex]!;
          if (id === EOS_ID) return;
          out.push(id);
          if (out.length >= maxSteps[rowIndex]! || step + 1 >= maxPos) return;
          keep.push(j);
          nextActive.push(rowIndex);
        });
        if (nextActive.length === 0) break;
        if (keep.length < active.length) {
          const idx = tf.tensor1d(keep, 'int32');
          const gather = <T extends tf.Tensor>(t: T): T => tf.gather(t, idx) as T;
          const shrunk = {
            memBias: gather(state.memBias),
            crossKeys: state.crossKeys.map(gather),
            crossValues: state.crossValues.map(gather),
            selfKeys: state.selfKeys.map(gather),
            selfValues: state.selfValues.map(gather),
          };
          idx.dispose();
          this.disposeState(state);
          state = shrunk;
        }
        tokens = Int32Array.from(keep, (j) => predicted[j]!);
        active = nextActive;
      }
    } finally {
      this.disposeState(state);
    }
    return outputs;
  }

  /**
   * For a constrained step: `top` holds each active row's best CONSTRAINED_TOP_K token ids, best first; returns
   * per active row the first one its constraint accepts. A row that accepts none of them reads its whole logits
   * row and takes the best accepted token (argmax when it accepts nothing at all).
   */
  private async pickAccepted(
    top: Int32Array,
    logits: tf.Tensor,
    active: readonly number[],
    rows: readonly DecodeRow[],
    outputs: readonly number[][],
  ): Promise<Int32Array> {
    const k = top.length / Math.max(1, active.length);
    const picked = new Int32Array(active.length);
    for (let j = 0; j < active.length; j += 1) {
      const row = rows[active[j]!]!;
      const out = outputs[active[j]!]!;
      const candidates = top.subarray(j * k, j * k + k);
      const first = candidates.find((id) => row.constraint?.accepts(out, id) ?? true);
      if (first !== undefined) {
        picked[j] = first;
        continue;
      }
      const slice = tf.slice(logits, [j, 0], [1, -1]);
      const scores = (await slice.data()) as Float32Array;
      slice.dispose();
      const order = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]!);
      picked[j] = order.find((id) => row.constraint!.accepts(out, id)) ?? candidates[0] ?? EOS_ID;
    }
    return picked;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose(this.all);
  }

  private disposeState(s: {
    memBias: tf.Tensor;
    crossKeys: tf.Tensor[];
    crossValues: tf.Tensor[];
    selfKeys: tf.Tensor[];
    selfValues: tf.Tensor[];
  }): void {
    tf.dispose([s.memBias, ...s.crossKeys, ...s.crossValues, ...s.selfKeys, ...s.selfValues]);
  }

  private encode(ids: tf.Tensor2D, bias: tf.Tensor4D): tf.Tensor3D {
    let x = this.embed(ids, 0);
    for (const layer of this.encoder) {
      const h = this.layerNorm(x, layer.ln1);
      x = tf.add(
        x,
        this.attention(
          h,
          layer.selfAttention,
          this.splitHeads(this.dense(h, layer.selfAttention.k)),
          this.splitHeads(this.dense(h, layer.selfAttention.v)),
          bias,
        ),
      );
      x = tf.add(x, this.feedForward(this.layerNorm(x, layer.ln2), layer.ffn));
    }
    return this.layerNorm(x, this.encoderNorm);
  }

  /** One decoder step for the active rows: returns next-token logits `[rows, vocab]` and the grown self-attention caches. */
  private decodeStep(
    tokens: Int32Array,
    step: number,
    s: {
      memBias: tf.Tensor4D;
      crossKeys: tf.Tensor4D[];
      crossValues: tf.Tensor4D[];
      selfKeys: tf.Tensor4D[];
      selfValues: tf.Tensor4D[];
    },
  ): { logits: tf.Tensor2D; selfKeys: tf.Tensor4D[]; selfValues: tf.Tensor4D[] } {
    const ids = tf.tensor2d(tokens, [tokens.length, 1], 'int32');
    let x = this.embed(ids, step);
    const selfKeys: tf.Tensor4D[] = [];
    const selfValues: tf.Tensor4D[] = [];
    this.decoder.forEach((layer, i) => {
      const h = this.layerNorm(x, layer.ln1);
      const k = this.splitHeads(this.dense(h, layer.selfAttention.k));
      const v = this.splitHeads(this.dense(h, layer.selfAttention.v));
      const prevK = s.selfKeys[i];
      const prevV = s.selfValues[i];
      const keys = prevK ? tf.concat([prevK, k], 2) : k;
      const values = prevV ? tf.concat([prevV, v], 2) : v;
      selfKeys.push(keys);
      selfValues.push(values);
      x = tf.add(x, this.attention(h, layer.selfAttention, keys, values, null));
      x = tf.add(
        x,
        this.attention(
          this.layerNorm(x, layer.ln2),
          layer.crossAttention,
          s.crossKeys[i]!,
          s.crossValues[i]!,
          s.memBias,
        ),
      );
      x = tf.add(x, this.feedForward(this.layerNorm(x, layer.ln3), layer.ffn));
    });
    const last = this.layerNorm(x, this.decoderNorm).reshape([
      tokens.length,
      this.arch.d_model,
    ]) as tf.Tensor2D;
    const projected = this.embeddingOut ? tf.matMul(last, this.embeddingOut) : last;
    const logits = tf.matMul(projected, this.outputProjection) as tf.Tensor2D;
    return { logits, selfKeys, selfValues };
  }

  /** Token embeddings scaled by sqrt(d) plus sinusoidal positions starting at `offset`. */
  private embed(ids: tf.Tensor2D, offset: number): tf.Tensor3D {
    const [b, t] = ids.shape;
    let rows = tf.gather(this.embedding, ids.reshape([b * t])) as tf.Tensor2D;
    if (this.embeddingIn) rows = tf.matMul(rows, this.embeddingIn);
    const emb = rows.reshape([b, t, this.arch.d_model]);
    const pos = tf.slice(this.positions, [offset, 0], [t, this.arch.d_model]);
    return tf.add(tf.mul(emb, this.embedScale), pos) as tf.Tensor3D;
  }

  private dense(x: tf.Tensor3D, w: Dense): tf.Tensor3D {
    const [b, t, d] = x.shape;
    const out = tf.add(tf.matMul(x.reshape([b * t, d]), w.kernel), w.bias);
    return out.reshape([b, t, w.kernel.shape[1]]);
  }

  private layerNorm(x: tf.Tensor3D, n: LayerNorm): tf.Tensor3D {
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.arch.layer_norm_epsilon)));
    return tf.add(tf.mul(normed, n.gamma), n.beta);
  }

  /** `[b, t, d]` -> `[b, heads, t, headDim]`. */
  private splitHeads(x: tf.Tensor3D): tf.Tensor4D {
    const [b, t] = x.shape;
    return tf.transpose(x.reshape([b, t, this.arch.heads, this.headDim]), [0, 2, 1, 3]) as tf.Tensor4D;
  }

  private attention(
    x: tf.Tensor3D,
    w: Attention,
    keys: tf.Tensor4D,
    values: tf.Tensor4D,
    bias: tf.Tensor4D | null,
  ): tf.Tensor3D {
    const [b, t] = x.shape;
    const q = this.splitHeads(this.dense(x, w.q));
    let scores = tf.mul(tf.matMul(q, keys, false, true), 1 / Math.sqrt(this.headDim));
    if (bias) scores = tf.add(scores, bias);
    const context = tf.matMul(tf.softmax(scores), values);
    const merged = tf.transpose(context, [0, 2, 1, 3]).reshape([b, t, this.arch.d_model]) as tf.Tensor3D;
    return this.dense(merged, w.o);
  }

  private feedForward(x: tf.Tensor3D, f: FeedForward): tf.Tensor3D {
    return this.dense(tf.relu(this.dense(x, f.w1)), f.w2);
  }
}
