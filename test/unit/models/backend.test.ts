import * as tf from '@tensorflow/tfjs';
import {
  BackendUnavailableError,
  currentTfBackendDetail,
  initTfBackend,
  nativePackageInstalled,
} from '../../../src/core/models/backend';

/** Whether `npm run native:install` (or a hand install) gave this machine each native package. */
const INSTALLED = {
  tensorflow: nativePackageInstalled('@tensorflow/tfjs-node'),
  'tensorflow-gpu': nativePackageInstalled('@tensorflow/tfjs-node-gpu'),
};

describe('initTfBackend', () => {
  it('auto picks the native backend when installed, else wasm, says why, and is idempotent', async () => {
    const log = jest.fn();
    // A GPU package needs a GPU; on a machine with one installed, auto may pick it too.
    const expected = INSTALLED.tensorflow || INSTALLED['tensorflow-gpu'] ? 'tensorflow' : 'wasm';
    const name = await initTfBackend('auto', log);
    expect(name).toBe(expected);
    expect(tf.getBackend()).toBe(expected);
    expect(log).toHaveBeenCalledWith('tfjs backend selected', expect.objectContaining({ backend: expected }));
    const detail = currentTfBackendDetail();
    if (expected === 'wasm') {
      expect(detail).toBe(
        'wasm (WebAssembly SIMD; TF_BACKEND=auto: native backend not installed, run npm run native:install)',
      );
    } else {
      expect(detail).toMatch(
        /^tensorflow \(native (CPU|GPU), from (\.native\/)?node_modules\/@tensorflow\/tfjs-node/,
      );
    }
    expect(log.mock.calls[0][1]).toMatchObject({ detail });
    await expect(initTfBackend('auto', log)).resolves.toBe(expected);
    expect(log).toHaveBeenCalledTimes(1);
  });

  it('switches to an explicit backend and runs ops on it', async () => {
    await expect(initTfBackend('cpu')).resolves.toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(Array.from(tf.tidy(() => tf.add(tf.tensor1d([1, 2]), 1).dataSync()))).toEqual([2, 3]);
    await expect(initTfBackend('wasm')).resolves.toBe('wasm');
    expect(Array.from(tf.tidy(() => tf.mul(tf.tensor1d([1, 2]), 3).dataSync()))).toEqual([3, 6]);
    expect(currentTfBackendDetail()).toBe('wasm (WebAssembly SIMD; TF_BACKEND=wasm)');
  });

  it("the cpu backend's 'install our node backend' banner does not reach the logs", async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await initTfBackend('cpu');
      tf.tidy(() => tf.tensor1d([1, 2, 3]).dataSync());
      const printed = [...warn.mock.calls, ...log.mock.calls].flat().join('\n');
      expect(printed).not.toMatch(
        /install our node backend|looks like you are running TensorFlow\.js in Node/,
      );
    } finally {
      warn.mockRestore();
      log.mockRestore();
    }
  });

  if (INSTALLED.tensorflow) {
    it("an explicit tensorflow runs ops natively, with the project's single tfjs engine", async () => {
      await expect(initTfBackend('tensorflow')).resolves.toBe('tensorflow');
      expect(tf.getBackend()).toBe('tensorflow');
      expect(Array.from(tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).dataSync()))).toEqual([
        3, 3, 3, 3,
      ]);
      expect(currentTfBackendDetail()).toMatch(/^tensorflow \(native CPU, from .*; TF_BACKEND=tensorflow\)$/);
    });
  }

  it.each((['tensorflow', 'tensorflow-gpu'] as const).filter((c) => !INSTALLED[c]))(
    'an explicit choice that is not installed (%s) is a clear error',
    async (choice) => {
      const err = await initTfBackend(choice).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackendUnavailableError);
      expect((err as BackendUnavailableError).code).toBe('BACKEND_UNAVAILABLE');
      expect((err as Error).message).toMatch(
        new RegExp(`TF_BACKEND=${choice} is not available: .*not installed`),
      );
      expect((err as Error).message).toMatch(/npm run native:install/);
    },
  );

  it('rejects an unknown choice', async () => {
    await expect(initTfBackend('gpu' as never)).rejects.toBeInstanceOf(BackendUnavailableError);
  });
});
