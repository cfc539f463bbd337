import type { TfBackendChoice, TfBackendName } from '../../src/core/models/backend';

/**
 * The TensorFlow.js backends a model suite runs on: `TEST_TF_BACKEND` (one choice or a
 * comma-separated list, e.g. `tensorflow` once `npm run native:install` has run, as .ci/run does),
 * else the suite's defaults. An explicit backend that cannot load fails the suite (no silent fallback).
 */
export function testBackends<T extends TfBackendChoice>(defaults: readonly T[]): TfBackendChoice[] {
  const env = process.env.TEST_TF_BACKEND?.trim();
  if (!env) return [...defaults];
  return env.split(',').map((b) => b.trim() as TfBackendChoice);
}

/** The backend name (`tf.getBackend()`) a choice runs as. */
export function backendName(choice: TfBackendChoice): TfBackendName {
  if (choice === 'tensorflow' || choice === 'tensorflow-gpu') return 'tensorflow';
  if (choice === 'auto') throw new Error('TEST_TF_BACKEND=auto: name a backend');
  return choice;
}
