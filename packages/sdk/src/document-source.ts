import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { BodySource } from './transport';
import type { DocumentInput } from './types';

/**
 * Where the documents of a create come from, and how each kind is sent:
 * - an array: the JSON form (parsed in memory by the server; keep it for small batches);
 * - a file path (`string` or `{path}`) of NDJSON: streamed as is with the NDJSON form;
 * - a Node `Readable` or web `ReadableStream` of NDJSON bytes: streamed as is (one-shot);
 * - an (async) iterable of documents: serialized to NDJSON while streaming (one-shot);
 * - a function returning any of the streamed kinds: called once per attempt, so a failed
 *   upload can be sent again (use it for large generated inputs that should survive retries).
 * Nothing but the array form ever holds the whole input in memory.
 */
export type StreamedDocuments =
  | string
  | { path: string }
  | Readable
  | ReadableStream<Uint8Array>
  | Iterable<DocumentInput>
  | AsyncIterable<DocumentInput>;

export type DocumentSource = DocumentInput[] | StreamedDocuments | (() => StreamedDocuments);

export interface UploadProgress {
  /** Request body bytes handed to the connection so far. */
  bytes: number;
  /** Documents sent so far (newline count for raw NDJSON bytes). */
  documents: number;
}

/** Target size of one chunk of serialized NDJSON, bytes. */
const CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

function isNodeReadable(x: unknown): x is Readable {
  return (
    x instanceof Readable ||
    (typeof x === 'object' && x !== null && typeof (x as Readable).pipe === 'function')
  );
}
function isWebStream(x: unknown): x is ReadableStream<Uint8Array> {
  return typeof x === 'object' && x !== null && typeof (x as ReadableStream).getReader === 'function';
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new TypeError('a document stream must yield bytes or strings (NDJSON)');
}

/** Byte chunks of NDJSON from one opened streamed source. */
async function* ndjsonChunks(src: StreamedDocuments): AsyncGenerator<Uint8Array, void, undefined> {
  if (
    typeof src === 'string' ||
    (typeof src === 'object' && src !== null && 'path' in src && !isNodeReadable(src))
  ) {
    const path = typeof src === 'string' ? src : src.path;
    for await (const chunk of createReadStream(path, { highWaterMark: CHUNK_BYTES })) yield toBytes(chunk);
    return;
  }
  if (isNodeReadable(src)) {
    for await (const chunk of src) yield toBytes(chunk);
    return;
  }
  if (isWebStream(src)) {
    const reader = src.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield toBytes(value);
      }
    } finally {
      reader.releaseLock();
    }
  }
  let buf: string[] = [];
  let size = 0;
  for await (const doc of src as AsyncIterable<DocumentInput>) {
    const line = JSON.stringify(doc) + '\n';
    buf.push(line);
    size += line.length;
    if (size >= CHUNK_BYTES) {
      yield Buffer.from(buf.join(''), 'utf8');
      buf = [];
      size = 0;
    }
  }
  if (buf.length > 0) yield Buffer.from(buf.join(''), 'utf8');
}

function countNewlines(bytes: Uint8Array): number {
  let n = 0;
  for (let i = bytes.indexOf(NEWLINE); i !== -1; i = bytes.indexOf(NEWLINE, i + 1)) n++;
  return n;
}

/**
 * The request body of a create. Arrays become the JSON form; everything else the NDJSON form,
 * streamed through a ReadableStream that reports progress as the connection pulls bytes.
 */
export function createBody(
  source: DocumentSource,
  fields: Record<string, unknown>,
  onProgress?: (p: UploadProgress) => void,
): { form: 'json' | 'ndjson'; body: BodySource } {
  if (Array.isArray(source)) {
    const json = JSON.stringify({ ...fields, documents: source });
    return {
      form: 'json',
      body: { contentType: 'application/json', open: () => json, canReopen: () => true },
    };
  }
  const factory = typeof source === 'function' ? source : undefined;
  const fileLike =
    typeof source === 'string' || (typeof source === 'object' && 'path' in source && !isNodeReadable(source));
  const replayable = factory !== undefined || fileLike;
  let pulled = false;
  let sourceError: unknown;
  let oneShot: AsyncGenerator<Uint8Array, void, undefined> | undefined;

  const open = (): ReadableStream<Uint8Array> => {
    sourceError = undefined;
    let it: AsyncGenerator<Uint8Array, void, undefined>;
    if (replayable) it = ndjsonChunks(factory ? factory() : (source as StreamedDocuments));
    else it = oneShot ??= ndjsonChunks(source as StreamedDocuments);
    const progress: UploadProgress = { bytes: 0, documents: 0 };
    return new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          pulled = true;
          let step: IteratorResult<Uint8Array, void>;
          try {
            step = await it.next();
          } catch (err) {
            sourceError = err;
            throw err;
          }
          const { done, value } = step;
          if (done) {
            controller.close();
            return;
          }
          progress.bytes += value.byteLength;
          progress.documents += countNewlines(value);
          onProgress?.({ ...progress });
          controller.enqueue(value);
        },
        async cancel() {
          // A one-shot source nothing was read from stays usable for the next attempt.
          if (replayable || pulled) await it.return(undefined);
        },
      },
      { highWaterMark: 0 },
    );
  };
  return {
    form: 'ndjson',
    body: {
      contentType: 'application/x-ndjson',
      open,
      canReopen: () => replayable || !pulled,
      sourceError: () => sourceError,
    },
  };
}
