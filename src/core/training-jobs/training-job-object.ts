/**
 * The training job as the API shows it (`GET /v1/training_jobs/{id}`), and the row it is made from.
 *
 * Terminology: a **training job** trains one model version from the **examples** (labelled texts) of
 * its upload with a **recipe** (the network and procedure, e.g. `embedding-pooling`) and
 * **hyperparameters** (epochs, validation split, seed, ...); an **epoch** is one pass over the
 * training part of the examples; the **validation split** is the part held out of training, on
 * which `val_loss` and `val_accuracy` are measured after each epoch.
 */

export const TRAINING_JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type TrainingJobStatus = (typeof TRAINING_JOB_STATUSES)[number];
export const TRAINING_END_STATUSES: readonly TrainingJobStatus[] = ['succeeded', 'failed', 'cancelled'];

/** Progress after the latest epoch. */
export interface TrainingProgress {
  epoch: number;
  epochs: number;
  loss: number | null;
  val_loss: number | null;
  val_accuracy: number | null;
  /** Estimated seconds until training ends (from the epochs so far). */
  eta_seconds: number | null;
}

export interface TrainingJobRow {
  id: string;
  tenant_id: string;
  status: TrainingJobStatus;
  recipe: string;
  hyperparameters: Record<string, unknown>;
  model_name: string;
  result_model: string | null;
  example_count: number;
  label_counts: Record<string, number>;
  progress: TrainingProgress | null;
  metrics: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
  webhook_url: string | null;
  backend: string | null;
  worker: string | null;
  attempts: number;
  cancel_requested_at: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export const TRAINING_JOB_COLUMNS = `id, tenant_id, status, recipe, hyperparameters, model_name, result_model,
  example_count, label_counts, progress, metrics, error, webhook_url, backend, worker, attempts, cancel_requested_at,
  created_at, started_at, finished_at`;

export interface TrainingJobObject {
  id: string;
  object: 'training_job';
  status: TrainingJobStatus;
  /** Name of the tenant model the job creates a version of. */
  model_name: string;
  /** `name@version` of the created model version (usable by batches), once succeeded; else null. */
  model: string | null;
  recipe: string;
  hyperparameters: Record<string, unknown>;
  examples: { total: number; labels: Record<string, number> };
  progress: TrainingProgress | null;
  metrics: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
  webhook_url: string | null;
  /** TensorFlow.js backend the job trains (trained) on; null before a worker started it. */
  backend: string | null;
  /** Times a worker started the job (more than 1 after a worker died during training). */
  attempts: number;
  /** True once a cancel was asked for a running job (it ends `cancelled` at the next batch). */
  cancel_requested: boolean;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function toTrainingJobObject(row: TrainingJobRow): TrainingJobObject {
  return {
    id: row.id,
    object: 'training_job',
    status: row.status,
    model_name: row.model_name,
    model: row.result_model,
    recipe: row.recipe,
    hyperparameters: row.hyperparameters,
    examples: { total: row.example_count, labels: row.label_counts },
    progress: row.progress,
    metrics: row.metrics,
    error: row.error,
    webhook_url: row.webhook_url,
    backend: row.backend,
    attempts: row.attempts,
    cancel_requested: row.cancel_requested_at !== null,
    created_at: row.created_at.toISOString(),
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
  };
}
