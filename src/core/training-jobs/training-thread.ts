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
  const out = await trainTextClassifier({
    texts: req.texts,
    labels: req.labels,
    recipe: req.recipe,
    hyperparameters: req.hyperparameters,
    modelName: req.modelName,
    signal: controller.signal,
    onProgress: (p) => send({ type: 'progress', progress: p }),
  });
  if (controller.signal.aborted) {
    send({ type: 'aborted' });
    return;
  }
  // Stored from this thread: the model is loaded once for its check, on the backend initialised here.
  const pool = new Pool({ connectionString: req.databaseUrl, max: 1 });
  pool.on('error', () => undefined);
  try {
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
