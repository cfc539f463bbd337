import os from 'node:os';
import { parentPort } from 'node:worker_threads';
import { currentTfBackend, initTfBackend } from '../models/backend';
import type { TfBackendChoice } from '../models/backend';
import { Pool } from 'pg';
import { createTrainedModelVersion, trainingErrorCode, trainTextClassifier } from './training-library';
import type { FromTrainingThread, ToTrainingThread, TrainRequest } from './training-protocol';

/**
 * Entry of a training thread: one per training job, started by the worker (training-runner.ts) and
 * ended after it. Training is CPU-bound for minutes; in a thread of its own the worker's event loop
 * stays free for BullMQ lock renewals and the chunk pipelines, so inference jobs in the same process
 * keep running. The thread lowers its own scheduling priority (nice, per thread on Linux) so the
 * inference threads get the cores first.
 */

const port = parentPort;
if (!port) throw new Error('training-thread.ts must run in a worker thread');
const controller = new AbortController();
const send = (msg: FromTrainingThread): void => port.postMessage(msg);

/**
 * The backend training runs on: native TensorFlow (GPU, then CPU) where it loads, else the plain
 * JavaScript `cpu` backend. Never wasm: tfjs-backend-wasm lacks gradient kernels some layers need.
 */
async function trainingBackend(choice: string): Promise<string> {
  const order: TfBackendChoice[] =
    choice === 'tensorflow-gpu'
      ? ['tensorflow-gpu']
      : choice === 'tensorflow'
        ? ['tensorflow']
        : choice === 'cpu' || choice === 'wasm'
          ? ['cpu']
          : ['tensorflow-gpu', 'tensorflow', 'cpu'];
  let lastError: unknown;
  for (const c of order) {
    try {
      await initTfBackend(c);
      return currentTfBackend() ?? c;
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError instanceof Error ? lastError : new Error('no TensorFlow.js backend for training');
}

async function train(req: TrainRequest): Promise<void> {
  try {
    os.setPriority(0, req.nice);
  } catch {
    // Not permitted (or not supported): train at the normal priority.
  }
  const backend = await trainingBackend(req.backend);
  send({ type: 'started', backend });
  // Checkpoints and the model version are written from this thread, over a connection of its own.
  const pool = new Pool({ connectionString: req.databaseUrl, max: 1 });
  pool.on('error', () => undefined);
  try {
    let lastCheckpoint = 0;
    const out = await trainTextClassifier({
      texts: req.texts,
      labels: req.labels,
      recipe: req.recipe,
      hyperparameters: req.hyperparameters,
      modelName: req.modelName,
      signal: controller.signal,
      onProgress: (p) => send({ type: 'progress', progress: p }),
      ...(req.resume
        ? { resume: Buffer.from(req.resume.buffer, req.resume.byteOffset, req.resume.byteLength) }
        : {}),
      onCheckpoint: async (checkpoint, epoch) => {
        // At most one per checkpointIntervalMs (a checkpoint is a few MB), and none after the last epoch.
        if (Date.now() - lastCheckpoint < req.checkpointIntervalMs) return;
        if (epoch >= Number(req.hyperparameters.epochs)) return;
        lastCheckpoint = Date.now();
        try {
          await pool.query(
            `UPDATE training_jobs SET checkpoint = $2, checkpoint_epoch = $3
             WHERE id = $1 AND status = 'running' AND worker = $4`,
            [req.trainingJobId, checkpoint, epoch, req.worker],
          );
          send({ type: 'checkpoint', epoch });
        } catch {
          // Not stored (Postgres unreachable): training goes on; a restart resumes from an older one.
        }
      },
    });
    if (controller.signal.aborted) {
      send({ type: 'aborted' });
      return;
    }
    // The model is loaded once for its check, on the backend initialised here.
    const model = await createTrainedModelVersion(
      { pool },
      {
        tenantId: req.tenantId,
        name: req.modelName,
        files: out.files,
        trainingJobId: req.trainingJobId,
        ...(req.modelsDir ? { modelsDir: req.modelsDir } : {}),
      },
    );
    send({ type: 'done', model: model.modelId, created: model.created, metrics: out.metrics });
  } finally {
    await pool.end().catch(() => undefined);
  }
}

port.on('message', (msg: ToTrainingThread) => {
  if (msg.type === 'abort') {
    controller.abort();
    return;
  }
  if (msg.type === 'train') {
    train(msg).catch((err: unknown) => {
      if (controller.signal.aborted) {
        send({ type: 'aborted' });
        return;
      }
      const code = trainingErrorCode(err);
      send({
        type: 'error',
        message: err instanceof Error ? err.message : String(err),
        ...(code ? { code } : {}),
      });
    });
  }
});
