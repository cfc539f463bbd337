import type * as tf from '@tensorflow/tfjs';

/**
 * The network part of a classification model: the trained graph and its weights, as a framework
 * wrote them (Keras `.h5` / `.keras`, TensorFlow.js layers or graph `model.json`). A loader reads
 * one artefact format and returns a {@link Network}; tokenization, input shaping and the output head
 * are separate parts (see ../classification/text-classifier.ts, which composes them).
 *
 * Terminology:
 * - **input**: one named tensor the network takes (`[batch, length]` token ids, an attention mask,
 *   token type ids); a free dimension is `null`.
 * - **output**: the tensor the head reads, `[batch, units]`.
 */

/** dtype as the artefact declares it (`int32`, `int64`, `float32`, ...). */
export type DeclaredDtype = string;

export interface TensorSpec {
  /** Name of the input or output (a Keras layer name or a graph signature key). */
  name: string;
  /** Declared shape; `null` (or -1 in graph signatures, normalised to null) for a free dimension. */
  shape: (number | null)[];
  dtype: DeclaredDtype;
}

export type NetworkFormat = 'keras-h5' | 'keras-zip' | 'tfjs-layers' | 'tfjs-graph';

/** What a network declares about itself, read from its files. */
export interface NetworkSpec {
  format: NetworkFormat;
  inputs: TensorSpec[];
  /** Every output; {@link Network.predict} returns the one chosen by `outputName` (or the only one). */
  outputs: TensorSpec[];
  /**
   * Rows of the embedding table that the token-id input feeds (Keras `Embedding.input_dim`, the
   * params of the first Gather in a graph), when the loader can tell: ids must stay below it.
   */
  vocabSize?: number;
  /** The Keras / framework version that wrote the file, when recorded (for messages). */
  writtenBy?: string;
}

export interface NetworkLoadOptions {
  /** Graph models with several outputs: the one that holds the scores (`config.json` `output_name`). */
  outputName?: string;
}

/** A loaded network. Implementations own (and dispose) their weights. */
export interface Network {
  readonly spec: NetworkSpec;
  /**
   * Runs one tensor batch. `feeds` holds one tensor per input, by {@link TensorSpec.name}, cast to
   * the declared dtype (int64 inputs as int32: tfjs has no int64); the network casts a feed again
   * where tfjs runs the input in another dtype (int32 ids into a float32 Keras `Input`). Returns the
   * scores output `[batch, units]` as float32; the caller disposes it (and the feeds). A run that
   * fails rejects with a ModelError `MODEL_INCOMPATIBLE` naming the model file.
   */
  predict(feeds: Record<string, tf.Tensor>): Promise<tf.Tensor>;
  dispose(): void;
}

/** Reads one artefact format. Errors are {@link ../model-errors.ModelError}s naming the file. */
export interface NetworkLoader {
  readonly format: NetworkFormat;
  /** Whether this loader reads `file` (decided from its name and, for model.json, its `format`). */
  accepts(dir: string, file: string): boolean;
  /** Loads the network (topology and weights) from `<dir>/<file>`. */
  load(dir: string, file: string, options?: NetworkLoadOptions): Promise<Network>;
}
