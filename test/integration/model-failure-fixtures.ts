import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { fileSaveHandler } from '../../src/core/models/io/tfjs-files';

/**
 * Model repository entries that break in ways the pipeline must turn into a failed batch.
 */

export const FIXTURE_VOCAB = ['[PAD]', '[UNK]', 'good', 'great', 'bad', 'awful', 'movie', 'plot'];

function writeCommon(dir: string, name: string, maxLength: number): void {
  writeFileSync(path.join(dir, 'vocab.txt'), FIXTURE_VOCAB.join('\n') + '\n');
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      name,
      task: 'classification',
      runtime: 'text-classifier',
      labels: ['neg', 'pos'],
      max_length: maxLength,
    }),
  );
  writeFileSync(path.join(dir, 'card.md'), `# ${name}\nTest fixture.\n`);
}

/**
 * A classifier that loads and passes every static check but throws when it runs on real documents:
 * Embedding(8, 2) over `[batch, length]` ids -> Reshape([2]) -> Dense(2, softmax). Its declared
 * shapes are fine (`[null, null]` in, `[null, 2]` out: with an unknown length tfjs cannot check the
 * Reshape when the model is built or loaded), and a one-token input (e.g. a padding-only probe at
 * load) runs; but a document of `n` tokens has `2n` values, which fit `[2]` only for `n = 1`.
 * TensorFlow.js finds out only when the Reshape runs ("Total size of new array must be
 * unchanged."), on wasm and cpu alike. Documents of one known word run; longer ones do not.
 */
export async function writeRunFailingClassifier(
  repo: string,
  name = 'reshape-broken',
  version = 1,
): Promise<string> {
  const dir = path.join(repo, name, String(version));
  mkdirSync(dir, { recursive: true });
  const model = tf.sequential({
    layers: [
      tf.layers.embedding({ inputDim: FIXTURE_VOCAB.length, outputDim: 2, inputShape: [null] }),
      tf.layers.reshape({ targetShape: [2] }),
      tf.layers.dense({ units: 2, activation: 'softmax' }),
    ],
  });
  await model.save(fileSaveHandler(dir));
  model.dispose();
  writeCommon(dir, name, 16);
  return dir;
}

/**
 * A classifier that works (Embedding -> GlobalAveragePooling1D -> Dense softmax); tests break its
 * files afterwards (e.g. delete `weights.bin`) to get a model that is listed but cannot load.
 */
export async function writeWorkingClassifier(repo: string, name: string, version = 1): Promise<string> {
  const dir = path.join(repo, name, String(version));
  mkdirSync(dir, { recursive: true });
  const model = tf.sequential({
    layers: [
      tf.layers.embedding({ inputDim: FIXTURE_VOCAB.length, outputDim: 2, inputShape: [null] }),
      tf.layers.globalAveragePooling1d(),
      tf.layers.dense({ units: 2, activation: 'softmax' }),
    ],
  });
  await model.save(fileSaveHandler(dir));
  model.dispose();
  writeCommon(dir, name, 16);
  return dir;
}
