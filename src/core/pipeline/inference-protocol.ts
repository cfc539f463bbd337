import type { MessagePort } from 'node:worker_threads';
import type { EncodedDocument, TaskOptions, TaskResult } from '../models/types';

/**
 * Messages between the worker's main thread (Postgres, BullMQ, batching), its inference thread
 * (model registry, TensorFlow.js backend) and, when enabled, its tokenizer thread. Encoded
 * documents stay in the inference thread, keyed by a numeric handle the main thread picks; only
 * texts, lengths, handles and results cross to and from the main thread.
 */

export interface InitRequest {
  type: 'init';
  backend: string;
  modelsDir?: string;
  /** Port on which the tokenizer thread sends encoded documents ({@link StoreRequest}). */
  port?: MessagePort;
}
/** Starts the tokenizer thread; `port` reaches the inference thread. */
export interface EncoderInitRequest {
  type: 'init';
  modelsDir?: string;
  port: MessagePort;
}
/**
 * Tokenizer thread -> inference thread: encoded documents of one encode request (its envelope id
 * is the main thread's request id; the inference thread answers the main thread with an
 * {@link EncodeReply}). Exactly one of `docs`, `modelError` or `failure` is set.
 */
export interface StoreRequest {
  type: 'store';
  handles: Int32Array;
  modelId?: string;
  /** The tenant model the documents were encoded with (the inference thread adopts it too). */
  adopt?: AdoptModel;
  /** One per handle; null where `errors` has the document's error. */
  docs?: (EncodedDocument | null)[];
  errors?: (DocError | null)[];
  /** The model could not be resolved or loaded. */
  modelError?: DocError;
  /** The tokenizer failed unexpectedly (the request fails; the chunk is retried). */
  failure?: string;
}
/**
 * A tenant model the worker materialised (tenant-model-cache.ts): the threads serve `dir` under
 * `key` (ModelRegistry.adopt) instead of resolving `model` in the repositories.
 */
export interface AdoptModel {
  key: string;
  dir: string;
  name: string;
  version: number;
}
export interface EncodeRequest {
  type: 'encode';
  task: string;
  model: string;
  adopt?: AdoptModel;
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
export type InferenceRequest =
  InitRequest | EncodeRequest | StoreRequest | RunRequest | ReleaseRequest | DisposeRequest;

/** A per-document problem (DocumentInputError): the document fails, the chunk does not. */
export interface DocError {
  code: string;
  message: string;
}

export interface InitReply {
  backend: string;
  /** Which backend and why (`tfjs backend selected` detail), for the worker's start log. */
  detail?: string;
}
export type EncodeReply =
  | { ok: true; modelId: string; lengths: Int32Array; errors: (DocError | null)[] }
  /** The model could not be resolved or loaded: the batch fails. */
  | { ok: false; modelError: DocError };
export interface RunReply {
  /** One per handle, in order (empty when `modelError` is set). */
  results: ({ result: TaskResult } | { error: DocError })[];
  /** Seconds spent in `runBatch` calls. */
  seconds: number;
  /**
   * The model cannot run (a ModelError, or it failed on every document it tried: see run-safe.ts)
   * or cannot load any more: every batch of the tensor batch fails with this error, not retried.
   */
  modelError?: DocError;
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
