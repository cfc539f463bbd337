import { incompatible } from '../model-errors';
import type { ModelInfo } from '../types';
import { modelConfig } from '../io/model-config';
import type { Side } from './input-shaping';

/** What a network input is fed with (`config.json` `inputs` values). */
export const INPUT_ROLES = ['ids', 'attention_mask', 'token_type_ids'] as const;
export type InputRole = (typeof INPUT_ROLES)[number];

/**
 * The fields of a `text-classifier` `config.json` that compose its parts (besides the common
 * `name`, `task`, `labels`, `max_length`):
 *
 * - `model_file` (default `model.json`): the network, see ../network (Keras `.h5` / `.keras`,
 *   tfjs layers or graph `model.json`).
 * - `tokenizer` (default `{"type": "word"}`): `word` (+ `vocab_file`), `keras` or `huggingface`
 *   with `file` (default `tokenizer.json`), see ../tokenizers.
 * - `input`: `{length, padding, truncating}` like Keras's `pad_sequences`, see input-shaping.ts.
 * - `output` (default `probabilities`): the head, see heads.ts.
 * - `inputs`: graph models with several inputs, `{"<signature input>": "ids" | "attention_mask" |
 *   "token_type_ids"}`; `output_name`: which output holds the scores.
 * - `padding_invariant` (default false): free-length models only; see docs/models.md.
 */
export interface ClassifierConfig {
  labels: string[];
  modelFile: string;
  input?: { length?: number; padding?: Side; truncating?: Side };
  output: unknown;
  inputs?: Record<string, InputRole>;
  outputName?: string;
  paddingInvariant: boolean;
  /** `max_length` when config.json has it. */
  maxLength?: number;
  raw: Readonly<Record<string, unknown>>;
}

/** Free-length models without `max_length`: ids per document at most. */
export const DEFAULT_MAX_LENGTH = 512;

function side(value: unknown, field: string): Side | undefined {
  if (value === undefined) return undefined;
  if (value === 'pre' || value === 'post') return value;
  throw incompatible('config.json', field, `must be "pre" or "post", not ${JSON.stringify(value)}`);
}

/** Parses and checks the classifier fields of `config.json`; problems name the field. */
export function parseClassifierConfig(info: ModelInfo): ClassifierConfig {
  const raw = modelConfig(info);
  const labels = info.labels ?? (raw.labels as string[] | undefined);
  if (!Array.isArray(labels) || labels.length < 2) {
    throw incompatible('config.json', 'labels', 'a classifier needs at least 2 labels');
  }
  const modelFile = raw.model_file ?? 'model.json';
  if (typeof modelFile !== 'string' || modelFile === '') {
    throw incompatible('config.json', 'model_file', 'must be a file name');
  }
  let input: ClassifierConfig['input'];
  if (raw.input !== undefined) {
    if (raw.input === null || typeof raw.input !== 'object' || Array.isArray(raw.input)) {
      throw incompatible('config.json', 'input', 'must be an object {length, padding, truncating}');
    }
    const i = raw.input as Record<string, unknown>;
    const length = i.length;
    if (length !== undefined && (typeof length !== 'number' || !Number.isInteger(length) || length < 1)) {
      throw incompatible(
        'config.json',
        'input.length',
        `must be a positive integer, not ${JSON.stringify(length)}`,
      );
    }
    input = {};
    if (length !== undefined) input.length = length;
    const padding = side(i.padding, 'input.padding');
    const truncating = side(i.truncating, 'input.truncating');
    if (padding) input.padding = padding;
    if (truncating) input.truncating = truncating;
  }
  let inputs: ClassifierConfig['inputs'];
  if (raw.inputs !== undefined) {
    if (raw.inputs === null || typeof raw.inputs !== 'object' || Array.isArray(raw.inputs)) {
      throw incompatible(
        'config.json',
        'inputs',
        'must map input names to "ids", "attention_mask" or "token_type_ids"',
      );
    }
    inputs = {};
    for (const [name, role] of Object.entries(raw.inputs as Record<string, unknown>)) {
      if (typeof role !== 'string' || !(INPUT_ROLES as readonly string[]).includes(role)) {
        throw incompatible('config.json', `inputs.${name}`, `must be one of ${INPUT_ROLES.join(', ')}`);
      }
      inputs[name] = role as InputRole;
    }
    if (!Object.values(inputs).includes('ids')) {
      throw incompatible('config.json', 'inputs', 'no input is fed with "ids"');
    }
  }
  const outputName = raw.output_name;
  if (outputName !== undefined && (typeof outputName !== 'string' || outputName === '')) {
    throw incompatible('config.json', 'output_name', 'must be the name of a model output');
  }
  const config: ClassifierConfig = {
    labels: [...labels],
    modelFile,
    output: raw.output,
    paddingInvariant: raw.padding_invariant === true,
    raw,
  };
  if (input) config.input = input;
  if (inputs) config.inputs = inputs;
  if (typeof outputName === 'string') config.outputName = outputName;
  if (typeof raw.max_length === 'number') config.maxLength = raw.max_length;
  return config;
}
