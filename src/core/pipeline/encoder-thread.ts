import { parentPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { initTfBackend } from '../models/backend';
import { ModelRegistry } from '../models/registry';
import type { EncodedDocument, TaskModel } from '../models/types';
import { modelErrorCode } from '../models/model-errors';
import { loadBatchModel } from './batch-model';
import { docError, firstLine, modelLoadError, modelRunError } from './inference-errors';
import type {
  EncodeRequest,
  EncoderInitRequest,
  Envelope,
  ReplyEnvelope,
  StoreRequest,
} from './inference-protocol';

/**
 * Entry of the worker's tokenizer thread: tokenizes the texts of claimed chunks while the
 * inference thread runs tensor batches, so the model thread (and, on a GPU, the device) never
 * waits for tokenization.
 *
 * Route of one encode request: main thread -> this thread (texts) -> inference thread (encoded
 * documents, by handle, over a MessagePort; token ids are transferred, not copied) -> main thread
 * (lengths and per-document errors). The inference thread answers only after it has stored the
 * documents, so a `run` the main thread sends afterwards always finds them.
 *
 * Models load through the same registry as in the inference thread, on the `cpu` backend: only
 * their `encode` is used here (a GPU backend is never initialised twice).
 */

let registry: ModelRegistry | undefined;
let toInference: MessagePort | undefined;

function store(id: number, req: StoreRequest, transfer: ArrayBuffer[] = []): void {
  toInference?.postMessage({ id, payload: req } satisfies Envelope<StoreRequest>, transfer);
}

async function encode(id: number, req: EncodeRequest): Promise<void> {
  if (!registry) throw new Error('tokenizer thread not initialised');
  let model: TaskModel;
  try {
    model = await loadBatchModel(registry, req.task, req.model, req.adopt);
  } catch (err) {
    store(id, { type: 'store', handles: req.handles, modelError: modelLoadError(req.model, err) });
    return;
  }
  const docs: (EncodedDocument | null)[] = new Array<EncodedDocument | null>(req.texts.length).fill(null);
  const errors: StoreRequest['errors'] = new Array<null>(req.texts.length).fill(null);
  let total = 0;
  try {
    req.texts.forEach((text, i) => {
      try {
        const doc = model.encode(text, req.options);
        docs[i] = doc;
        total += doc.ids.length;
      } catch (err) {
        const de = docError(err);
        if (!de) throw err;
        errors[i] = de;
      }
    });
  } catch (err) {
    // The model layer says the model cannot serve (e.g. its tokenizer does not fit): the batch fails.
    if (!modelErrorCode(err)) throw err;
    const modelError = modelRunError(model.info.id, err, 'cannot encode documents');
    store(id, { type: 'store', handles: req.handles, modelError });
    return;
  }
  // The token ids of the whole request travel in one buffer (transferred, not copied), each
  // document's ids a view of it: one allocation per chunk instead of one per document, freed
  // when the chunk's last document has run.
  const packed = new Int32Array(total);
  let at = 0;
  for (const doc of docs) {
    if (!doc) continue;
    packed.set(doc.ids, at);
    doc.ids = packed.subarray(at, at + doc.ids.length);
    at += doc.ids.length;
  }
  const adopt = req.adopt ? { adopt: req.adopt } : {};
  store(id, { type: 'store', modelId: model.info.id, ...adopt, handles: req.handles, docs, errors }, [
    packed.buffer as ArrayBuffer,
  ]);
}

async function handle(msg: Envelope<EncoderInitRequest | EncodeRequest>): Promise<void> {
  const req = msg.payload;
  if (req.type === 'init') {
    toInference = req.port;
    const backend = await initTfBackend('cpu');
    registry = new ModelRegistry({
      keepCheckedModels: true,
      ...(req.modelsDir ? { modelsDir: req.modelsDir } : {}),
    });
    parentPort?.postMessage({ id: msg.id, ok: true, payload: { backend } } satisfies ReplyEnvelope);
    return;
  }
  try {
    await encode(msg.id, req);
  } catch (err) {
    // An unexpected tokenizer error fails the request (the chunk job is retried).
    store(msg.id, { type: 'store', handles: req.handles, failure: firstLine(err) });
  }
}

// Requests run one at a time, in arrival order.
let queue: Promise<void> = Promise.resolve();
parentPort?.on('message', (msg: Envelope<EncoderInitRequest | EncodeRequest>) => {
  queue = queue.then(() =>
    handle(msg).catch((err: unknown) => {
      parentPort?.postMessage({
        id: msg.id,
        ok: false,
        error: { message: firstLine(err) },
      } satisfies ReplyEnvelope);
    }),
  );
});
