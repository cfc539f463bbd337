import * as tf from '@tensorflow/tfjs';
import { BackendUnavailableError, initTfBackend } from '../../../src/core/models/backend';

function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}
const NATIVE = installed('@tensorflow/tfjs-node') || installed('@tensorflow/tfjs-node-gpu');

describe('initTfBackend', () => {
  it('auto picks native tfjs-node when installed, else wasm, and is idempotent', async () => {
    const log = jest.fn();
    const expected = NATIVE ? 'tensorflow' : 'wasm';
    const name = await initTfBackend('auto', log);
    expect(name).toBe(expected);
    expect(tf.getBackend()).toBe(expected);
    expect(log).toHaveBeenCalledWith('tfjs backend selected', expect.objectContaining({ backend: expected }));
    await expect(initTfBackend('auto', log)).resolves.toBe(expected);
    expect(log).toHaveBeenCalledTimes(1);
  });

  it('switches to an explicit backend and runs ops on it', async () => {
    await expect(initTfBackend('cpu')).resolves.toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(Array.from(tf.tidy(() => tf.add(tf.tensor1d([1, 2]), 1).dataSync()))).toEqual([2, 3]);
    await expect(initTfBackend('wasm')).resolves.toBe('wasm');
    expect(Array.from(tf.tidy(() => tf.mul(tf.tensor1d([1, 2]), 3).dataSync()))).toEqual([3, 6]);
  });

  it.each(['tensorflow', 'tensorflow-gpu'] as const)(
    'an unavailable explicit choice (%s) is a clear error',
    async (choice) => {
      const err = await initTfBackend(choice).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackendUnavailableError);
      expect((err as BackendUnavailableError).code).toBe('BACKEND_UNAVAILABLE');
      expect((err as Error).message).toMatch(new RegExp(`TF_BACKEND=${choice} is not available`));
    },
  );

  it('rejects an unknown choice', async () => {
    await expect(initTfBackend('gpu' as never)).rejects.toBeInstanceOf(BackendUnavailableError);
  });
});
