import type { Worker } from 'node:worker_threads';
import { AppError } from '../errors';
import type { ErrorCode, ErrorDetail } from '../errors';
import { spawnThread } from '../threads';
import type { DocumentItem } from './document-source';
import { validationError } from './document-validator';
import type { DocumentValidatorOptions, ValidationTally } from './document-validator';

/**
 * Ingest threads: the documents of NDJSON (and large JSON) uploads are parsed, checked and encoded as
 * COPY rows in worker threads, not in the API's event loop, so that reads stay fast while uploads
 * stream in (issue 16). The main thread splits the body into lines, hands each socket chunk's lines
 * to the upload's thread and writes the rows it gets back to the COPY stream. `INGEST_THREADS`
 * threads (default: cores - 1, from 1 to 4) serve all uploads; each upload stays on one thread, whose
 * DocumentValidator keeps its state (count, duplicate ids, the first 100 errors).
 */

export type IngestRequest =
  | {
      op: 'open';
      session: number;
      options: DocumentValidatorOptions;
      /** Lines of raw bytes are split in the thread with this limit (see `ThreadedValidator.acceptBytes`). */
      maxLineBytes?: number;
    }
  | { op: 'accept'; session: number; id: number; items: DocumentItem[] }
  /** Raw NDJSON bytes of the upload, split into lines in the thread (an NdjsonSplitter per session). */
  | { op: 'bytes'; session: number; id: number; bytes: Uint8Array }
  /** The end of the raw bytes: the last line if the body does not end with a newline. */
  | { op: 'end'; session: number; id: number }
  | { op: 'close'; session: number };

type NumberedRequest = Extract<IngestRequest, { id: number }>;

export type IngestReply =
  | {
      id: number;
      /**
       * The COPY rows as UTF-8 bytes, in an ArrayBuffer transferred to the main thread: off the main
       * isolate's heap, so rows waiting for the connection are not copied by its scavenges (issue 16).
       */
      rows: Uint8Array;
      count: number;
      errorCount: number;
      duplicateCount: number;
      /** Error details added by this request. */
      newErrors?: ErrorDetail[];
      failure?: undefined;
    }
  | { id: number; failure: { code?: ErrorCode; message: string; details?: ErrorDetail[] } };

/**
 * V8 young generation of an ingest thread, MB: its garbage is short-lived strings of one socket chunk,
 * and the default semi-spaces added about 30 MB more to the API's peak resident memory (bench/ingest.ts).
 */
const INGEST_THREAD_YOUNG_MB = 4;

export interface IngestThreadData {
  nice: number;
}

type Waiter = { resolve: (r: IngestReply) => void; reject: (e: Error) => void };

class IngestThread {
  readonly worker: Worker;
  sessions = 0;
  dead?: Error;
  private readonly waiting = new Map<number, Waiter>();

  constructor(nice: number, onDeath: (t: IngestThread) => void) {
    this.worker = spawnThread(__dirname, 'ingest-thread', {
      resourceLimits: { maxYoungGenerationSizeMb: INGEST_THREAD_YOUNG_MB },
      workerData: { nice } satisfies IngestThreadData,
    });
    this.worker.unref();
    const die = (err: Error): void => {
      if (this.dead) return;
      this.dead = err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
      onDeath(this);
    };
    this.worker.on('message', (reply: IngestReply) => {
      const w = this.waiting.get(reply.id);
      if (!w) return;
      this.waiting.delete(reply.id);
      w.resolve(reply);
    });
    this.worker.on('error', (err) => die(new Error(`ingest thread crashed: ${err.message}`)));
    this.worker.on('exit', (code) => die(new Error(`ingest thread exited (code ${code})`)));
  }

  post(req: IngestRequest): void {
    if (!this.dead) this.worker.postMessage(req);
  }

  request(req: NumberedRequest, transfer?: ArrayBuffer[]): Promise<IngestReply> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise<IngestReply>((resolve, reject) => {
      this.waiting.set(req.id, { resolve, reject });
      this.worker.postMessage(req, transfer);
    });
  }
}

/** The validator of one upload, running in an ingest thread. Same tally as DocumentValidator. */
export class ThreadedValidator implements ValidationTally {
  count = 0;
  errorCount = 0;
  duplicateCount = 0;
  readonly errors: ErrorDetail[] = [];
  private closed = false;

