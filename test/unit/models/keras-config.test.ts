import type { Hdf5Array, Hdf5Group } from '../../../src/core/models/network/hdf5-file';
import type { JsonObject } from '../../../src/core/models/network/keras-layer-config';
import { normaliseKerasModel } from '../../../src/core/models/network/keras-model-config';
import { kerasIoNames, kerasVocabSize } from '../../../src/core/models/network/keras-topology-facts';
import { kerasZipWeights, snakeCase } from '../../../src/core/models/network/keras-zip-weights';

/**
 * The Keras config normaliser and the `.keras` weight layout on hand-written configs: cases the
 * framework-written fixtures (network-loaders.test.ts) do not reach.
 */

const SRC = { file: 'model.keras', field: 'config.json', kerasMajor: 3 };

const tensor = (layer: string, node = 0) => ({
  class_name: '__keras_tensor__',
  config: { shape: [null, 8], dtype: 'float32', keras_history: [layer, node, 0] },
});

function functional(layers: JsonObject[], output: string): JsonObject {
  return {
    class_name: 'Functional',
    config: { name: 'm', layers, input_layers: ['ids', 0, 0], output_layers: [output, 0, 0] },
  };
}

const input: JsonObject = {
  class_name: 'InputLayer',
  name: 'ids',
  config: { batch_shape: [null, 12], dtype: 'int32', name: 'ids' },
  inbound_nodes: [],
};

