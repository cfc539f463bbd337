import { parentPort } from 'node:worker_threads';
import { initTfBackend } from '../models/backend';
import type { TfBackendChoice } from '../models/backend';
import { ModelRegistry } from '../models/registry';
import { DocumentInputError } from '../models/types';
import type { EncodedDocument, TaskModel, TaskOptions, TaskResult } from '../models/types';
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
} from './inference-protocol';

/**
 * Entry of the worker's inference thread: owns the TensorFlow.js backend, the model registry and
 * every encoded document (by handle). Runs one request at a time; the main thread's event loop
 * stays free for Postgres, BullMQ lock renewal and batching.
 */

let registry: ModelRegistry | undefined;
const encoded = new Map<number, { modelId: string; doc: EncodedDocument }>();

function docError(err: unknown): DocError | null {
  if (err instanceof DocumentInputError) return { code: err.code, message: err.message };
  const e = err as { name?: string; code?: unknown; message?: unknown };
  // A DocumentInputError from a module instance loaded twice still carries its name and code.
  if (e?.name === 'DocumentInputError' && typeof e.code === 'string') {
    return { code: e.code, message: String(e.message) };
  }
  return null;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

async function init(backend: string, modelsDir?: string): Promise<InitReply> {
  const name = await initTfBackend(backend as TfBackendChoice);
  registry = new ModelRegistry(modelsDir ? { modelsDir } : {});
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
    const code = (err as { code?: unknown }).code === 'UNKNOWN_MODEL' ? 'UNKNOWN_MODEL' : 'MODEL_LOAD_FAILED';
    return {
      ok: false,
      modelError: { code, message: `model '${req.model}' could not be loaded: ${firstLine(err)}` },
    };
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
      return init(req.backend, req.modelsDir);
    case 'encode':
      return encode(req);
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

// Requests run one at a time, in arrival order.
let queue: Promise<void> = Promise.resolve();
parentPort?.on('message', (msg: Envelope<InferenceRequest>) => {
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
});
