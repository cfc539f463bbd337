import type { TrainingProgress } from './training-job-object';

/** Messages between the worker's main thread and a training thread (training-thread.ts). */

export interface TrainRequest {
  type: 'train';
  /** `TF_BACKEND` of the worker; training never runs on wasm (it lacks gradient kernels): cpu instead. */
  backend: string;
  /** Nice value of the thread (`TRAINING_NICE`). */
  nice: number;
  recipe: string;
  hyperparameters: Record<string, unknown>;
  texts: string[];
  labels: string[];
  /** Name of the model (written into its config and card). */
  modelName: string;
  /** The tenant the model version is created for, by the thread, once trained. */
  tenantId: string;
  trainingJobId: string;
  /** Postgres of the worker (the thread stores the model version over a connection of its own). */
  databaseUrl: string;
  /** `MODELS_DIR`: the shared models, whose names a tenant model may not take. */
  modelsDir?: string;
  /** The worker running the job: checkpoints are written only while the job is still its own. */
  worker: string;
  /** The checkpoint of an earlier attempt to resume from (ignored by the library if of another run). */
  resume?: Uint8Array;
  /** Least time between two checkpoints written to Postgres, ms. */
  checkpointIntervalMs: number;
}

export interface AbortRequest {
  type: 'abort';
}

export type ToTrainingThread = TrainRequest | AbortRequest;

export type FromTrainingThread =
  | { type: 'started'; backend: string }
  | { type: 'progress'; progress: TrainingProgress }
  /** Trained and stored: `model` is `name@version` (`created` false: an earlier attempt stored it). */
  | { type: 'done'; model: string; created: boolean; metrics: Record<string, unknown> }
  /** A checkpoint after `epoch` was stored. */
  | { type: 'checkpoint'; epoch: number }
  | { type: 'aborted' }
  /** `code`: a stable code for errors of the data or hyperparameters (never retried); absent for internal errors. */
  | { type: 'error'; message: string; code?: string };
