import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { TaskOptions } from '../models/types';
import type { EncodeReply, InferenceRequest, InitReply, ReplyEnvelope, RunReply } from './inference-protocol';

/**
 * Main-thread side of the inference thread (see inference-thread.ts). Each call posts one request
 * and resolves with its reply; `Int32Array` handles are transferred, not copied.
 *
 * Under ts-node-less execution of TypeScript sources (tests, `scripts/run-ts.js`), the thread
 * compiles its `.ts` modules with @swc/core through a require hook, as the parent does.
 */

/** Thrown in the main thread for an error raised inside the inference thread. */
export class InferenceThreadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InferenceThreadError';
  }
}

const TS_HOOK = `
const fs = require('node:fs');
const Module = require('node:module');
const { transformSync } = require('@swc/core');
Module._extensions['.ts'] = function (module, filename) {
  const code = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename, sourceMaps: 'inline', module: { type: 'commonjs' },
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
  }).code;
  module._compile(code, filename);
};
`;

function threadEntry(): { file: string; eval: boolean } {
  const js = path.join(__dirname, 'inference-thread.js');
  if (existsSync(js)) return { file: js, eval: false };
  const ts = path.join(__dirname, 'inference-thread.ts');
  return { file: `${TS_HOOK}\nrequire(${JSON.stringify(ts)});`, eval: true };
}

export class InferenceClient {
  private worker?: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited?: Error;
  /** Backend in use, after `start()`. */
  backend = 'unknown';

  /** Starts the thread and initialises the backend and registry. */
  async start(options: { backend: string; modelsDir?: string }): Promise<string> {
    const entry = threadEntry();
    const worker = new Worker(entry.file, { eval: entry.eval });
    this.worker = worker;
    worker.on('message', (msg: ReplyEnvelope) => {
      const w = this.waiting.get(msg.id);
      if (!w) return;
      this.waiting.delete(msg.id);
      if (msg.ok) w.resolve(msg.payload);
      else w.reject(new InferenceThreadError(msg.error?.message ?? 'inference thread error'));
    });
    const fail = (err: Error): void => {
      this.exited = err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on('error', (err) => fail(new InferenceThreadError(`inference thread crashed: ${err.message}`)));
    worker.on('exit', (code) => fail(new InferenceThreadError(`inference thread exited (code ${code})`)));
    const reply = (await this.call({
      type: 'init',
      backend: options.backend,
      ...(options.modelsDir ? { modelsDir: options.modelsDir } : {}),
    })) as InitReply;
    this.backend = reply.backend;
    return reply.backend;
  }

  private call(req: InferenceRequest, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.exited) return Promise.reject(this.exited);
    if (!this.worker) return Promise.reject(new InferenceThreadError('inference thread not started'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker!.postMessage({ id, payload: req }, transfer);
    });
  }

  /** Loads the batch's model (once) and encodes texts, keeping each under its handle. */
  encode(
    task: string,
    model: string,
    options: TaskOptions,
    handles: Int32Array,
    texts: string[],
  ): Promise<EncodeReply> {
    return this.call({ type: 'encode', task, model, options, handles, texts }) as Promise<EncodeReply>;
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

  /** Disposes every model and ends the thread. Idempotent. */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker || this.exited) return;
    await Promise.race([
      this.call({ type: 'dispose' }).catch(() => undefined),
      new Promise((r) => setTimeout(r, 5_000).unref()),
    ]);
    await worker.terminate();
  }
}