const layer = (cls: string, name: string, from: string, config: JsonObject = {}): JsonObject => ({
  module: 'keras.layers',
  class_name: cls,
  name,
  config: {
    name,
    dtype: { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' } },
    ...config,
  },
  registered_name: null,
  build_config: { input_shape: [null, 12] },
  inbound_nodes: [{ args: [tensor(from)], kwargs: {} }],
});

describe('normaliseKerasModel', () => {
  it('turns a Keras 3 Functional config into the Keras 2 form tfjs reads', () => {
    const model = functional(
      [
        input,
        layer('Embedding', 'emb', 'ids', {
          input_dim: 300,
          output_dim: 8,
          embeddings_initializer: { class_name: 'RandomUniform' },
        }),
        layer('Dense', 'out', 'emb', {
          units: 2,
          activation: 'silu',
          kernel_regularizer: { class_name: 'L2' },
        }),
      ],
      'out',
    );
    const out = normaliseKerasModel(model, SRC);
    expect(out['class_name']).toBe('Model');
    const config = out['config'] as JsonObject;
    expect(config['input_layers']).toEqual([['ids', 0, 0]]);
    const [inp, emb, dense] = config['layers'] as JsonObject[];
    expect(inp!['config']).toEqual({ batch_input_shape: [null, 12], dtype: 'int32', name: 'ids' });
    expect(emb!['inbound_nodes']).toEqual([[['ids', 0, 0, {}]]]);
    expect((emb!['config'] as JsonObject)['dtype']).toBe('float32');
    expect((emb!['config'] as JsonObject)['embeddings_initializer']).toEqual({
      class_name: 'Zeros',
      config: {},
    });
    expect(emb).not.toHaveProperty('module');
    expect(emb).not.toHaveProperty('build_config');
    expect((dense!['config'] as JsonObject)['activation']).toBe('swish');
    expect((dense!['config'] as JsonObject)['kernel_regularizer']).toBeNull();
    expect(kerasVocabSize(out)).toBe(300);
    expect(kerasIoNames(out)).toEqual({ inputs: ['ids'], outputs: ['out'] });
  });

  it('names the layer and what is wrong, in one short line', () => {
    const cases: [JsonObject, RegExp][] = [
      [
        layer('MultiHeadAttention', 'mha', 'ids'),
        /layer 'mha' is a MultiHeadAttention, which docbatch cannot run/,
      ],
      [
        layer('Dense', 'd', 'ids', { units: 2, activation: 'tanh_shrink' }),
        /layer 'd' uses activation "tanh_shrink"/,
      ],
      [
        layer('Conv1D', 'c', 'ids', { data_format: 'channels_first' }),
        /layer 'c': data_format channels_first/,
      ],
      [layer('LayerNormalization', 'n', 'ids', { rms_scaling: true }), /layer 'n': rms_scaling/],
      [layer('LSTM', 'l', 'ids', { stateful: true }), /layer 'l': stateful/],
    ];
    for (const [entry, message] of cases) {
      const run = () => normaliseKerasModel(functional([input, entry], String(entry['name'])), SRC);
      expect(run).toThrow(message);
      try {
        run();
      } catch (err) {
        expect((err as Error).message).toMatch(/^model\.keras config\.json: /);
        expect((err as { code: string }).code).toBe('MODEL_INCOMPATIBLE');
        expect((err as Error).message.length).toBeLessThan(200);
      }
    }
  });

  it('refuses a tensor keyword that is not an embedding mask, and a model that is not Sequential or Functional', () => {
    const extra = layer('Dense', 'd', 'ids', { units: 2 });
    extra['inbound_nodes'] = [{ args: [tensor('ids')], kwargs: { mask: tensor('ids') } }];
    expect(() => normaliseKerasModel(functional([input, extra], 'd'), SRC)).toThrow(
      /layer 'd' is called with a tensor for 'mask'/,
    );
    expect(() => normaliseKerasModel({ class_name: 'MyModel', config: {} }, SRC)).toThrow(
      /the model is a "MyModel", not a Sequential or Functional Keras model/,
    );
  });

  it('moves a nested model reference one node on (tfjs and Keras 2 count its own input node)', () => {
    const sub: JsonObject = {
      class_name: 'Sequential',
      name: 'sub',
      config: {
        name: 'sub',
        layers: [
          { class_name: 'InputLayer', config: { batch_shape: [null, 12], dtype: 'int32', name: 'sub_in' } },
          { class_name: 'Embedding', config: { name: 'e', input_dim: 50, output_dim: 4 } },
        ],
      },
      inbound_nodes: [{ args: [tensor('ids')], kwargs: {} }],
    };
    const out = normaliseKerasModel(functional([input, sub, layer('Flatten', 'f', 'sub')], 'f'), SRC);
    const flatten = ((out['config'] as JsonObject)['layers'] as JsonObject[])[2]!;
    expect(flatten['inbound_nodes']).toEqual([[['sub', 1, 0, {}]]]);
    expect(kerasVocabSize(out)).toBe(50);
  });
});

/** An in-memory stand-in for an HDF5 file: a tree of groups, datasets and `vars` name attributes. */
function fakeH5(tree: Record<string, unknown>, path = '/'): Hdf5Group {
  return {
    path,
    keys: () => Object.keys(tree).filter((k) => k !== '@name'),
    attr: (name) => (name === 'name' ? tree['@name'] : undefined),
    group(p) {
      let node: unknown = tree;
      for (const part of p.split('/')) node = (node as Record<string, unknown> | undefined)?.[part];
      return node && !(node instanceof Float32Array)
        ? fakeH5(node as Record<string, unknown>, `${path}${p}/`)
        : undefined;
    },
    dataset(p): Hdf5Array | undefined {
      let node: unknown = tree;
      for (const part of p.split('/')) node = (node as Record<string, unknown> | undefined)?.[part];
      return node instanceof Float32Array ? { shape: [node.length], values: node } : undefined;
    },
  };
}

describe('kerasZipWeights', () => {
  const w = (...v: number[]) => Float32Array.from(v);

  it('finds layers by the object path Keras derives from class names when vars carry no name', () => {
    // Keras 3 before the `name` attribute: layers/<snake_case class>[_<n>] in model.layers order.
    const h5 = fakeH5({
      layers: {
        input_layer: { vars: {} },
        embedding: { vars: { '0': w(1, 2) } },
        dense: { vars: { '0': w(3), '1': w(4) } },
        dense_1: { vars: { '0': w(5), '1': w(6) } },
        bidirectional: {
          forward_layer: { cell: { vars: { '0': w(7), '1': w(8), '2': w(9) } } },
          backward_layer: { cell: { vars: { '0': w(10), '1': w(11), '2': w(12) } } },
        },
      },
    });
    const model = functional(
      [
        input,
        layer('Embedding', 'emb', 'ids'),
        layer('Dense', 'hidden', 'emb'),
        layer('Dense', 'out', 'hidden'),
        layer('Bidirectional', 'bi', 'emb', { layer: { class_name: 'LSTM', config: { name: 'lstm' } } }),
      ],
      'out',
    );
    const weights = kerasZipWeights(h5, model, 'model.keras');
    const values = (name: string) => weights(name)?.map((a) => Array.from(a.values));
    expect(values('emb')).toEqual([[1, 2]]);
    expect(values('hidden')).toEqual([[3], [4]]);
    expect(values('out')).toEqual([[5], [6]]);
    // Forward before backward, though the file lists backward_layer first.
    expect(values('bi')).toEqual([[7], [8], [9], [10], [11], [12]]);
  });

  it('prefers the name attribute of vars groups', () => {
    const h5 = fakeH5({
      layers: {
        dense: { vars: { '@name': 'second', '0': w(1) } },
        dense_1: { vars: { '@name': 'first', '0': w(2) } },
      },
    });
    const model = functional(
      [input, layer('Dense', 'first', 'ids'), layer('Dense', 'second', 'first')],
      'second',
    );
    const weights = kerasZipWeights(h5, model, 'model.keras');
    expect(weights('first')?.map((a) => Array.from(a.values))).toEqual([[2]]);
    expect(weights('second')?.map((a) => Array.from(a.values))).toEqual([[1]]);
  });

  it('snake-cases class names as Keras does', () => {
    expect(snakeCase('GlobalAveragePooling1D')).toBe('global_average_pooling1d');
    expect(snakeCase('LSTM')).toBe('lstm');
    expect(snakeCase('InputLayer')).toBe('input_layer');
    expect(snakeCase('SpatialDropout1D')).toBe('spatial_dropout1d');
  });
});
