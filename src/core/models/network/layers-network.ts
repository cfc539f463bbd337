import * as tf from '@tensorflow/tfjs';
import { incompatible, loadFailed } from '../model-errors';
import './keras-activations';
import './keras-compat-layers';
import type { JsonObject } from './keras-layer-config';
import { kerasIoNames, kerasVocabSize } from './keras-topology-facts';
import type { Network, NetworkFormat, NetworkLoadOptions, NetworkSpec, TensorSpec } from './types';

/**
 * A {@link Network} over a tfjs LayersModel built from a normalised Keras config
 * (keras-model-config.ts), with its weights set layer by layer from the artefact: each layer gets
 * its own weights in its own order, every shape checked, so nothing depends on weight names
 * matching between Keras and tfjs.
 */

/** One weight array as the artefact holds it. */
export interface WeightArray {
  /** Name in the artefact (`dense/kernel:0`, `layers/dense/vars/0`), for messages. */
  name: string;
  shape: number[];
  values: Float32Array;
}

/** Where the weights come from: the arrays of one layer (all of a nested model's), in Keras order. */
export type WeightSource = (layer: string) => WeightArray[] | undefined;

export interface BuildOptions extends NetworkLoadOptions {
  format: NetworkFormat;
  file: string;
  /** Field the config was read from, for messages (`model_config`, `config.json`, `modelTopology`). */
  field: string;
  /** Field the weights were read from, for messages (`model_weights`, `model.weights.h5`, `weightsManifest`). */
  weightsField: string;
  writtenBy?: string;
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.slice(0, 200);
}

/**
 * An error of a network run, passed on as it is (an Error; anything else wrapped in one). It is
 * not made a ModelError: whether a run failure is the model's fault (the whole batch fails) or
 * one document's (that document fails) is decided by the pipeline, which reruns the documents
 * alone (src/core/pipeline/run-safe.ts). `file` is kept for the message of a non-Error throw.
 */
export function runFailure(file: string, err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(`${file} fails when it runs: ${firstLine(err)}`);
}

/**
 * Token ids per pass of a Keras network on the wasm backend (see `rowsPerPass`). Measured with
 * bench/backends.ts (2026-12-05): spam-classifier@2 (512-token inputs) 4,144 docs/s in passes of
 * 16,384 tokens against 3,588 in one pass of 256 x 512 and 4,232 in passes of 32 rows; the GRU
 * sentiment classifier (64 tokens) 733 against 717 in one pass and 420 in passes of 32 rows.
 */
const WASM_TOKENS_PER_PASS = 16_384;

/**
 * Rows of a tensor batch run in one pass of LayersModel.predict, whose default (32) cut every batch
 * into slices of 32 run one after another, each op's fixed cost paid per slice: the sentiment
 * classifier's GRUs ran 5x slower on the native backend, the spam classifier 1.4x. The native backend
 * takes the whole batch at once (best for every bundled model); wasm passes of at most
 * WASM_TOKENS_PER_PASS token ids, whose activations stay in the cache.
 */
function rowsPerPass(x: tf.Tensor | undefined): number {
  const rows = Math.max(1, x?.shape[0] ?? 1);
  if (tf.getBackend() !== 'wasm') return rows;
  const perRow = x && x.shape.length > 1 ? x.shape.slice(1).reduce((a, b) => a * b, 1) : 1;
  return Math.max(1, Math.min(rows, Math.floor(WASM_TOKENS_PER_PASS / Math.max(1, perRow))));
}

const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

function setLayerWeights(layer: tf.layers.Layer, arrays: WeightArray[], opts: BuildOptions): void {
  const wanted = layer.weights;
  const where = `${opts.weightsField} ${layer.name}`;
  if (arrays.length !== wanted.length) {
    throw incompatible(
      opts.file,
      where,
      `${arrays.length} weights for layer '${layer.name}', which has ${wanted.length}`,
    );
  }
  wanted.forEach((w, i) => {
    const a = arrays[i]!;
    if (!sameShape(a.shape, w.shape as number[])) {
      throw incompatible(
        opts.file,
        where,
        `weight '${a.name}' has shape [${a.shape.join(', ')}], layer '${layer.name}' needs [${w.shape.join(', ')}]`,
      );
    }
  });
  const tensors = arrays.map((a) => tf.tensor(a.values, a.shape, 'float32'));
  try {
    layer.setWeights(tensors);
  } finally {
    tf.dispose(tensors);
  }
}

