import { parentPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { initTfBackend } from '../models/backend';
import type { TfBackendChoice } from '../models/backend';
import { ModelRegistry } from '../models/registry';
import type { EncodedDocument, TaskModel, TaskOptions, TaskResult } from '../models/types';
import { docError, firstLine, modelLoadError } from './inference-errors';
import type {
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

/**
 * Entry of the worker's inference thread: owns the TensorFlow.js backend, the model registry and
 * every encoded document (by handle). Runs one request at a time; the main thread's event loop
 * stays free for Postgres, BullMQ lock renewal and batching.
 */

let registry: ModelRegistry | undefined;
const encoded = new Map<number, { modelId: string; doc: EncodedDocument }>();

async function init(backend: string, modelsDir?: string, port?: MessagePort): Promise<InitReply> {
  const name = await initTfBackend(backend as TfBackendChoice);
  registry = new ModelRegistry(modelsDir ? { modelsDir } : {});
  // Encoded documents from the tokenizer thread join the same one-at-a-time queue.
  port?.on('message', (msg: Envelope<InferenceRequest>) => enqueue(msg));
  return { backend: name };
}

async function loadModel(task: string, model: string): Promise<TaskModel> {
  if (!registry) throw new Error('inference thread not initialised');
  const info = registry.resolve(task, model);
  return registry.load(info);
}

async function encode(req: EncodeRequest): Promise<EncodeReply> {
  let model: TaskModel;
  try {
    model = await loadModel(req.task, req.model);
  } catch (err) {
    return { ok: false, modelError: modelLoadError(req.model, err) };
  }
  const lengths = new Int32Array(req.texts.length);
  const errors: (DocError | null)[] = new Array<DocError | null>(req.texts.length).fill(null);
  req.texts.forEach((text, i) => {
    try {
      const doc = model.encode(text, req.options);
      lengths[i] = doc.length;
      encoded.set(req.handles[i]!, { modelId: model.info.id, doc });
    } catch (err) {
      const de = docError(err);
      if (!de) throw err;
      errors[i] = de;
    }
  });
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

type Outcome = { result: TaskResult } | { error: DocError };

/**
 * Runs a tensor batch. When `runBatch` throws for the batch, it is halved until the culprit runs
 * alone: a DocumentInputError then fails that document only; any other error fails the request.
 */
async function runSafe(
  model: TaskModel,
  docs: EncodedDocument[],
  options: TaskOptions,
  timing: { seconds: number },
): Promise<Outcome[]> {
  const started = process.hrtime.bigint();
  try {
    const results = await model.runBatch(docs, options);
    if (results.length !== docs.length) {
      throw new Error(`${model.info.id} returned ${results.length} results for ${docs.length} documents`);
    }
    return results.map((result) => ({ result }));
  } catch (err) {
    const de = docError(err);
    if (docs.length === 1) {
      if (de) return [{ error: de }];
      throw err;
    }
    const mid = docs.length >> 1;
    const left = await runSafe(model, docs.slice(0, mid), options, timing);
    const right = await runSafe(model, docs.slice(mid), options, timing);
    return [...left, ...right];
  } finally {
    timing.seconds += Number(process.hrtime.bigint() - started) / 1e9;
  }
}

async function run(req: RunRequest): Promise<RunReply> {
  if (!registry) throw new Error('inference thread not initialised');
  const model = await registry.load(req.modelId);
  const docs: EncodedDocument[] = [];
  for (const h of req.handles) {
    const e = encoded.get(h);
    if (!e) throw new Error(`unknown document handle ${h}`);
    docs.push(e.doc);
  }
  const timing = { seconds: 0 };
  try {
    const results = await runSafe(model, docs, req.options, timing);
    return { results, seconds: timing.seconds };
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
