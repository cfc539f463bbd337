/**
 * Decoding cost of translator architectures on a TensorFlow.js backend, before any training: random weights,
 * every row decodes exactly `--steps` tokens, so two architectures are compared on the same work. Used to pick
 * en-es-translator@2's shape so that it is not slower than v1 (issue 14); multiply by each vocabulary's
 * tokens per sentence for a per-sentence estimate.
 *
 *   node scripts/run-ts.js scripts/models/translation/bench-arch.ts [--backend wasm] [--rows 64] [--src 30] [--steps 30]
 */
import * as tf from '@tensorflow/tfjs';

import { initTfBackend, type TfBackendChoice } from '../../../src/core/models/backend';
import type { TransformerArchitecture } from '../../../src/core/models/translation/seq2seq-weights';
import { TransformerTranslator } from '../../../src/core/models/translation/transformer';

interface Shape {
  label: string;
  vocab: number;
  d: number;
  ff: number;
  enc: number;
  dec: number;
  emb: number;
}

const SHAPES: Shape[] = [
  { label: 'v1: 6k vocab, 3+2, d256, ff768', vocab: 6000, d: 256, ff: 768, enc: 3, dec: 2, emb: 256 },
  {
    label: 'v2: 12k vocab, 6+1, d256, ff768, emb128',
    vocab: 12000,
    d: 256,
    ff: 768,
    enc: 6,
    dec: 1,
    emb: 128,
  },
  {
    label: '12k vocab, 6+1, d256, ff768, no factorisation',
    vocab: 12000,
    d: 256,
    ff: 768,
    enc: 6,
    dec: 1,
    emb: 256,
  },
  { label: '12k vocab, 4+2, d256, ff768, emb128', vocab: 12000, d: 256, ff: 768, enc: 4, dec: 2, emb: 128 },
];

function randomWeights(s: Shape): tf.NamedTensorMap {
  const w: tf.NamedTensorMap = {};
  const add = (name: string, shape: number[]): void => {
    w[name] = tf.randomNormal(shape, 0, shape.length > 1 ? 1 / Math.sqrt(shape[0]!) : 0.02);
  };
  const dense = (p: string, i: number, o: number): void => {
    add(`${p}/kernel`, [i, o]);
    add(`${p}/bias`, [o]);
  };
  const ln = (p: string): void => {
    w[`${p}/gamma`] = tf.ones([s.d]);
    w[`${p}/beta`] = tf.zeros([s.d]);
  };
  const att = (p: string): void => ['q', 'k', 'v', 'o'].forEach((n) => dense(`${p}/${n}`, s.d, s.d));
  add('embedding', [s.vocab, s.emb]);
  if (s.emb !== s.d) {
    add('embedding_in/kernel', [s.emb, s.d]);
    add('embedding_out/kernel', [s.d, s.emb]);
  }
  for (let i = 0; i < s.enc; i += 1) {
    const p = `encoder/layer_${i}`;
    ln(`${p}/ln1`);
    att(`${p}/self_attention`);
    ln(`${p}/ln2`);
    dense(`${p}/ffn/w1`, s.d, s.ff);
    dense(`${p}/ffn/w2`, s.ff, s.d);
  }
  ln('encoder/final_ln');
  for (let i = 0; i < s.dec; i += 1) {
    const p = `decoder/layer_${i}`;
    ln(`${p}/ln1`);
    att(`${p}/self_attention`);
    ln(`${p}/ln2`);
    att(`${p}/cross_attention`);
    ln(`${p}/ln3`);
    dense(`${p}/ffn/w1`, s.d, s.ff);
    dense(`${p}/ffn/w2`, s.ff, s.d);
  }
  ln('decoder/final_ln');
  return w;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string, def: string): string => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? (argv[i + 1] ?? def) : def;
  };
  const backend = await initTfBackend(opt('backend', 'wasm') as TfBackendChoice);
  const rows = Number(opt('rows', '64'));
  const srcLen = Number(opt('src', '30'));
  const steps = Number(opt('steps', '30'));
  const repeats = Number(opt('repeats', '3'));
  const nets = SHAPES.map((s) => {
    const architecture: TransformerArchitecture = {
      type: 'transformer-pre-ln',
      vocab_size: s.vocab,
      d_model: s.d,
      heads: 4,
      ff: s.ff,
      encoder_layers: s.enc,
      decoder_layers: s.dec,
      max_positions: 512,
      layer_norm_epsilon: 1e-5,
      embedding_dim: s.emb,
    };
    return new TransformerTranslator({ architecture, weights: randomWeights(s) });
  });
  const batch = Array.from({ length: rows }, (_, r) => ({
    src: Array.from({ length: srcLen }, (_, i) => 4 + ((r * 31 + i * 7) % 5000)),
    maxTokens: steps,
  }));
  // Random weights rarely produce </s>; a row that does is rare enough not to matter for the comparison.
  const times: number[][] = nets.map(() => []);
  for (let k = 0; k < repeats + 1; k += 1) {
    for (let n = 0; n < nets.length; n += 1) {
      const t0 = Date.now();
      await nets[n]!.translate(batch);
      if (k > 0) times[n]!.push(Date.now() - t0); // first round warms up
    }
  }
  console.log(
    `backend ${backend}: ${rows} rows x ${srcLen} source tokens, ${steps} decoding steps (median of ${repeats})`,
  );
  SHAPES.forEach((s, n) => {
    const sorted = [...times[n]!].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    console.log(`${s.label.padEnd(52)} ${median} ms  (${(median / steps).toFixed(1)} ms/step)`);
  });
  nets.forEach((n) => n.dispose());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
