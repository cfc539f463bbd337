import * as tf from '@tensorflow/tfjs';

/**
 * Keras activations tfjs lacks or computes differently, registered with tfjs serialization on
 * import under the names keras-layer-config.ts maps them to (tfjs camel-cases the snake-case names):
 *
 * - `keras3_hard_sigmoid`: Keras 3's `hard_sigmoid`, `relu6(x + 3) / 6` (tfjs and Keras 2 use
 *   `clip(0.2 x + 0.5, 0, 1)`, which keeps the name `hard_sigmoid`).
 * - `hard_silu` (alias `hard_swish`): `x * relu6(x + 3) / 6`.
 * - `leaky_relu`: Keras's activation function, negative slope 0.2.
 * - `exponential`: `exp(x)`.
 */

abstract class KerasActivation extends tf.serialization.Serializable {
  abstract apply(x: tf.Tensor): tf.Tensor;

  getConfig(): tf.serialization.ConfigDict {
    return {};
  }
}

const keras3HardSigmoid = (x: tf.Tensor): tf.Tensor => tf.div(tf.relu6(tf.add(x, 3)), 6);

class Keras3HardSigmoid extends KerasActivation {
  static readonly className = 'keras3HardSigmoid';
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => keras3HardSigmoid(x));
  }
}

class HardSilu extends KerasActivation {
  static readonly className = 'hardSilu';
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.mul(x, keras3HardSigmoid(x)));
  }
}

class LeakyRelu extends KerasActivation {
  static readonly className = 'leakyRelu';
  apply(x: tf.Tensor): tf.Tensor {
    return tf.leakyRelu(x, 0.2);
  }
}

class Exponential extends KerasActivation {
  static readonly className = 'exponential';
  apply(x: tf.Tensor): tf.Tensor {
    return tf.exp(x);
  }
}

for (const cls of [Keras3HardSigmoid, HardSilu, LeakyRelu, Exponential]) {
  tf.serialization.registerClass(cls as unknown as tf.serialization.SerializableConstructor<KerasActivation>);
}
