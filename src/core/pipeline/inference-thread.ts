import { parentPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { currentTfBackendDetail, initTfBackend } from '../models/backend';
import type { TfBackendChoice } from '../models/backend';
import { ModelRegistry } from '../models/registry';
import { modelErrorCode } from '../models/model-errors';
import type { EncodedDocument, TaskModel } from '../models/types';
import { loadBatchModel } from './batch-model';
import { docError, firstLine, modelLoadError, modelRunError } from './inference-errors';
import type {
  AdoptModel,
  DocError,
  EncodeReply,
  EncodeRequest,
  Envelope,
  InferenceRequest,
  InitReply,
  ReplyEnvelope,
  RunReply,
  RunRequest,
  StoreRequest,
} from './inference-protocol';
import { runSafe } from './run-safe';

/**
 * Entry of the worker's inference thread: owns the TensorFlow.js backend, the model registry and
 * every encoded document (by handle). Runs one request at a time; the main thread's event loop
 * stays free for Postgres, BullMQ lock renewal and batching.
 */

let registry: ModelRegistry | undefined;
const encoded = new Map<number, { modelId: string; doc: EncodedDocument }>();
/** Models that have produced results since they loaded: their run failures are per document (run-safe.ts). */
const proven = new Set<string>();

async function init(backend: string, modelsDir?: string, port?: MessagePort): Promise<InitReply> {
  const name = await initTfBackend(backend as TfBackendChoice);
  registry = new ModelRegistry({ keepCheckedModels: true, ...(modelsDir ? { modelsDir } : {}) });
  // Encoded documents from the tokenizer thread join the same one-at-a-time queue.
  port?.on('message', (msg: Envelope<InferenceRequest>) => enqueue(msg));
  const detail = currentTfBackendDetail();
  return { backend: name, ...(detail ? { detail } : {}) };
}

async function loadModel(task: string, model: string, adopt?: AdoptModel): Promise<TaskModel> {
  if (!registry) throw new Error('inference thread not initialised');
  return loadBatchModel(registry, task, model, adopt);
}

async function encode(req: EncodeRequest): Promise<EncodeReply> {
  let model: TaskModel;
  try {
    model = await loadModel(req.task, req.model, req.adopt);
  } catch (err) {
    return { ok: false, modelError: modelLoadError(req.model, err) };
  }
  const lengths = new Int32Array(req.texts.length);
  const errors: (DocError | null)[] = new Array<DocError | null>(req.texts.length).fill(null);
  const kept: number[] = [];
  try {
    req.texts.forEach((text, i) => {
      try {
        const doc = model.encode(text, req.options);
        lengths[i] = doc.length;
        encoded.set(req.handles[i]!, { modelId: model.info.id, doc });
        kept.push(req.handles[i]!);
      } catch (err) {
        const de = docError(err);
        if (!de) throw err;
        errors[i] = de;
      }
    });
  } catch (err) {
    for (const h of kept) encoded.delete(h);
    // The model layer says the model cannot serve (e.g. its tokenizer does not fit): the batch fails.
    if (modelErrorCode(err)) {
      return { ok: false, modelError: modelRunError(model.info.id, err, 'cannot encode documents') };
    }
    throw err;
  }
  return { ok: true, modelId: model.info.id, lengths, errors };
}

/**
 * Keeps documents the tokenizer thread encoded. Their model is loaded here too first (a model whose
 * weights cannot load fails its batch, as when this thread encodes).
 */
async function store(req: StoreRequest): Promise<EncodeReply> {
  if (req.failure !== undefined) throw new Error(req.failure);
  if (req.modelError) return { ok: false, modelError: req.modelError };
  if (!registry) throw new Error('inference thread not initialised');
  const modelId = req.modelId!;
  try {
    if (req.adopt) registry.adopt(req.adopt.key, req.adopt.dir, req.adopt.name, req.adopt.version);
    await registry.load(modelId);
  } catch (err) {
    return { ok: false, modelError: modelLoadError(modelId, err) };
  }
  const docs = req.docs ?? [];
  const lengths = new Int32Array(req.handles.length);
  docs.forEach((doc, i) => {
    if (!doc) return;
    lengths[i] = doc.length;
    encoded.set(req.handles[i]!, { modelId, doc });
  });
  return { ok: true, modelId, lengths, errors: req.errors ?? docs.map(() => null) };
}

/**
 * Runs a tensor batch through {@link runSafe}: per-document errors come back in `results`; a model
 * that cannot run (or cannot load any more) comes back as `modelError` and fails the batch. Any
 * other error (a missing handle) fails the request, and the chunk is retried.
 */
async function run(req: RunRequest): Promise<RunReply> {
  if (!registry) throw new Error('inference thread not initialised');
  try {
    let model: TaskModel;
    try {
      model = await registry.load(req.modelId);
    } catch (err) {
      return { results: [], seconds: 0, modelError: modelLoadError(req.modelId, err) };
    }
    const docs: EncodedDocument[] = [];
    for (const h of req.handles) {
      const e = encoded.get(h);
      if (!e) throw new Error(`unknown document handle ${h}`);
      docs.push(e.doc);
    }
    const timing = { seconds: 0 };
    const outcome = await runSafe(model, docs, req.options, proven.has(req.modelId), timing);
    if ('modelError' in outcome) {
      return { results: [], seconds: timing.seconds, modelError: outcome.modelError };
    }
    if (outcome.results.some((r) => 'result' in r)) proven.add(req.modelId);
    return { results: outcome.results, seconds: timing.seconds };
  } finally {
    for (const h of req.handles) encoded.delete(h);
  }
}

async function handle(req: InferenceRequest): Promise<unknown> {
  switch (req.type) {
    case 'init':
      return init(req.backend, req.modelsDir, req.port);
    case 'encode':
      return encode(req);
    case 'store':
      return store(req);
    case 'run':
      return run(req);
    case 'release':
      for (const h of req.handles) encoded.delete(h);
      return null;
    case 'dispose':
      encoded.clear();
      proven.clear();
      await registry?.disposeAll();
      return null;
  }
}

// Requests run one at a time, in arrival order; every reply goes to the main thread.
let queue: Promise<void> = Promise.resolve();
function enqueue(msg: Envelope<InferenceRequest>): void {
  queue = queue.then(async () => {
    let reply: ReplyEnvelope;
    try {
      const payload = await handle(msg.payload);
      reply = { id: msg.id, ok: true, payload };
    } catch (err) {
      const e = err as Error;
      reply = { id: msg.id, ok: false, error: { message: firstLine(e), name: e?.name } };
    }
    const transfer: ArrayBuffer[] = [];
    const p = reply.payload as { lengths?: Int32Array } | undefined;
    if (p?.lengths) transfer.push(p.lengths.buffer as ArrayBuffer);
    parentPort?.postMessage(reply, transfer);
  });
}
parentPort?.on('message', enqueue);
