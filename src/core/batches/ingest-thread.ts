import { once } from 'node:events';
import { setPriority } from 'node:os';
import { finished } from 'node:stream/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { Pool } from 'pg';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { AppError } from '../errors';
import { NdjsonSplitter } from './document-source';
import type { DocumentItem } from './document-source';
import { DocumentValidator } from './document-validator';
import { INGEST_APPLICATION_NAME, serializeDbError } from './ingest-threads';
import type { IngestReply, IngestRequest, IngestThreadData } from './ingest-threads';

/**
 * An ingest thread (see ingest-threads.ts): parses, checks and encodes the documents of the uploads
 * the API's main thread hands it, one DocumentValidator per upload. With a database configured, an
 * upload's transaction runs on this thread's own connection: the main thread sends its statements
 * (`sql`), starts the COPY (`copy`), and from then on the rows of the valid documents go from here
 * straight to Postgres; the replies carry only the validator's tally. Without a COPY open, replies
 * carry the rows. Requests of one upload are handled one after another, in order.
 */
const port = parentPort;
if (!port) throw new Error('ingest-thread.ts runs as a worker thread');

// Linux nice values are per thread (setpriority on thread id 0 is this thread): a lower priority than
// the event loop's, so that when the cores are busy the event loop (reads, health checks) runs first.
const { nice, db } = workerData as IngestThreadData;
if (nice > 0) {
  try {
    setPriority(0, nice);
  } catch {
    // not permitted here: the thread runs at the process's priority
  }
}

/** How long a failed request waits for the connection's own error to arrive (see `handle`). */
const FAILURE_SETTLE_MS = 20;

/** Bytes of COPY rows gathered before one write to the connection (each write is a socket write). */
const COPY_WRITE_BYTES = 64 * 1024;

