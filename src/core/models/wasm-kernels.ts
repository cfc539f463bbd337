import * as tf from '@tensorflow/tfjs';

/**
 * Faster `Slice`, `Unpack`, `SplitV` and `Reverse` kernels for tfjs-backend-wasm 4.22 (issue 15).
 *
 * The stock kernels read their input with `backend.readSync(dataId)`, which copies the whole input
 * tensor out of the WebAssembly heap, once per output: `tf.unstack` of a [64, 256, 100] tensor (a
 * recurrent layer's input, one slice per time step) copied 64 x 6.5 MB and took 100-200 ms, more than
 * half of a GRU classifier's run. These read the input through a view of the heap instead (taken
 * after each output is allocated, as an allocation may grow the heap and detach older views) and copy
 * only the slice. `Reverse` along leading axes (a backward recurrent layer reverses the time axis of a
 * [steps, batch, features] tensor: 60 ms a call in the stock kernel, which maps every element's index)
 * copies whole rows (and the stock kernel wrote out of bounds on bool tensors, corrupting the heap, and divided by zero
 * when given no axis).
 * Same results, element for element (test/unit/models/wasm-kernels.test.ts); string
 * tensors keep the stock path.
 */

interface WasmTensorInfo {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}

/** The parts of tfjs-backend-wasm's BackendWasm these kernels use. */
interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): WasmTensorInfo;
  typedArrayFromHeap(t: WasmTensorInfo): tf.TypedArray;
}

const sizeOf = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

function strides(shape: number[]): number[] {
  const out = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) out[i] = out[i + 1]! * shape[i + 1]!;
  return out;
}

/** Copies the block `begin`/`size` of `x` into a new output tensor. */
function sliceHeap(backend: WasmBackend, x: WasmTensorInfo, begin: number[], size: number[]): WasmTensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  const total = sizeOf(size);
  if (total === 0) return out;
  // Views after makeOutput: the allocation may have grown the heap.
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  const rank = x.shape.length;
  const xs = strides(x.shape);
  // The innermost run of elements that is contiguous in both: trailing axes taken whole.
  let inner = 1;
  let axis = rank - 1;
  while (axis >= 0 && size[axis] === x.shape[axis]) {
    inner *= size[axis]!;
    axis--;
  }
  if (axis < 0) {
    dst.set(src.subarray(0, total));
    return out;
  }
  inner *= size[axis]!;
  const runs = total / inner;
  // Odometer over the axes before `axis`, then one run along `axis` and the rest.
  const idx = new Array<number>(axis).fill(0);
  let outOffset = 0;
  for (let r = 0; r < runs; r++) {
    let offset = begin[axis]! * xs[axis]!;
    for (let a = 0; a < axis; a++) offset += (begin[a]! + idx[a]!) * xs[a]!;
    dst.set(src.subarray(offset, offset + inner), outOffset);
    outOffset += inner;
    for (let a = axis - 1; a >= 0; a--) {
      if (++idx[a]! < size[a]!) break;
      idx[a] = 0;
    }
  }
  return out;
}

/** `x` reversed along `axes`, by contiguous rows (element by element when the last axis is reversed). */
function reverseHeap(backend: WasmBackend, x: WasmTensorInfo, axes: number[]): WasmTensorInfo {
  const out = backend.makeOutput(x.shape, x.dtype);
  const total = sizeOf(x.shape);
  if (total === 0) return out;
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  const last = Math.max(...axes);
  const inner = sizeOf(x.shape.slice(last + 1));
  const xs = strides(x.shape);
  const reversed = x.shape.map((_, a) => axes.includes(a));
  const idx = new Array<number>(last + 1).fill(0);
  const runs = total / inner;
  let outOffset = 0;
  for (let r = 0; r < runs; r++) {
    let offset = 0;
    for (let a = 0; a <= last; a++) offset += (reversed[a] ? x.shape[a]! - 1 - idx[a]! : idx[a]!) * xs[a]!;
    if (inner === 1) dst[outOffset] = src[offset]!;
    else dst.set(src.subarray(offset, offset + inner), outOffset);
    outOffset += inner;
    for (let a = last; a >= 0; a--) {
      if (++idx[a]! < x.shape[a]!) break;
      idx[a] = 0;
    }
  }
  return out;
}

