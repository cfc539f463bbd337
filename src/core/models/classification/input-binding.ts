import { incompatible } from '../model-errors';
import type { NetworkSpec, TensorSpec } from '../network/types';
import type { TextTokenizer } from '../tokenizers/text-tokenizer';
import type { ClassifierConfig, InputRole } from './classifier-config';
import type { InputShape, Side } from './input-shaping';
import { DEFAULT_MAX_LENGTH } from './classifier-config';

/** One network input and what feeds it. */
export interface BoundInput {
  name: string;
  role: InputRole;
  /** dtype of the tensor fed (int64 inputs get int32: tfjs has no int64). */
  dtype: 'int32' | 'float32';
}

/** How a classifier's documents reach its network: inputs and shaping, checked against the spec. */
export interface InputPlan {
  inputs: BoundInput[];
  shape: InputShape;
}

const CONVENTIONAL: Record<string, InputRole> = {
  input_ids: 'ids',
  ids: 'ids',
  inputs: 'ids',
  attention_mask: 'attention_mask',
  token_type_ids: 'token_type_ids',
};

function feedDtype(spec: TensorSpec, modelFile: string): BoundInput['dtype'] {
  const d = spec.dtype;
  if (d === 'int32' || d === 'int64') return 'int32';
  if (d === 'float32' || d === 'float64' || d === 'float16') return 'float32';
  throw incompatible(
    modelFile,
    `input '${spec.name}' dtype`,
    `is ${d}; token ids need an integer or float input`,
  );
}

/**
 * Binds every network input to a role (`config.json` `inputs`, else the only input is the ids,
 * else conventional names) and settles the input shaping: the fixed length of the ids input wins
 * when config.json is silent, and must equal `input.length` when both are given.
 */
export function planInputs(spec: NetworkSpec, config: ClassifierConfig, tokenizer: TextTokenizer): InputPlan {
  const file = config.modelFile;
  const names = spec.inputs.map((i) => i.name);
  let roles: Record<string, InputRole>;
  if (config.inputs) {
    for (const name of Object.keys(config.inputs)) {
      if (!names.includes(name)) {
        throw incompatible(
          'config.json',
          `inputs.${name}`,
          `${file} has no input '${name}' (inputs: ${names.join(', ')})`,
        );
      }
    }
    const missing = names.filter((n) => !config.inputs![n]);
    if (missing.length > 0) {
      throw incompatible(
        'config.json',
        'inputs',
        `${file} input '${missing[0]}' is not fed: name it in "inputs"`,
      );
    }
    roles = config.inputs;
  } else if (spec.inputs.length === 1) {
    roles = { [names[0]!]: 'ids' };
  } else {
    roles = {};
    for (const n of names) {
      const role = CONVENTIONAL[n.toLowerCase()] ?? CONVENTIONAL[n.toLowerCase().replace(/:0$/, '')];
      if (!role) {
        throw incompatible(
          'config.json',
          'inputs',
          `${file} has ${names.length} inputs (${names.join(', ')}): map each to "ids", "attention_mask" or "token_type_ids"`,
        );
      }
      roles[n] = role;
    }
  }
  const bound: BoundInput[] = spec.inputs.map((s) => ({
    name: s.name,
    role: roles[s.name]!,
    dtype: feedDtype(s, file),
  }));
  const idsInputs = bound.filter((b) => b.role === 'ids');
  if (idsInputs.length !== 1) {
    throw incompatible(
      'config.json',
      'inputs',
      `exactly one input must be fed with "ids" (${idsInputs.length} are)`,
    );
  }

  // Every sequence input must be [batch, length]; a fixed length is shared.
  let fixed: number | undefined;
  for (const s of spec.inputs) {
    if (s.shape.length !== 2) {
      throw incompatible(
        file,
        `input '${s.name}' shape`,
        `is ${JSON.stringify(s.shape)}; a text classifier takes [batch, length]`,
      );
    }
    const len = s.shape[1];
    if (typeof len === 'number' && len > 0) {
      if (fixed !== undefined && fixed !== len) {
        throw incompatible(
          file,
          `input '${s.name}' shape`,
          `fixed lengths differ between inputs (${fixed} and ${len})`,
        );
      }
      fixed = len;
    }
  }
  const declared = config.input?.length;
  if (declared !== undefined && fixed !== undefined && declared !== fixed) {
    throw incompatible(
      'config.json',
      'input.length',
      `is ${declared} but ${file} input '${idsInputs[0]!.name}' has a fixed length of ${fixed}`,
    );
  }
  const length = declared ?? fixed;
  // No `input` and a free length: as before `input` existed (the first ids are kept).
  const defaultSide: Side = config.input === undefined && length === undefined ? 'post' : 'pre';
  const maxLength = length ?? config.maxLength ?? DEFAULT_MAX_LENGTH;
  if (config.maxLength !== undefined && length !== undefined && config.maxLength < length) {
    throw incompatible(
      'config.json',
      'max_length',
      `is ${config.maxLength}, below the input length ${length}`,
    );
  }

  if (spec.vocabSize !== undefined) {
    if (tokenizer.vocabSize > spec.vocabSize) {
      throw incompatible(
        tokenizer.type === 'word' ? 'vocab.txt' : 'tokenizer.json',
        'vocabulary',
        `${tokenizer.type} tokenizer gives ids up to ${tokenizer.vocabSize - 1}, but the ${file} embedding has ${spec.vocabSize} rows (input_dim)`,
      );
    }
    if (tokenizer.padId >= spec.vocabSize) {
      throw incompatible(
        'tokenizer.json',
        'padding',
        `pad id ${tokenizer.padId} is outside the ${file} embedding (${spec.vocabSize} rows)`,
      );
    }
  }
  const shape: InputShape = {
    padding: config.input?.padding ?? defaultSide,
    truncating: config.input?.truncating ?? defaultSide,
    padId: tokenizer.padId,
    maxLength,
  };
  if (length !== undefined) shape.length = length;
  return { inputs: bound, shape };
}
