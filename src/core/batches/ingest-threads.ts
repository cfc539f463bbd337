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
 * stream in (issue 16). The main thread hands the body's bytes (or, for the other forms, its lines) to
 * the upload's thread. With a database configured (the API), the upload's whole transaction runs on a
 * connection of that thread: the main thread sends the statements (`query`), starts the COPY
 * (`startCopy`), and the thread writes the rows of valid documents to Postgres itself, so that neither
 * the rows nor the socket writes of the COPY touch the event loop. `INGEST_THREADS` threads (default:
 * cores - 1, from 1 to 4) serve all uploads; each upload stays on one thread, whose DocumentValidator
 * keeps its state (count, duplicate ids, the first 100 errors).
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
  /** A statement of the upload's transaction, on the session's connection (taken at the first). */
  | { op: 'sql'; session: number; id: number; text: string; values?: unknown[] }
  /** Starts `COPY ... FROM STDIN` on the session's connection: rows of later requests go there. */
  | { op: 'copy'; session: number; id: number; sql: string }
  /** Writes what is left and ends the COPY (fails with the COPY's error). */
  | { op: 'copy-end'; session: number; id: number }
  /**
   * Returns the session's connection to the thread's pool; `discard`: closes it at once (the server
   * rolls the transaction back), ahead of requests still queued.
   */
  | { op: 'release'; session: number; discard: boolean }
  /** Ends the session (a connection still held is discarded). */
  | { op: 'close'; session: number };

type NumberedRequest = Extract<IngestRequest, { id: number }>;

/** A database error's fields, as they cross between threads (pg's DatabaseError or a socket error). */
export type SerializedDbError = Record<string, string | number | undefined>;

const DB_ERROR_FIELDS = [
  'name',
  'message',
  'code',
  'severity',
  'detail',
  'hint',
  'position',
  'where',
  'schema',
  'table',
  'column',
  'dataType',
  'constraint',
  'routine',
  'errno',
  'syscall',
] as const;

export function serializeDbError(err: Error): SerializedDbError {
  const out: SerializedDbError = {};
  const e = err as unknown as Record<string, unknown>;
  for (const k of DB_ERROR_FIELDS) {
    const v = e[k];
    if (typeof v === 'string' || typeof v === 'number') out[k] = v;
  }
  return out;
}

/** An Error with the fields of `fields` (code, constraint...), so the central mapping treats it as pg's. */
export function deserializeDbError(fields: SerializedDbError): Error {
  const err = new Error(String(fields.message ?? 'database error'));
  for (const [k, v] of Object.entries(fields)) {
    if (k !== 'message' && k !== 'name' && v !== undefined)
      (err as unknown as Record<string, unknown>)[k] = v;
  }
  return err;
}

/** A query result as it crosses between threads. */
export interface SqlResult<R = unknown> {
  rows: R[];
  rowCount: number | null;
}

export type IngestReply =
  | {
      id: number;
      /**
       * The COPY rows as UTF-8 bytes, in an ArrayBuffer transferred to the main thread: off the main
       * isolate's heap (issue 16). Empty while the session's COPY is open: the thread wrote them.
       */
      rows: Uint8Array;
      count: number;
      errorCount: number;
      duplicateCount: number;
      /** Error details added by this request. */
      newErrors?: ErrorDetail[];
      failure?: undefined;
    }
  | { id: number; result: SqlResult; failure?: undefined }
  | {
      id: number;
      failure: { code?: ErrorCode; message: string; details?: ErrorDetail[]; db?: SerializedDbError };
    }
  /** Unasked: the session's connection or COPY failed (the upload fails even while its body is idle). */
  | { id?: undefined; session: number; connectionError: SerializedDbError };

/**
 * V8 young generation of an ingest thread, MB: its garbage is short-lived strings of one socket chunk,
 * and the default semi-spaces added about 30 MB more to the API's peak resident memory (bench/ingest.ts).
 */
const INGEST_THREAD_YOUNG_MB = 4;

export interface IngestThreadData {
  nice: number;
  /** The database of the uploads' transactions, and connections per thread at most. */
  db?: IngestThreadDatabase;
}

/** `application_name` of the ingest threads' connections (pg_stat_activity). */
export const INGEST_APPLICATION_NAME = 'docbatch-ingest';

export interface IngestThreadDatabase {
  url: string;
  connections: number;
}

/** A reply to a numbered request. */
type Answer = Extract<IngestReply, { id: number }>;

type Waiter = { resolve: (r: Answer) => void; reject: (e: Error) => void };

class IngestThread {
  readonly worker: Worker;
  sessions = 0;
  dead?: Error;
  private readonly waiting = new Map<number, Waiter>();

  /** Open uploads by session, for the unasked connection errors. */
  readonly open = new Map<number, ThreadedValidator>();

