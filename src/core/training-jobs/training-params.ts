import { assertHttpUrl } from '../batches/batch-params';
import { AppError } from '../errors';
import { TRAINING_RECIPES, resolveHyperparameters } from './training-recipes';

/**
 * The parameters of `POST /v1/training_jobs`, given as query parameters beside the NDJSON body (like
 * the NDJSON form of `POST /v1/batches`): `model` (required: the name of the tenant model to create a
 * version of), `recipe` (default `embedding-pooling`), `hyperparameters` (URL-encoded JSON object) and
 * `webhook_url`. Checked before any byte of the body is read: a bad one is 400 with a stable code.
 */

export const DEFAULT_RECIPE = 'embedding-pooling';

/** A model name: as the registry's (letters, digits, `.`, `_`, `-`; 1-100 characters, first a letter or digit). */
export const MODEL_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,99}$/i;

export interface TrainingParams {
  modelName: string;
  recipe: string;
  /** Hyperparameters with the recipe's defaults filled in (what the worker trains with). */
  hyperparameters: Record<string, unknown>;
  webhookUrl: string | null;
}

const ALLOWED = ['model', 'recipe', 'hyperparameters', 'webhook_url'];

function invalid(field: string, message: string): AppError {
  return new AppError('INVALID_REQUEST', `${field} ${message}.`, [{ field, message }]);
}

/** Parses and checks the query fields of a training job (`fields`: name -> string, or string[] when repeated). */
export function resolveTrainingParams(fields: Record<string, unknown>): TrainingParams {
  for (const [k, v] of Object.entries(fields)) {
    if (!ALLOWED.includes(k)) {
      throw new AppError(
        'INVALID_REQUEST',
        `Unknown query parameter \`${k}\`; allowed: ${ALLOWED.join(', ')}.`,
        [{ field: k, message: 'unknown parameter' }],
      );
    }
    if (typeof v !== 'string') throw invalid(k, 'must be given once');
  }
  const model = fields.model as string | undefined;
  if (model === undefined || model === '')
    throw invalid('model', 'is required (the name of the model to create)');
  if (model.includes('@')) {
    throw invalid('model', 'must be a name without a version: the job creates the next version');
  }
  if (!MODEL_NAME_RE.test(model)) {
    throw invalid('model', 'must be 1-100 letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
  const recipe = (fields.recipe as string | undefined) || DEFAULT_RECIPE;
  if (!(TRAINING_RECIPES as readonly string[]).includes(recipe)) {
    throw new AppError(
      'UNKNOWN_RECIPE',
      `Unknown recipe ${JSON.stringify(recipe)}; recipes: ${TRAINING_RECIPES.join(', ')}.`,
      [{ field: 'recipe', message: `must be one of ${TRAINING_RECIPES.join(', ')}` }],
    );
  }
  let raw: unknown = {};
  const hp = fields.hyperparameters as string | undefined;
  if (hp !== undefined && hp !== '') {
    try {
      raw = JSON.parse(hp);
    } catch {
      throw new AppError('INVALID_HYPERPARAMETERS', 'hyperparameters must be a URL-encoded JSON object.', [
        { field: 'hyperparameters', message: 'is not valid JSON' },
      ]);
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new AppError('INVALID_HYPERPARAMETERS', 'hyperparameters must be a JSON object.', [
        { field: 'hyperparameters', message: 'must be a JSON object' },
      ]);
    }
  }
  const hyperparameters = resolveHyperparameters(recipe, raw);
  const webhookUrl = (fields.webhook_url as string | undefined) || null;
  if (webhookUrl !== null) assertHttpUrl(webhookUrl);
  return { modelName: model, recipe, hyperparameters, webhookUrl };
}
