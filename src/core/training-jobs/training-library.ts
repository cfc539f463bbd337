import type { Pool } from 'pg';
import { ModelRegistry } from '../models/registry';
import { createTenantModelVersion } from '../models/tenant-models';
import { trainTextClassifier as train } from '../training';
import type { TrainingProgress } from './training-job-object';

/**
 * The training jobs' view of the training library (src/core/training) and of the tenant model store:
 * the training call and storing its result. Used by the training thread only (it loads TensorFlow.js).
 */

export interface TrainCall {
  texts: string[];
  labels: string[];
  recipe: string;
  hyperparameters: Record<string, unknown>;
  modelName: string;
  signal: AbortSignal;
  onProgress: (p: TrainingProgress) => void;
  /** Called (and awaited) after every epoch with the training state. */
  onCheckpoint?: (checkpoint: Buffer, epoch: number) => Promise<void>;
  /** A checkpoint of an earlier attempt of the same run. */
  resume?: Buffer;
}

/** Trains a text classifier; resolves with the model files (model contract) and its metrics. */
export async function trainTextClassifier(
  call: TrainCall,
): Promise<{ files: Map<string, Buffer>; metrics: Record<string, unknown> }> {
  const examples = call.texts.map((text, i) => ({ text, label: call.labels[i] as string }));
  const out = await train({
    examples,
    name: call.modelName,
    recipe: call.recipe,
    hyperparameters: call.hyperparameters,
    signal: call.signal,
    ...(call.onCheckpoint ? { onCheckpoint: call.onCheckpoint } : {}),
    ...(call.resume ? { resume: call.resume } : {}),
    onProgress: (p: {
      epoch: number;
      epochs: number;
      loss?: number | null;
      val_loss?: number | null;
      val_accuracy?: number | null;
      eta_seconds?: number | null;
    }) =>
      call.onProgress({
        epoch: p.epoch,
        epochs: p.epochs,
        loss: p.loss ?? null,
        val_loss: p.val_loss ?? null,
        val_accuracy: p.val_accuracy ?? null,
        eta_seconds: p.eta_seconds ?? null,
      }),
  });
  return { files: out.files, metrics: out.metrics as unknown as Record<string, unknown> };
}

/** The stable code of a training error caused by the data or hyperparameters (never retried), if any. */
export function trainingErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{2,63}$/.test(code) ? code : undefined;
}

/**
 * Stores a trained model as the next version of the tenant's model `name` (source `training`). At most
 * one version per training job: a second call with the same `trainingJobId` returns the first.
 */
export async function createTrainedModelVersion(
  db: { pool: Pool },
  input: {
    tenantId: string;
    name: string;
    files: Map<string, Buffer>;
    trainingJobId: string;
    modelsDir?: string;
  },
): Promise<{ modelId: string; created: boolean }> {
  const shared = new ModelRegistry(input.modelsDir ? { modelsDir: input.modelsDir } : {});
  const out = await createTenantModelVersion(
    db,
    {
      tenantId: input.tenantId,
      name: input.name,
      files: input.files,
      source: 'training',
      trainingJobId: input.trainingJobId,
    },
    { shared },
  );
  return { modelId: out.modelId, created: out.created };
}
