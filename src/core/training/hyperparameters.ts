import { z } from 'zod';
import { AppError } from '../errors';

/** The training recipes (`recipe` of a training job). */
export const RECIPES = ['embedding-pooling'] as const;
export type Recipe = (typeof RECIPES)[number];

/** Pretrained vectors a recipe can start its embedding table from. */
export const EMBEDDINGS = ['glove-100d', 'none'] as const;

/**
 * Hyperparameters of `embedding-pooling` (all optional; the defaults are the values that beat a
 * naive Bayes baseline on the UCI sentiment sentences across seeds, docs/training.md).
 * Unknown fields are refused, so a typo never silently trains with a default.
 */
export const hyperparametersSchema = z
  .object({
    /** Passes over the training part. Default 12. */
    epochs: z.number().int().min(1).max(200).default(12),
    /** Share of each label's examples held out for validation and the card's metrics (0.05-0.5). Default 0.2. */
    validation_split: z.number().min(0.05).max(0.5).default(0.2),
    /** Seed of the split, the initialisers, dropout and the batch order (0 to 2^31-1). Default 42. */
    seed: z.number().int().min(0).max(2_147_483_647).default(42),
    /** Examples per optimisation step. Default 32. */
    batch_size: z.number().int().min(1).max(1024).default(32),
    /** Adam learning rate. Default 0.001. */
    learning_rate: z.number().gt(0).max(1).default(0.001),
    /** Adam learning rate of the embedding table, as a multiple of `learning_rate` (0 freezes it). Default 1. */
    embedding_learning_rate_factor: z.number().min(0).max(10).default(1),
    /** Token ids per document; longer documents keep their first `max_length` words. Default 128. */
    max_length: z.number().int().min(1).max(4096).default(128),
    /** `glove-100d`: start from pretrained English GloVe vectors; `none`: random start. Default glove-100d. */
    embeddings: z.enum(EMBEDDINGS).default('glove-100d'),
    /**
     * Pretrained words added to the vocabulary beside the training words (most frequent first),
     * so words the training data lacks keep their pretrained meaning. 0 with `embeddings: none`.
     * Default 10000 (each word adds 400 bytes to the model).
     */
    pretrained_words: z.number().int().min(0).max(30_000).default(10_000),
    /**
     * Largest vocabulary (ids, padding and OOV included): the most frequent training words first,
     * then the pretrained ones; rarer words read as the OOV token. Bounds the model's size
     * (about 400 bytes per word). Default 50000.
     */
    max_words: z.number().int().min(100).max(1_000_000).default(50_000),
    /** Embedding width with `embeddings: none` (glove-100d is 100 wide). Default 64. */
    embedding_dim: z.number().int().min(4).max(512).default(64),
    /**
     * Filters of the word-pair convolution (kernel 2 over the embedding: "not good", "no
     * complaints"), mean- and max-pooled beside the words; 0: words only. Default 32.
     */
    pair_filters: z.number().int().min(0).max(512).default(32),
    /** Units of the hidden ReLU layer after pooling (0: none). Default 64. */
    hidden_units: z.number().int().min(0).max(1024).default(64),
    /**
     * Adds one embedding channel per label started from the word's naive Bayes log-probability
     * under that label (Laplace-smoothed, centred over the labels; NBSVM-style), trained with the
     * rest. Default true.
     */
    naive_bayes_features: z.boolean().default(true),
    /**
     * Serve the mean of the weights after each epoch of the second half of training (stochastic
     * weight averaging) rather than the last epoch's: steadier on small data. Default true.
     */
    weight_averaging: z.boolean().default(true),
    /** Dropout rate after pooling and after the hidden layer. Default 0.5. */
    dropout: z.number().min(0).max(0.9).default(0.5),
  })
  .strict();

/** Hyperparameters as a client sends them (every field optional). */
export type HyperparametersInput = z.input<typeof hyperparametersSchema>;
/** Hyperparameters with every default filled in (what the card and config record). */
export type Hyperparameters = z.output<typeof hyperparametersSchema>;

/** One refused field: `field` is the dotted path (`hyperparameters.epochs`). */
export interface TrainingFieldError {
  field: string;
  message: string;
}

export type TrainingRequestCheck =
  | { ok: true; recipe: Recipe; hyperparameters: Hyperparameters }
  | { ok: false; errors: TrainingFieldError[] };

/**
 * Checks a training request's `recipe` and `hyperparameters` (as the API receives them, before the
 * job is queued); every problem is named by its field. The worker parses the same way.
 */
export function checkTrainingRequest(recipe: unknown, hyperparameters: unknown): TrainingRequestCheck {
  const errors: TrainingFieldError[] = [];
  if (typeof recipe !== 'string' || !(RECIPES as readonly string[]).includes(recipe))
    errors.push({ field: 'recipe', message: `must be one of ${RECIPES.join(', ')}` });
  const parsed = hyperparametersSchema.safeParse(hyperparameters ?? {});
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
      for (const key of keys) {
        const pathParts = [...issue.path, ...(key === undefined ? [] : [key])].map(String);
        errors.push({
          field: ['hyperparameters', ...pathParts].join('.'),
          message: issue.code === 'unrecognized_keys' ? 'unknown hyperparameter' : issue.message,
        });
      }
    }
  }
  if (errors.length > 0 || !parsed.success) return { ok: false, errors };
  return { ok: true, recipe: recipe as Recipe, hyperparameters: parsed.data };
}

/** Parses hyperparameters or throws {@link InvalidHyperparametersError}. */
export function parseHyperparameters(input: unknown): Hyperparameters {
  const check = checkTrainingRequest(RECIPES[0], input);
  if (!check.ok) throw new InvalidHyperparametersError(check.errors);
  return check.hyperparameters;
}

/**
 * Bad recipe or hyperparameters: a client error (HTTP 400 `INVALID_REQUEST`, each field in
 * `details`), never retried.
 */
export class InvalidHyperparametersError extends AppError {
  constructor(readonly errors: TrainingFieldError[]) {
    super(
      'INVALID_REQUEST',
      `invalid training request: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
      errors.map((e) => ({ field: e.field, message: e.message })),
    );
    this.name = 'InvalidHyperparametersError';
  }
}
