import { AppError } from '../errors';
import { checkTrainingRequest, RECIPES } from '../training/hyperparameters';

/**
 * The recipes and the hyperparameter check of the training library, as the API uses them (without
 * loading TensorFlow.js).
 */

export const TRAINING_RECIPES: readonly string[] = RECIPES;

/**
 * Checks hyperparameters for a recipe and fills in the defaults; 400 INVALID_HYPERPARAMETERS naming
 * each bad field (`hyperparameters.epochs`) otherwise.
 */
export function resolveHyperparameters(recipe: string, raw: unknown): Record<string, unknown> {
  const check = checkTrainingRequest(recipe, raw);
  if (!check.ok) {
    throw new AppError(
      'INVALID_HYPERPARAMETERS',
      `Invalid hyperparameters: ${check.errors.map((e) => `${e.field} ${e.message}`).join('; ')}.`,
      check.errors.map((e) => ({ field: e.field, message: e.message })),
    );
  }
  return check.hyperparameters as Record<string, unknown>;
}
