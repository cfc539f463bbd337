import * as tf from '@tensorflow/tfjs';
import { incompatible } from '../model-errors';
import { graphTensors, graphVocabSize, tensorName } from './graph-signature';
import { runFailure } from './layers-network';
import { peekModelJsonKind, readModelJson } from './model-json-files';
import type { Network, NetworkLoader, NetworkLoadOptions, NetworkSpec } from './types';

/**
 * TensorFlow.js graph models (`tensorflowjs_converter --input_format tf_saved_model`), loaded with
 * `tf.loadGraphModel(tf.io.fromMemory(...))`. Inputs are fed by signature name, each cast to the
 * dtype tfjs gives the placeholder (int64 inputs run as int32: tfjs has no int64); `outputName`
 * picks one of several outputs (`Identity_1` or `Identity_1:0`). A graph that tfjs cannot run
 * (an op it lacks) is found at load by one run on a zero input.
 */
export class TfjsGraphLoader implements NetworkLoader {
  readonly format = 'tfjs-graph' as const;

  accepts(dir: string, file: string): boolean {
    return peekModelJsonKind(dir, file) === 'graph';
  }

  async load(dir: string, file: string, options: NetworkLoadOptions = {}): Promise<Network> {
    const { json, weightSpecs, weightData } = await readModelJson(dir, file);
    let model: tf.GraphModel;
    try {
      model = await tf.loadGraphModel(
        tf.io.fromMemory({
          modelTopology: json.modelTopology as object,
          weightSpecs,
          weightData,
          format: json.format,
          generatedBy: json.generatedBy,
          convertedBy: json.convertedBy ?? null,
          signature: json.signature as object,
          userDefinedMetadata: json.userDefinedMetadata as Record<string, object>,
          modelInitializer: json.modelInitializer as object,
          initializerSignature: json.initializerSignature as object,
        } as tf.io.ModelArtifacts),
      );
    } catch (err) {
      throw incompatible(file, 'modelTopology', `tfjs cannot load the graph (${firstLine(err)})`);
    }
    try {
      const { inputs, outputs } = graphTensors(json, model);
      const spec: NetworkSpec = { format: this.format, inputs, outputs };
      const vocabSize = graphVocabSize(json, weightSpecs);
      if (vocabSize !== undefined) spec.vocabSize = vocabSize;
      if (json.convertedBy) spec.writtenBy = json.convertedBy;
      const network = new GraphNetwork(model, spec, file, options.outputName);
      await network.dryRun();
      return network;
    } catch (err) {
      model.dispose();
      throw err;
    }
  }
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err)
    .split('\n')[0]!
    .slice(0, 200);
}

/** A loaded graph model. */
class GraphNetwork implements Network {
  private readonly output: string;
  private readonly feedDtype: Map<string, tf.DataType>;
  private useAsync = false;
  private disposed = false;

  constructor(
    private readonly model: tf.GraphModel,
    readonly spec: NetworkSpec,
    private readonly file: string,
    outputName?: string,
  ) {
    const names = spec.outputs.map((o) => o.name);
    const wanted = outputName === undefined ? names[0] : tensorName(outputName);
    if (wanted === undefined || !names.includes(wanted)) {
      throw incompatible(
        'config.json',
        'output_name',
        `${file} has no output '${outputName ?? ''}' (outputs: ${names.join(', ')})`,
      );
    }
    this.output = wanted;
    this.feedDtype = new Map(model.inputs.map((t) => [tensorName(t.name), t.dtype ?? 'float32']));
  }

  /** Runs the graph once on zeros, so that ops tfjs lacks fail at load, not on the first batch. */
  async dryRun(): Promise<void> {
    const feeds: Record<string, tf.Tensor> = {};
    for (const s of this.spec.inputs) {
      const shape = s.shape.map((d, i) => d ?? (i === 0 ? 1 : 4));
      feeds[s.name] = tf.zeros(shape, this.feedDtype.get(s.name) ?? 'int32');
    }
    try {
      (await this.execute(feeds)).dispose();
    } catch (err) {
      throw incompatible(this.file, 'modelTopology', `the graph does not run in tfjs (${firstLine(err)})`);
    } finally {
      tf.dispose(Object.values(feeds));
    }
  }

  async predict(feeds: Record<string, tf.Tensor>): Promise<tf.Tensor> {
    if (this.disposed) throw new Error('network is disposed');
    const inputs: tf.NamedTensorMap = {};
    const casts: tf.Tensor[] = [];
    try {
      for (const s of this.spec.inputs) {
        const x = feeds[s.name];
        if (!x) throw incompatible('config.json', 'inputs', `no tensor fed to input '${s.name}'`);
        const dtype = this.feedDtype.get(s.name) ?? x.dtype;
        const fed = x.dtype === dtype ? x : tf.cast(x, dtype);
        if (fed !== x) casts.push(fed);
        inputs[s.name] = fed;
      }
      const y = await this.execute(inputs);
      if (y.dtype === 'float32') return y;
      const f = tf.cast(y, 'float32');
      y.dispose();
      return f;
    } catch (err) {
      throw runFailure(this.file, err);
    } finally {
      tf.dispose(casts);
    }
  }

  private async execute(inputs: tf.NamedTensorMap): Promise<tf.Tensor> {
    if (!this.useAsync) {
      try {
        return this.model.execute(inputs, this.output) as tf.Tensor;
      } catch (err) {
        if (!/executeAsync/.test(String((err as Error).message))) throw err;
        this.useAsync = true;
      }
    }
    return (await this.model.executeAsync(inputs, this.output)) as tf.Tensor;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}