let pool: Pool | undefined;
function dbPool(): Pool {
  if (!db) throw new Error('this ingest thread has no database configured');
  if (!pool) {
    pool = new Pool({
      connectionString: db.url,
      // Named, so that operators see the uploads' connections in pg_stat_activity.
      application_name: INGEST_APPLICATION_NAME,
      max: db.connections,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 10_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    // An idle connection cut (server restart) must not end the thread; the next upload reconnects.
    pool.on('error', () => undefined);
  }
  return pool;
}

interface Session {
  id: number;
  validator: DocumentValidator;
  splitter?: NdjsonSplitter;
  client?: PoolClient;
  onClientError?: (err: Error) => void;
  /** The first error of the connection or the COPY, also sent to the main thread unasked. */
  failure?: Error;
  copy?: NodeJS.WritableStream & NodeJS.EventEmitter;
  pending: Buffer[];
  pendingBytes: number;
  /** This session's requests, one after another. */
  queue: Promise<void>;
  /** The transaction was abandoned or the session closed: no new connection is taken. */
  ended?: boolean;
}

const sessions = new Map<number, Session>();

function fail(s: Session, err: Error): void {
  if (s.failure) return;
  s.failure = err;
  port?.postMessage({ session: s.id, connectionError: serializeDbError(err) } satisfies IngestReply);
}

async function connection(s: Session): Promise<PoolClient> {
  if (s.failure) throw s.failure;
  if (s.client) return s.client;
  if (s.ended) throw new Error(`ingest session ${s.id}: its transaction has ended`);
  const client = await dbPool().connect();
  // A checked-out client has no 'error' listener of the pool: without this one, a connection dropped
  // mid-transaction would be an uncaught exception. The failure reaches the upload through `fail`.
  s.onClientError = (err: Error): void => fail(s, err);
  client.on('error', s.onClientError);
  s.client = client;
  return client;
}

/** Returns the session's connection to the pool; `discard`: closes it (the server rolls back). */
function release(s: Session, discard: boolean): void {
  const c = s.client;
  if (!c) return;
  s.client = undefined;
  s.copy = undefined;
  // The error listener stays on a discarded connection: it may still report the cut.
  if (discard || s.failure) c.release(new Error('batch upload ended: transaction abandoned'));
  else {
    if (s.onClientError) c.off('error', s.onClientError);
    c.release();
  }
}

/** Writes the gathered rows to the COPY, waiting for drain (or failing with the COPY's error). */
async function flush(s: Session): Promise<void> {
  const copy = s.copy;
  if (!copy || s.pendingBytes === 0) return;
  const data = s.pending.length === 1 ? (s.pending[0] as Buffer) : Buffer.concat(s.pending, s.pendingBytes);
  s.pending = [];
  s.pendingBytes = 0;
  if (s.failure) throw s.failure;
  if (copy.write(data)) return;
  const ac = new AbortController();
  try {
    await Promise.race([
      once(copy, 'drain', { signal: ac.signal }),
      once(copy, 'error', { signal: ac.signal }).then(([err]) => Promise.reject(err as Error)),
    ]);
  } finally {
    ac.abort();
  }
}

async function handle(
  s: Session,
  req: Exclude<IngestRequest, { op: 'open' } | { op: 'close' } | { op: 'release'; discard: true }>,
): Promise<void> {
  if (req.op === 'release') {
    release(s, false);
    return;
  }
  let reply: IngestReply;
  let transfer: ArrayBuffer[] | undefined;
  try {
    if (req.op === 'sql') {
      const client = await connection(s);
      const res = await client.query(req.text, req.values);
      reply = { id: req.id, result: { rows: res.rows as unknown[], rowCount: res.rowCount } };
    } else if (req.op === 'copy') {
      const client = await connection(s);
      const copy = client.query(copyFrom(req.sql)) as unknown as NodeJS.WritableStream & NodeJS.EventEmitter;
      copy.on('error', (err: Error) => fail(s, err));
      s.copy = copy;
      reply = { id: req.id, result: { rows: [], rowCount: null } };
    } else if (req.op === 'copy-end') {
      const copy = s.copy;
      if (!copy) throw new Error(`ingest session ${s.id} has no COPY open`);
      await flush(s);
      // pg-copy-streams drops its connection when the server fails the COPY: end() would throw.
      if (s.failure) throw s.failure;
      copy.end();
      await finished(copy);
      if (s.failure) throw s.failure;
      s.copy = undefined;
      reply = { id: req.id, result: { rows: [], rowCount: null } };
    } else {
      const v = s.validator;
      const errorsBefore = v.errors.length;
      let items: DocumentItem[];
      if (req.op === 'accept') items = req.items;
      else if (!s.splitter) throw new Error(`ingest session ${s.id} takes no raw bytes`);
      else if (req.op === 'bytes') {
        const b = req.bytes;
        items = s.splitter.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
      } else items = s.splitter.end();
      const text = items.length > 0 ? v.accept(items) : '';
      let rows: Uint8Array | undefined;
      if (s.copy) {
        // Written here; nothing once a document was invalid (the main thread abandons the transaction).
        if (v.ok && text.length > 0) {
          const buf = Buffer.from(text, 'utf8');
          s.pending.push(buf);
          s.pendingBytes += buf.length;
          if (s.pendingBytes >= COPY_WRITE_BYTES) await flush(s);
        }
      } else {
        // A buffer of its own (not the shared pool of Buffer.from), so that it can be transferred.
        const own = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
        own.write(text, 'utf8');
        transfer = [own.buffer];
        rows = own;
      }
      reply = {
        id: req.id,
        rows: rows ?? new Uint8Array(0),
        count: v.count,
        errorCount: v.errorCount,
        duplicateCount: v.duplicateCount,
        // Only the details this request added: the main thread appends them.
        newErrors: v.errors.length > errorsBefore ? v.errors.slice(errorsBefore) : undefined,
      };
    }
  } catch (err) {
    let e = err as Error;
    if (!(err instanceof AppError) && s.client && !s.failure) {
      // A write to (or the end of) a COPY that the server has just failed can fail first with the
      // stream's own error (destroyed, premature close); the server's error, whose SQLSTATE decides
      // the answer (53100 disk full -> 503), follows within a turn or two.
      await new Promise((resolve) => setTimeout(resolve, FAILURE_SETTLE_MS));
    }
    if (!(err instanceof AppError) && s.failure) e = s.failure;
    reply =
      e instanceof AppError
        ? { id: req.id, failure: { code: e.code, message: e.message, details: e.details } }
        : { id: req.id, failure: { message: e.message, db: serializeDbError(e) } };
  }
  port?.postMessage(reply, transfer);
}

port.on('message', (req: IngestRequest) => {
  if (req.op === 'open') {
    sessions.set(req.session, {
      id: req.session,
      validator: new DocumentValidator(req.options),
      splitter: req.maxLineBytes !== undefined ? new NdjsonSplitter(req.maxLineBytes) : undefined,
      pending: [],
      pendingBytes: 0,
      queue: Promise.resolve(),
    });
    return;
  }
  const s = sessions.get(req.session);
  if (!s) {
    if ('id' in req && req.id !== undefined)
      port.postMessage({
        id: req.id,
        failure: { message: `ingest session ${req.session} is not open` },
      } satisfies IngestReply);
    return;
  }
  if (req.op === 'close' || (req.op === 'release' && req.discard)) {
    // At once, not after the requests queued before: closing the connection rolls the transaction
    // back now (a write waiting for the server fails; its reply is not awaited).
    s.ended = true;
    release(s, true);
    if (req.op === 'close') sessions.delete(s.id);
    return;
  }
  s.queue = s.queue.then(() => handle(s, req)).catch(() => undefined);
});
