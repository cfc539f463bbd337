import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { fileSaveHandler } from '../../../src/core/models/io/tfjs-files';

export const USER_VOCAB = ['[PAD]', '[UNK]', 'good', 'great', 'bad', 'awful', 'movie', 'plot'];

/**
 * Writes a tiny user classifier (`<repo>/<name>/<version>/`) the way an operator would: a tfjs
 * LayersModel (Embedding -> GlobalAveragePooling1D -> Dense softmax) saved as model.json + weights.bin,
 * vocab.txt and config.json. Weights are set by hand so "good/great" -> pos and "bad/awful" -> neg.
 */
export async function writeUserClassifier(
  repo: string,
  name = 'sentiment-mini',
  version = 1,
  extraConfig: Record<string, unknown> = {},
): Promise<string> {
  const dir = path.join(repo, name, String(version));
  mkdirSync(dir, { recursive: true });
  const model = tf.sequential({
    layers: [
      tf.layers.embedding({ inputDim: USER_VOCAB.length, outputDim: 2, inputShape: [null] }),
      tf.layers.globalAveragePooling1d(),
      tf.layers.dense({ units: 2, activation: 'softmax' }),
    ],
  });
  // Embedding dim 0 = positive evidence, dim 1 = negative evidence.
  const emb = tf.tensor2d([
    [0, 0],
    [0, 0],
    [2, 0],
    [3, 0],
    [0, 2],
    [0, 3],
    [0.1, 0.1],
    [0.1, 0.1],
  ]);
  const kernel = tf.tensor2d([
    [-2, 2],
    [2, -2],
  ]); // output order: [neg, pos]
  const bias = tf.tensor1d([0, 0]);
  model.setWeights([emb, kernel, bias]);
  await model.save(fileSaveHandler(dir));
  for (const t of [emb, kernel, bias]) t.dispose();
  model.dispose();
  writeFileSync(path.join(dir, 'vocab.txt'), USER_VOCAB.join('\n') + '\n');
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      name,
      task: 'classification',
      runtime: 'text-classifier',
      labels: ['neg', 'pos'],
      max_length: 16,
      ...extraConfig,
    }),
  );
  writeFileSync(path.join(dir, 'card.md'), `# ${name}\nTest fixture.\n`);
  return dir;
}