type KernelArgs = {
  inputs: Record<string, WasmTensorInfo>;
  backend: WasmBackend;
  attrs: Record<string, unknown>;
};

let installed = false;

/**
 * Replaces the wasm backend's Slice, Unpack and SplitV kernels (once per thread, after the backend
 * is registered). Each falls back to the stock kernel for string tensors.
 */
export function installWasmKernels(): void {
  if (installed) return;
  const stock = new Map<string, tf.KernelConfig>();
  for (const name of [tf.Slice, tf.Unpack, tf.SplitV, tf.Reverse]) {
    const k = tf.getKernel(name, 'wasm');
    if (!k) return; // not the wasm backend we know: leave it alone
    stock.set(name, k);
  }
  installed = true;
  const replace = (name: string, fn: (args: KernelArgs) => WasmTensorInfo | WasmTensorInfo[]): void => {
    const old = stock.get(name)!;
    tf.unregisterKernel(name, 'wasm');
    const docbatchWasmKernel = (args: KernelArgs): unknown => {
      const first = Object.values(args.inputs)[0];
      if (!first || first.dtype === 'string') return old.kernelFunc(args as never);
      return fn(args);
    };
    tf.registerKernel({ ...old, kernelFunc: docbatchWasmKernel as unknown as tf.KernelFunc });
  };

  replace(tf.Slice, ({ inputs, backend, attrs }) => {
    const x = inputs['x']!;
    const [begin, size] = tf.slice_util.parseSliceParams(
      x as unknown as tf.TensorInfo,
      attrs['begin'] as number[],
      attrs['size'] as number[],
    );
    return sliceHeap(backend, x, begin as number[], size as number[]);
  });

  replace(tf.Reverse, ({ inputs, backend, attrs }) => {
    const x = inputs['x']!;
    const axes = tf.util.parseAxisParam(attrs['dims'] as number | number[], x.shape);
    // Nothing to reverse (the stock kernel divided by zero here): a copy.
    if (axes.length === 0)
      return sliceHeap(
        backend,
        x,
        x.shape.map(() => 0),
        x.shape.slice(),
      );
    return reverseHeap(backend, x, axes);
  });

  replace(tf.Unpack, ({ inputs, backend, attrs }) => {
    const value = inputs['value']!;
    let axis = attrs['axis'] as number;
    if (axis < 0) axis += value.shape.length;
    const n = value.shape[axis]!;
    const outShape = value.shape.filter((_, i) => i !== axis);
    const begin = new Array<number>(value.shape.length).fill(0);
    const size = value.shape.slice();
    size[axis] = 1;
    const outs: WasmTensorInfo[] = [];
    for (let i = 0; i < n; i++) {
      begin[axis] = i;
      const o = sliceHeap(backend, value, begin, size);
      outs.push({ dataId: o.dataId, dtype: o.dtype, shape: outShape });
    }
    return outs;
  });

  replace(tf.SplitV, ({ inputs, backend, attrs }) => {
    const x = inputs['x']!;
    const axis = tf.util.parseAxisParam(attrs['axis'] as number, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(
      x as unknown as tf.Tensor,
      attrs['numOrSizeSplits'] as number | number[],
      axis,
    );
    const begin = new Array<number>(x.shape.length).fill(0);
    const size = x.shape.slice();
    return sizes.map((s) => {
      const sz = size.slice();
      sz[axis] = s;
      const o = sliceHeap(backend, x, begin, sz);
      begin[axis]! += s;
      return o;
    });
  });
}
