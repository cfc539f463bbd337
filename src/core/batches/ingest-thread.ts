import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { AppError } from '../errors';
import { NdjsonSplitter } from './document-source';
import type { DocumentItem } from './document-source';
import { DocumentValidator } from './document-validator';
import type { IngestReply, IngestRequest, IngestThreadData } from './ingest-threads';

/**
 * An ingest thread (see ingest-threads.ts): parses, checks and encodes the documents of the uploads
 * the API's main thread hands it, one DocumentValidator per upload, and answers each request with the
 * COPY rows and the validator's tally. Requests of one upload are answered in order.
 */
const port = parentPort;
if (!port) throw new Error('ingest-thread.ts runs as a worker thread');

// Linux nice values are per thread (setpriority on thread id 0 is this thread): a lower priority than
// the event loop's, so that when the cores are busy the event loop (reads, health checks) runs first.
const { nice } = workerData as IngestThreadData;
if (nice > 0) {
  try {
    setPriority(0, nice);
  } catch {
    // not permitted here: the thread runs at the process's priority
  }
}

const sessions = new Map<number, { validator: DocumentValidator; splitter?: NdjsonSplitter }>();

port.on('message', (req: IngestRequest) => {
  if (req.op === 'open') {
    sessions.set(req.session, {
      validator: new DocumentValidator(req.options),
      splitter: req.maxLineBytes !== undefined ? new NdjsonSplitter(req.maxLineBytes) : undefined,
    });
    return;
  }
  if (req.op === 'close') {
    sessions.delete(req.session);
    return;
  }
  const session = sessions.get(req.session);
  const v = session?.validator;
  let reply: IngestReply;
  let transfer: ArrayBuffer[] | undefined;
  if (!session || !v) {
    reply = { id: req.id, failure: { message: `ingest session ${req.session} is not open` } };
  } else {
    try {
      const errorsBefore = v.errors.length;
      let items: DocumentItem[];
      if (req.op === 'accept') items = req.items;
      else if (!session.splitter) throw new Error(`ingest session ${req.session} takes no raw bytes`);
      else if (req.op === 'bytes') {
        const b = req.bytes;
        items = session.splitter.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
      } else items = session.splitter.end();
      const text = items.length > 0 ? v.accept(items) : '';
      // A buffer of its own (not the shared pool of Buffer.from), so that it can be transferred.
      const rows = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
      rows.write(text, 'utf8');
      transfer = [rows.buffer];
      reply = {
        id: req.id,
        rows,
        count: v.count,
        errorCount: v.errorCount,
        duplicateCount: v.duplicateCount,
        // Only the details this request added: the main thread appends them.
        newErrors: v.errors.length > errorsBefore ? v.errors.slice(errorsBefore) : undefined,
      };
    } catch (err) {
      reply =
        err instanceof AppError
          ? { id: req.id, failure: { code: err.code, message: err.message, details: err.details } }
          : { id: req.id, failure: { message: (err as Error).message } };
    }
  }
  port.postMessage(reply, transfer);
});
