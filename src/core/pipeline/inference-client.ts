import { MessageChannel } from 'node:worker_threads';
import type { MessagePort, Transferable, Worker } from 'node:worker_threads';
import { applyNativeEnvDefaults } from '../models/native-env';
import { spawnThread } from '../threads';
import type { TaskOptions } from '../models/types';
import type {
  EncodeReply,
  AdoptModel,
  EncodeRequest,
  EncoderInitRequest,
  InferenceRequest,
  InitReply,
  ReplyEnvelope,
  RunReply,
} from './inference-protocol';

/**
 * Main-thread side of the inference thread (see inference-thread.ts) and of the tokenizer thread
 * that feeds it (encoder-thread.ts). Each call posts one request and resolves with its reply;
 * `Int32Array` handles are transferred, not copied.
 * Under TypeScript sources (tests, `scripts/run-ts.js`) the threads compile their `.ts` modules
 * with @swc/core through a require hook, as the parent does (src/core/threads.ts).
 */

/** Thrown in the main thread for an error raised inside the inference thread. */
export class InferenceThreadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InferenceThreadError';
  }
}

function spawn(name: 'inference-thread' | 'encoder-thread'): Worker {
  return spawnThread(__dirname, name);
}

/** Options of {@link InferenceClient.start}. */
export interface InferenceClientOptions {
  /** TensorFlow.js backend of the inference thread (`TF_BACKEND`). */
  backend: string;
  /** A model repository besides the bundled one (`MODELS_DIR`). */
  modelsDir?: string;
  /**
   * Tokenize in a thread of its own (`TOKENIZER_THREAD`), so tokenization of the next chunks
   * overlaps the tensor batches of the inference thread. Default true; false tokenizes in the
   * inference thread (one thread per task, e.g. on a one-core machine).
   */
  tokenizerThread?: boolean;
}

export class InferenceClient {
  private worker?: Worker;
  private encoder?: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited?: Error;
  private stopped = false;
  /** Backend in use, after `start()`. */
  backend = 'unknown';
  /** Which backend and why, after `start()` (e.g. `wasm (WebAssembly SIMD; TF_BACKEND=auto: native backend not installed, ...)`). */
  backendDetail: string | undefined;

  /** Starts the thread(s) and initialises the backend and registry. */
  async start(options: InferenceClientOptions): Promise<string> {
    applyNativeEnvDefaults();
    const worker = spawn('inference-thread');
    this.worker = worker;
    const onReply = (msg: ReplyEnvelope): void => {
      const w = this.waiting.get(msg.id);
      if (!w) return;
      this.waiting.delete(msg.id);
      if (msg.ok) w.resolve(msg.payload);
      else w.reject(new InferenceThreadError(msg.error?.message ?? 'inference thread error'));
    };
    const fail = (err: Error): void => {
      this.exited ??= err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on('message', onReply);
    worker.on('error', (err) => fail(new InferenceThreadError(`inference thread crashed: ${err.message}`)));
    worker.on('exit', (code) => fail(new InferenceThreadError(`inference thread exited (code ${code})`)));
    const modelsDir = options.modelsDir ? { modelsDir: options.modelsDir } : {};
    let port: MessagePort | undefined;
    if (options.tokenizerThread ?? true) {
      const encoder = spawn('encoder-thread');
      this.encoder = encoder;
      encoder.on('message', onReply);
      encoder.on('error', (err) =>
        fail(new InferenceThreadError(`tokenizer thread crashed: ${err.message}`)),
      );
      encoder.on('exit', (code) => fail(new InferenceThreadError(`tokenizer thread exited (code ${code})`)));
      const channel = new MessageChannel();
      port = channel.port2;
      await this.post(encoder, { type: 'init', ...modelsDir, port: channel.port1 }, [channel.port1]);
    }
    const reply = (await this.post(
      worker,
      { type: 'init', backend: options.backend, ...modelsDir, ...(port ? { port } : {}) },
      port ? [port] : [],
    )) as InitReply;
    this.backend = reply.backend;
    this.backendDetail = reply.detail;
    return reply.backend;
  }

  private call(req: InferenceRequest, transfer: Transferable[] = []): Promise<unknown> {
    if (!this.worker) return Promise.reject(new InferenceThreadError('inference thread not started'));
    return this.post(this.worker, req, transfer);
  }

  private post(
    target: Worker,
    req: InferenceRequest | EncoderInitRequest,
    transfer: Transferable[] = [],
  ): Promise<unknown> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      target.postMessage({ id, payload: req }, transfer);
    });
  }

  /**
   * Loads the batch's model (once) and encodes texts, keeping each under its handle in the
   * inference thread (through the tokenizer thread when there is one).
   */
  encode(
    task: string,
    model: string,
    options: TaskOptions,
    handles: Int32Array,
    texts: string[],
    /** A tenant model's local files (the batch's `model` is then only its name for messages). */
    adopt?: AdoptModel,
  ): Promise<EncodeReply> {
    const req: EncodeRequest = {
      type: 'encode',
      task,
      model,
      options,
      handles,
      texts,
      ...(adopt ? { adopt } : {}),
    };
    if (this.encoder) return this.post(this.encoder, req) as Promise<EncodeReply>;
    return this.call(req) as Promise<EncodeReply>;
  }

  /** Runs one tensor batch of encoded documents (their handles are freed). */
  run(modelId: string, options: TaskOptions, handles: Int32Array): Promise<RunReply> {
    return this.call({ type: 'run', modelId, options, handles }, [
      handles.buffer as ArrayBuffer,
    ]) as Promise<RunReply>;
  }

  /** Frees encoded documents that will not run (cancelled, failed job). */
  release(handles: Int32Array): void {
    if (handles.length === 0 || this.exited || !this.worker) return;
    void this.call({ type: 'release', handles }, [handles.buffer as ArrayBuffer]).catch(() => undefined);
  }

  /**
   * Time each thread has spent working (not waiting for a message) since it started, seconds
   * (event-loop utilization); `tokenizer` is null without a tokenizer thread.
   */
  activeSeconds(): { inference: number; tokenizer: number | null } {
    const active = (w: Worker | undefined): number =>
      w && !this.stopped ? w.performance.eventLoopUtilization().active / 1000 : 0;
    return { inference: active(this.worker), tokenizer: this.encoder ? active(this.encoder) : null };
  }

  /** Disposes every model and ends the thread(s). Idempotent. */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker || this.stopped) return;
    if (!this.exited) {
      await Promise.race([
        this.call({ type: 'dispose' }).catch(() => undefined),
        new Promise((r) => setTimeout(r, 5_000).unref()),
      ]);
    }
    // Both threads end, also when one of them crashed.
    this.stopped = true;
    await Promise.all([worker.terminate(), this.encoder?.terminate()]);
  }
}
