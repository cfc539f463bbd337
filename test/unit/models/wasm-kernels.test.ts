import * as tf from '@tensorflow/tfjs';
import { initTfBackend } from '../../../src/core/models/backend';

/**
 * The wasm backend's Slice, Unpack, SplitV and Reverse kernels (src/core/models/wasm-kernels.ts,
 * installed by initTfBackend('wasm')) give exactly what the plain JavaScript kernels give, for every
 * dtype, rank and axis tried, on tensors created both before and after heap growth.
 */
jest.setTimeout(60_000);

let seed = 12345;
const rand = (): number => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const randInt = (n: number): number => Math.floor(rand() * n);

type Case = { shape: number[]; dtype: 'float32' | 'int32' | 'bool'; values: number[] };

function randomCase(): Case {
  const rank = 1 + randInt(5);
  const shape = Array.from({ length: rank }, () => 1 + randInt(rank > 3 ? 4 : 7));
  const dtype = (['float32', 'int32', 'bool'] as const)[randInt(3)]!;
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: n }, () =>
    dtype === 'bool' ? randInt(2) : dtype === 'int32' ? randInt(1000) - 500 : rand() * 2 - 1,
  );
  return { shape, dtype, values };
}

/** Runs `op` on the cpu and the wasm backends; returns both results as nested arrays. */
async function both(c: Case, op: (x: tf.Tensor) => tf.Tensor | tf.Tensor[]): Promise<[unknown, unknown]> {
  const out: unknown[] = [];
  for (const backend of ['cpu', 'wasm'] as const) {
    await tf.setBackend(backend);
    const x = tf.tensor(c.values, c.shape, c.dtype);
    const y = op(x);
    const ys = Array.isArray(y) ? y : [y];
    out.push(ys.map((t) => ({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync()) })));
    tf.dispose([x, ...ys]);
  }
  return out as [unknown, unknown];
}

beforeAll(async () => {
  await initTfBackend('wasm'); // registers the wasm backend and installs the kernels
});

it('replaced the stock kernels', () => {
  expect(tf.getBackend()).toBe('wasm');
  for (const name of [tf.Slice, tf.Unpack, tf.SplitV, tf.Reverse])
    expect(tf.getKernel(name, 'wasm')?.kernelFunc.name).toBe('docbatchWasmKernel');
});

it('slice: 300 random blocks of random tensors', async () => {
  for (let i = 0; i < 300; i++) {
    const c = randomCase();
    const begin = c.shape.map((d) => randInt(d));
    const size = c.shape.map((d, a) => (randInt(4) === 0 ? -1 : 1 + randInt(d - begin[a]!)));
    const [cpu, wasm] = await both(c, (x) => tf.slice(x, begin, size));
    expect(wasm).toEqual(cpu);
  }
});

it('unstack and split: every axis, even and uneven splits', async () => {
  for (let i = 0; i < 150; i++) {
    const c = randomCase();
    const axis = randInt(c.shape.length);
    const [cpu1, wasm1] = await both(c, (x) => tf.unstack(x, axis));
    expect(wasm1).toEqual(cpu1);
    const d = c.shape[axis]!;
    const cut = randInt(d + 1);
    const [cpu2, wasm2] = await both(c, (x) => tf.split(x, [cut, d - cut], axis));
    expect(wasm2).toEqual(cpu2);
  }
});

it('reverse: every set of axes, the last axis included', async () => {
  for (let i = 0; i < 200; i++) {
    const c = randomCase();
    const axes = c.shape.map((_, a) => a).filter(() => randInt(2) === 0);
    const [cpu, wasm] = await both(c, (x) => tf.reverse(x, axes));
    expect(wasm).toEqual(cpu);
  }
});

it('stays exact after the heap grows between allocations (large tensors)', async () => {
  const c: Case = {
    shape: [64, 64, 100],
    dtype: 'float32',
    values: Array.from({ length: 64 * 64 * 100 }, (_, i) => (i % 9973) / 9973),
  };
  const [cpu, wasm] = await both(c, (x) => [...tf.unstack(x), tf.reverse(x, 0), ...tf.split(x, 4, 2)]);
  expect(wasm).toEqual(cpu);
});