  constructor(
    private readonly thread: IngestThread,
    private readonly session: number,
    private readonly nextId: () => number,
  ) {}

  get ok(): boolean {
    return this.errorCount === 0;
  }

  /**
   * Validates `items` in the thread; resolves with the COPY rows of the valid ones as UTF-8 bytes
   * (empty once any error was seen). Rejects with PAYLOAD_TOO_LARGE past `maxDocs`. Calls may overlap: they are
   * answered, and the tally updated, in order.
   */
  accept(items: DocumentItem[]): Promise<Uint8Array> {
    return this.send({ op: 'accept', session: this.session, id: this.nextId(), items });
  }

  /**
   * Like `accept`, for raw NDJSON bytes of the upload (the pool's `open` with `maxLineBytes`): the
   * thread splits them into lines as `ndjsonSource` would, keeping a partial line for the next call.
   * The bytes are copied to the thread (the caller may reuse its buffer). Call `acceptEnd` after the last.
   */
  acceptBytes(bytes: Uint8Array): Promise<Uint8Array> {
    // A copy of just these bytes, transferred: structured cloning a view would copy its whole
    // ArrayBuffer (e.g. a socket read buffer or Buffer's shared pool).
    const own = new Uint8Array(bytes);
    return this.send({ op: 'bytes', session: this.session, id: this.nextId(), bytes: own }, [own.buffer]);
  }

  /** The rows of the body's last line when it has no final newline (after the last `acceptBytes`). */
  acceptEnd(): Promise<Uint8Array> {
    return this.send({ op: 'end', session: this.session, id: this.nextId() });
  }

  private async send(req: NumberedRequest, transfer?: ArrayBuffer[]): Promise<Uint8Array> {
    const reply = await this.thread.request(req, transfer);
    if (reply.failure) {
      const f = reply.failure;
      throw f.code ? new AppError(f.code, f.message, f.details) : new Error(`ingest thread: ${f.message}`);
    }
    this.count = reply.count;
    this.errorCount = reply.errorCount;
    this.duplicateCount = reply.duplicateCount;
    if (reply.newErrors) this.errors.push(...reply.newErrors);
    return reply.rows;
  }

  result(): AppError | null {
    // A copy of the details: replies still in flight when an upload stops early update the tally.
    return validationError({ ...this, errors: this.errors.slice() });
  }

  /** Frees the thread's state of this upload. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.thread.sessions--;
    this.thread.post({ op: 'close', session: this.session });
  }
}

export class IngestThreadPool {
  private readonly threads: (IngestThread | undefined)[];
  private session = 0;
  private id = 0;

  /**
   * @param size threads (`INGEST_THREADS`)
   * @param nice their Linux nice value (`INGEST_THREAD_NICE`): above the event loop's 0, so that when the
   *   cores are busy the event loop (reads, health checks) runs first
   */
  constructor(
    readonly size: number,
    private readonly nice = 0,
  ) {
    this.threads = new Array<IngestThread | undefined>(size).fill(undefined);
  }

  /**
   * A validator for one upload, on the thread with the fewest uploads (threads start on first use).
   * With `maxLineBytes`, it also takes the raw NDJSON bytes (`acceptBytes`).
   */
  open(options: DocumentValidatorOptions, maxLineBytes?: number): ThreadedValidator {
    let best = 0;
    for (let i = 0; i < this.size; i++) {
      const t = this.threads[i];
      if (!t) {
        best = i;
        break;
      }
      if (t.sessions < (this.threads[best]?.sessions ?? Infinity)) best = i;
    }
    let thread = this.threads[best];
    if (!thread) {
      const slot = best;
      thread = new IngestThread(this.nice, (dead) => {
        if (this.threads[slot] === dead) this.threads[slot] = undefined;
      });
      this.threads[slot] = thread;
    }
    const session = ++this.session;
    thread.sessions++;
    thread.post({ op: 'open', session, options, maxLineBytes });
    return new ThreadedValidator(thread, session, () => ++this.id);
  }

  async close(): Promise<void> {
    const running = this.threads.filter((t): t is IngestThread => t !== undefined);
    this.threads.fill(undefined);
    await Promise.all(running.map((t) => t.worker.terminate()));
  }
}