  constructor(nice: number, db: IngestThreadDatabase | undefined, onDeath: (t: IngestThread) => void) {
    this.worker = spawnThread(__dirname, 'ingest-thread', {
      resourceLimits: { maxYoungGenerationSizeMb: INGEST_THREAD_YOUNG_MB },
      workerData: { nice, db } satisfies IngestThreadData,
    });
    this.worker.unref();
    const die = (err: Error): void => {
      if (this.dead) return;
      this.dead = err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
      for (const v of this.open.values()) v.fail(err);
      onDeath(this);
    };
    this.worker.on('message', (reply: IngestReply) => {
      if (reply.id === undefined) {
        this.open.get(reply.session)?.fail(deserializeDbError(reply.connectionError));
        return;
      }
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

  request(req: NumberedRequest, transfer?: ArrayBuffer[]): Promise<Answer> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise<Answer>((resolve, reject) => {
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
  /** The first failure of the session's connection or COPY, or of the thread. */
  failure?: Error;
  private readonly failureListeners = new Set<(err: Error) => void>();

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

  /**
   * Runs a statement of the upload's transaction on the session's connection in the thread (the pool
   * needs a database; the connection is taken at the first statement). Database errors keep their fields.
   */
  async query<R = any>( // eslint-disable-line @typescript-eslint/no-explicit-any
    text: string | { text: string; values?: unknown[] },
    values?: unknown[],
  ): Promise<SqlResult<R>> {
    const q =
      typeof text === 'string' ? { text, values } : { text: text.text, values: text.values ?? values };
    const reply = await this.request({ op: 'sql', session: this.session, id: this.nextId(), ...q });
    if (!('result' in reply)) throw new Error('ingest thread: a statement got no result');
    return reply.result as SqlResult<R>;
  }

  /** Starts `sql` (a COPY ... FROM STDIN) on the session's connection: rows of later requests go there. */
  async startCopy(sql: string): Promise<void> {
    await this.request({ op: 'copy', session: this.session, id: this.nextId(), sql });
  }

  /** Writes the rows still gathered in the thread and ends the COPY. */
  async endCopy(): Promise<void> {
    await this.request({ op: 'copy-end', session: this.session, id: this.nextId() });
  }

  /** Returns the connection to the thread's pool after COMMIT or ROLLBACK. */
  release(): void {
    this.thread.post({ op: 'release', session: this.session, discard: false });
  }

  /** Closes the connection at once: the server rolls the transaction back. */
  abandon(): void {
    this.thread.post({ op: 'release', session: this.session, discard: true });
  }

  /** Calls `listener` once with the session's first failure (at once if there was one); returns a remover. */
  onFailure(listener: (err: Error) => void): () => void {
    if (this.failure) {
      listener(this.failure);
      return () => undefined;
    }
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  /** Records the session's failure (from the thread, unasked). */
  fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const l of [...this.failureListeners]) l(err);
    this.failureListeners.clear();
  }

  private async request(req: NumberedRequest, transfer?: ArrayBuffer[]): Promise<Answer> {
    const reply = await this.thread.request(req, transfer);
    if (reply.failure) {
      const f = reply.failure;
      if (f.code) throw new AppError(f.code, f.message, f.details);
      if (f.db && f.db.code !== undefined) throw deserializeDbError(f.db);
      throw new Error(`ingest thread: ${f.message}`);
    }
    return reply;
  }

  private async send(req: NumberedRequest, transfer?: ArrayBuffer[]): Promise<Uint8Array> {
    const reply = await this.request(req, transfer);
    if (!('rows' in reply) || reply.rows === undefined) throw new Error('ingest thread: no tally');
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
    this.thread.open.delete(this.session);
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
    /**
     * The database of the uploads' transactions (see the module comment) and, per thread, its
     * connections at most: uploads at once (the upload slots) / threads, rounded up, as each upload
     * goes to the thread with the fewest.
     */
    private readonly db?: IngestThreadDatabase,
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
      thread = new IngestThread(this.nice, this.db, (dead) => {
        if (this.threads[slot] === dead) this.threads[slot] = undefined;
      });
      this.threads[slot] = thread;
    }
    const session = ++this.session;
    thread.sessions++;
    thread.post({ op: 'open', session, options, maxLineBytes });
    const v = new ThreadedValidator(thread, session, () => ++this.id);
    thread.open.set(session, v);
    return v;
  }

  /** True when uploads' transactions run in the threads (a database was given). */
  get hasDatabase(): boolean {
    return this.db !== undefined;
  }

  async close(): Promise<void> {
    const running = this.threads.filter((t): t is IngestThread => t !== undefined);
    this.threads.fill(undefined);
    await Promise.all(running.map((t) => t.worker.terminate()));
  }
}
