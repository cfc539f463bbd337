import * as tf from '@tensorflow/tfjs';

/**
 * tfjs layers that behave as Keras does where the stock tfjs layer differs (registered with tfjs
 * serialization on import; keras-layer-config.ts renames the Keras classes to these):
 *
 * - `KerasGlobalAveragePooling1D`: the mean over unmasked steps when a mask arrives (Keras); tfjs
 *   averages the padding in.
 * - `KerasLSTM`, `KerasGRU`, `KerasSimpleRNN`: `zero_output_for_mask` (Keras sets it on the layers
 *   inside a `Bidirectional` that returns sequences; tfjs repeats the last output at masked steps).
 * - `KerasGRU` with `reset_after: true` (the Keras 3 and tf.keras 2 default), which tfjs's GRU
 *   refuses: the reset gate is applied after the recurrent matmul and the bias is `[2, 3 * units]`.
 */

type Args = Record<string, unknown>;
type LayerClass = new (args: Args) => tf.layers.Layer;

interface Activation {
  apply(x: tf.Tensor): tf.Tensor;
}

/** Fields of tfjs's GRUCell that the reset-after cell reads or sets. */
interface GruCellFields {
  units: number;
  useBias: boolean;
  activation: Activation;
  recurrentActivation: Activation;
  kernel: tf.LayerVariable;
  recurrentKernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  built: boolean;
  addWeight(
    name: string,
    shape: number[],
    dtype: null,
    initializer: unknown,
    regularizer: unknown,
    trainable: boolean,
    constraint: unknown,
  ): tf.LayerVariable;
  kernelInitializer: unknown;
  recurrentInitializer: unknown;
  biasInitializer: unknown;
}

interface RnnFields {
  cell: tf.layers.Layer;
  returnSequences: boolean;
  goBackwards: boolean;
}

/** The stock tfjs class registered under `name` (tfjs-layers does not export its classes). */
function stockClass(name: string): LayerClass {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[name];
  if (!entry) throw new Error(`tfjs has no layer class ${name}`);
  return entry[0] as unknown as LayerClass;
}

/** Keras's GlobalAveragePooling1D: the mean over the steps the mask keeps (all steps without a mask). */
export class KerasGlobalAveragePooling1D extends tf.layers.Layer {
  static className = 'KerasGlobalAveragePooling1D';

  constructor(args: Args = {}) {
    super(args);
    // Lets the executor hand this layer the mask; the output carries none (as in Keras).
    this.supportsMasking = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = inputShape as tf.Shape;
    return [s[0] ?? null, s[2] ?? null];
  }

  override computeMask(): tf.Tensor | tf.Tensor[] {
    // Keras: the pooled output carries no mask.
    return null as unknown as tf.Tensor;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Args): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
      const mask = kwargs['mask'] as tf.Tensor | tf.Tensor[] | undefined;
      const m = Array.isArray(mask) ? mask[0] : mask;
      if (!m) return tf.mean(x, 1);
      const weights = tf.cast(m, x.dtype).expandDims(2);
      return tf.divNoNan(tf.sum(tf.mul(x, weights), 1), tf.sum(weights, 1));
    });
  }
}
tf.serialization.registerClass(KerasGlobalAveragePooling1D);

