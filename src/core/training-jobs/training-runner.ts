import type { Worker } from 'node:worker_threads';
import { spawnThread } from '../threads';
import type { TrainingProgress } from './training-job-object';
import type { FromTrainingThread, TrainRequest } from './training-protocol';

/**
 * Main-thread side of a training thread (training-thread.ts): starts one thread per job, relays its
 * progress, and ends it. Under TypeScript sources (tests, scripts/run-ts.js) the thread compiles its
 * `.ts` modules with @swc/core through a require hook, as the inference thread does.
 */

function startThread(): Worker {
  return spawnThread(__dirname, 'training-thread');
}

/** Training ended with an error: `code` set for errors of the data or hyperparameters (final). */
export class TrainingFailedError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'TrainingFailedError';
  }
}

/** Training was aborted through the signal. */
export class TrainingAbortedError extends Error {
  constructor() {
    super('training aborted');
    this.name = 'TrainingAbortedError';
  }
}

export interface TrainingRunHooks {
  onStarted?: (backend: string) => void;
  onProgress?: (progress: TrainingProgress) => void;
  /** A checkpoint after `epoch` was stored on the job's row. */
  onCheckpoint?: (epoch: number) => void;
  /** Aborts training: the thread stops at its next batch (or is ended after `abortGraceMs`). */
  signal?: AbortSignal;
  /** How long an aborted thread may take to stop before it is terminated, ms. Default 10000. */
  abortGraceMs?: number;
}

export interface TrainingRunResult {
  /** `name@version` of the stored model version. */
  model: string;
  /** False when an earlier attempt of the job had stored it already. */
  created: boolean;
  metrics: Record<string, unknown>;
  backend: string;
}

/** Trains in a fresh thread, which stores the model version; resolves with its name, rejects with TrainingFailedError / TrainingAbortedError. */
export function runTrainingThread(
  req: TrainRequest,
  hooks: TrainingRunHooks = {},
): Promise<TrainingRunResult> {
  return new Promise<TrainingRunResult>((resolve, reject) => {
    const thread = startThread();
    let backend = 'unknown';
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      hooks.signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      fn();
      void thread.terminate();
    };
    const onAbort = (): void => {
      thread.postMessage({ type: 'abort' });
      killTimer = setTimeout(
        () => settle(() => reject(new TrainingAbortedError())),
        hooks.abortGraceMs ?? 10_000,
      );
    };
    thread.on('message', (msg: FromTrainingThread) => {
      switch (msg.type) {
        case 'started':
          backend = msg.backend;
          hooks.onStarted?.(msg.backend);
          break;
        case 'progress':
          hooks.onProgress?.(msg.progress);
          break;
        case 'checkpoint':
          hooks.onCheckpoint?.(msg.epoch);
          break;
        case 'done':
          settle(() => resolve({ model: msg.model, created: msg.created, metrics: msg.metrics, backend }));
          break;
        case 'aborted':
          settle(() => reject(new TrainingAbortedError()));
          break;
        case 'error':
          settle(() =>
            reject(
              hooks.signal?.aborted
                ? new TrainingAbortedError()
                : new TrainingFailedError(msg.message, msg.code),
            ),
          );
          break;
      }
    });
    thread.on('error', (err) =>
      settle(() => reject(new TrainingFailedError(`training thread crashed: ${err.message}`))),
    );
    thread.on('exit', (code) =>
      settle(() => reject(new TrainingFailedError(`training thread exited (code ${code})`))),
    );
    if (hooks.signal?.aborted) {
      settle(() => reject(new TrainingAbortedError()));
      return;
    }
    hooks.signal?.addEventListener('abort', onAbort, { once: true });
    thread.postMessage(req);
  });
}