/**
 * Sets the weights of every layer that has any. A nested model whose weights the source does not
 * hold under its own name gets them layer by layer (tfjs converter output names a Keras 2 nested
 * model's weights after its inner layers).
 */
function setAllWeights(layers: tf.layers.Layer[], weights: WeightSource, opts: BuildOptions): void {
  for (const layer of layers) {
    if (layer.weights.length === 0) continue;
    const arrays = weights(layer.name);
    const inner = (layer as Partial<tf.LayersModel>).layers;
    if (!arrays && inner) setAllWeights(inner, weights, opts);
    else if (!arrays) throw loadFailed(opts.file, `no weights for layer '${layer.name}'`, opts.weightsField);
    else setLayerWeights(layer, arrays, opts);
  }
}

/** Builds the model of a normalised Keras config and sets every layer's weights from `weights`. */
export async function buildLayersNetwork(
  topology: JsonObject,
  weights: WeightSource,
  opts: BuildOptions,
): Promise<Network> {
  let model: tf.LayersModel;
  try {
    model = await tf.models.modelFromJSON({ modelTopology: topology } as unknown as tf.io.ModelJSON);
  } catch (err) {
    throw incompatible(opts.file, opts.field, `tfjs cannot build the model (${firstLine(err)})`);
  }
  try {
    setAllWeights(model.layers, weights, opts);
    return LayersNetwork.fromModel(model, topology, opts);
  } catch (err) {
    model.dispose();
    throw err;
  }
}

function specOf(model: tf.LayersModel, topology: JsonObject, opts: BuildOptions): NetworkSpec {
  const names = kerasIoNames(topology);
  const inputs: TensorSpec[] = model.inputs.map((t, i) => ({
    name: names.inputs[i] || t.name,
    shape: t.shape.map((d) => d ?? null),
    dtype: t.dtype,
  }));
  const outputs: TensorSpec[] = model.outputs.map((t, i) => ({
    name: names.outputs[i] || t.name,
    shape: t.shape.map((d) => d ?? null),
    dtype: t.dtype,
  }));
  const spec: NetworkSpec = { format: opts.format, inputs, outputs };
  const vocabSize = kerasVocabSize(topology);
  if (vocabSize !== undefined) spec.vocabSize = vocabSize;
  if (opts.writtenBy) spec.writtenBy = opts.writtenBy;
  return spec;
}

/** A loaded Keras / tfjs-layers network. */
export class LayersNetwork implements Network {
  private readonly outputIndex: number;
  private readonly file: string;
  private disposed = false;

  /** Wraps a built model; `topology` is its Keras-style config (names and vocabulary are read from it). */
  static fromModel(model: tf.LayersModel, topology: JsonObject, opts: BuildOptions): LayersNetwork {
    return new LayersNetwork(model, specOf(model, topology, opts), opts);
  }

  constructor(
    private readonly model: tf.LayersModel,
    readonly spec: NetworkSpec,
    opts: BuildOptions,
  ) {
    this.file = opts.file;
    const names = spec.outputs.map((o) => o.name);
    this.outputIndex = opts.outputName === undefined ? 0 : names.indexOf(opts.outputName);
    if (this.outputIndex < 0) {
      throw incompatible(
        'config.json',
        'output_name',
        `${opts.file} has no output '${opts.outputName}' (outputs: ${names.join(', ')})`,
      );
    }
  }

  predict(feeds: Record<string, tf.Tensor>): Promise<tf.Tensor> {
    try {
      if (this.disposed) throw new Error('network is disposed');
      const xs = this.spec.inputs.map((s) => {
        const x = feeds[s.name];
        if (!x) throw incompatible('config.json', 'inputs', `no tensor fed to input '${s.name}'`);
        return x;
      });
      return Promise.resolve(
        tf.tidy(() => {
          // Ids fed as int32 to a float32 Keras input (`Input(shape=(100,))`) and the reverse.
          const cast = xs.map((x, i) => {
            const want = this.model.inputs[i]?.dtype ?? x.dtype;
            return x.dtype === want ? x : tf.cast(x, want);
          });
          const out = this.model.predict(cast.length === 1 ? cast[0]! : cast, {
            batchSize: rowsPerPass(cast[0]),
          });
          const y = Array.isArray(out) ? out[this.outputIndex]! : out;
          return y.dtype === 'float32' ? y : tf.cast(y, 'float32');
        }),
      );
    } catch (err) {
      return Promise.reject(runFailure(this.file, err));
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}
