import * as tf from '@tensorflow/tfjs';

/**
 * `MaskedGlobalPooling1D`: a Keras-style layer for padded token sequences. Inputs are
 * `[features [batch, length, dim], ids [batch, length]]`; positions whose id is 0 ([PAD]) are ignored.
 * Output `[batch, 2 * dim]` = masked mean followed by masked max over the time axis.
 *
 * Unlike GlobalAveragePooling1D (which averages the padding in), the result does not depend on how
 * much right padding a tensor batch adds, so a document scores the same in any batch. Registered with
 * tfjs serialization on import so `model.json` files that use it load.
 */
export class MaskedGlobalPooling1D extends tf.layers.Layer {
  static className = 'MaskedGlobalPooling1D';

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shapes = inputShape as tf.Shape[];
    const features = shapes[0];
    if (!Array.isArray(features) || features.length !== 3) {
      throw new Error('MaskedGlobalPooling1D expects [features [b, t, d], ids [b, t]]');
    }
    const dim = features[2];
    return [features[0] ?? null, dim == null ? null : 2 * dim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [x, ids] = inputs as tf.Tensor[];
      if (!x || !ids) throw new Error('MaskedGlobalPooling1D expects two inputs');
      return maskedMeanMax(x as tf.Tensor3D, ids as tf.Tensor2D);
    });
  }
}
tf.serialization.registerClass(MaskedGlobalPooling1D);

/** Masked mean and max over axis 1 (see {@link MaskedGlobalPooling1D}); differentiable in `x`. */
export function maskedMeanMax(x: tf.Tensor3D, ids: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const mask = tf.cast(tf.notEqual(ids, 0), 'float32').expandDims(2);
    const count = tf.maximum(tf.sum(mask, 1), 1);
    const mean = tf.div(tf.sum(tf.mul(x, mask), 1), count);
    const max = tf.max(tf.add(x, tf.mul(tf.sub(mask, 1), 1e9)), 1);
    return tf.concat([mean, max], 1) as tf.Tensor2D;
  });
}