/** A GRU cell with `reset_after`: `h~ = act(x Wh + bx_h + r * (h Uh + bh_h))`, bias `[2, 3u]`. */
function resetAfterCell(): LayerClass {
  const GRUCell = stockClass('GRUCell');
  return class ResetAfterGRUCell extends GRUCell {
    constructor(args: Args) {
      super({ ...args, resetAfter: false });
    }

    override build(inputShape: tf.Shape | tf.Shape[]): void {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
      const self = this as unknown as GruCellFields;
      const u = self.units;
      const inputDim = shape[shape.length - 1] as number;
      self.kernel = self.addWeight(
        'kernel',
        [inputDim, 3 * u],
        null,
        self.kernelInitializer,
        null,
        true,
        null,
      );
      self.recurrentKernel = self.addWeight(
        'recurrent_kernel',
        [u, 3 * u],
        null,
        self.recurrentInitializer,
        null,
        true,
        null,
      );
      self.bias = self.useBias
        ? self.addWeight('bias', [2, 3 * u], null, self.biasInitializer, null, true, null)
        : null;
      self.built = true;
    }

    override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
      return tf.tidy(() => {
        const self = this as unknown as GruCellFields;
        const [x, h] = inputs as tf.Tensor2D[];
        let mx: tf.Tensor2D = tf.matMul(x!, self.kernel.read() as tf.Tensor2D);
        let mh: tf.Tensor2D = tf.matMul(h!, self.recurrentKernel.read() as tf.Tensor2D);
        if (self.bias) {
          const [bx, bh] = tf.unstack(self.bias.read());
          mx = tf.add(mx, bx!);
          mh = tf.add(mh, bh!);
        }
        const [xz, xr, xh] = tf.split(mx, 3, 1);
        const [hz, hr, hh] = tf.split(mh, 3, 1);
        const z = self.recurrentActivation.apply(tf.add(xz!, hz!));
        const r = self.recurrentActivation.apply(tf.add(xr!, hr!));
        const candidate = self.activation.apply(tf.add(xh!, tf.mul(r, hh!)));
        const next = tf.add(tf.mul(z, h!), tf.mul(tf.sub(1, z), candidate));
        return [next, next];
      });
    }
  };
}

/** A stock tfjs recurrent layer with Keras's `zero_output_for_mask` (and `reset_after` for GRU). */
function kerasRnn(stock: 'LSTM' | 'GRU' | 'SimpleRNN'): LayerClass & { className: string } {
  const Base = stockClass(stock);
  const ResetAfterCell = stock === 'GRU' ? resetAfterCell() : undefined;
  const cls = class extends Base {
    static className = `Keras${stock}`;
    private readonly zeroOutputForMask: boolean;
    private readonly resetAfter: boolean;

    constructor(args: Args) {
      super({ ...args, resetAfter: false });
      this.zeroOutputForMask = args['zeroOutputForMask'] === true;
      this.resetAfter = args['resetAfter'] === true;
      if (this.resetAfter && ResetAfterCell) (this as unknown as RnnFields).cell = new ResetAfterCell(args);
    }

    override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Args): tf.Tensor | tf.Tensor[] {
      const out = super.call(inputs, kwargs);
      const fields = this as unknown as RnnFields;
      const raw = kwargs['mask'] as tf.Tensor | tf.Tensor[] | undefined;
      const mask = Array.isArray(raw) ? raw[0] : raw;
      if (!this.zeroOutputForMask || !fields.returnSequences || !mask) return out;
      return tf.tidy(() => {
        const list = Array.isArray(out) ? out : [out];
        // Cast before reversing: tfjs-wasm's Reverse corrupts memory on bool tensors.
        const weights = tf.cast(mask, list[0]!.dtype);
        const m = fields.goBackwards ? tf.reverse(weights, 1) : weights;
        const seq = tf.mul(list[0]!, m.expandDims(2));
        return Array.isArray(out) ? [seq, ...list.slice(1)] : seq;
      });
    }

    override getConfig(): tf.serialization.ConfigDict {
      return { ...super.getConfig(), zeroOutputForMask: this.zeroOutputForMask, resetAfter: this.resetAfter };
    }
  };
  tf.serialization.registerClass(cls as unknown as tf.serialization.SerializableConstructor<tf.layers.Layer>);
  return cls;
}

/** Keras's LSTM (`zero_output_for_mask`). */
export const KerasLSTM = kerasRnn('LSTM');
/** Keras's GRU (`zero_output_for_mask`, `reset_after`). */
export const KerasGRU = kerasRnn('GRU');
/** Keras's SimpleRNN (`zero_output_for_mask`). */
export const KerasSimpleRNN = kerasRnn('SimpleRNN');
