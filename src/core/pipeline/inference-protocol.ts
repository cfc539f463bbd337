import type { TaskOptions, TaskResult } from '../models/types';

/**
 * Messages between the worker's main thread (Postgres, BullMQ, batching) and its inference thread
 * (model registry, TensorFlow.js backend). Encoded documents stay in the inference thread, keyed
 * by a numeric handle the main thread picks; only lengths, handles and results cross.
 */

export interface InitRequest {
  type: 'init';
  backend: string;
  modelsDir?: string;
}
export interface EncodeRequest {
  type: 'encode';
  task: string;
  model: string;
  options: TaskOptions;
  handles: Int32Array;
  texts: string[];
}
export interface RunRequest {
  type: 'run';
  modelId: string;
  options: TaskOptions;
  handles: Int32Array;
}
export interface ReleaseRequest {
  type: 'release';
  handles: Int32Array;
}
export interface DisposeRequest {
  type: 'dispose';
}
export type InferenceRequest = InitRequest | EncodeRequest | RunRequest | ReleaseRequest | DisposeRequest;

/** A per-document problem (DocumentInputError): the document fails, the chunk does not. */
export interface DocError {
  code: string;
  message: string;
}

export interface InitReply {
  backend: string;
}
export type EncodeReply =
  | { ok: true; modelId: string; lengths: Int32Array; errors: (DocError | null)[] }
  /** The model could not be resolved or loaded: the batch fails. */
  | { ok: false; modelError: DocError };
export interface RunReply {
  results: ({ result: TaskResult } | { error: DocError })[];
  /** Seconds spent in `runBatch` calls. */
  seconds: number;
}

/** Envelope: `id` matches a reply to its request; `error` is a thrown internal error (message only). */
export interface Envelope<T> {
  id: number;
  payload: T;
}
export interface ReplyEnvelope {
  id: number;
  ok: boolean;
  payload?: unknown;
  error?: { message: string; name?: string };
}
