import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { AppError } from '../errors';

/**
 * Where the documents of a submission come from. Items arrive in arrays (one per body chunk) so the
 * per-document path stays synchronous. Consuming the source also feeds the request hash used for
 * Idempotency-Key comparison, so `digest()` is valid once the source is exhausted or drained.
 */
export type DocumentItem =
  /** One NDJSON line, still to be parsed. */
  | { line: number; json: string }
  /** One element of a JSON `documents` array, already parsed. */
  | { line: number; value: unknown }
  /** A line that cannot be a document (too long, empty). */
  | { line: number; error: string; field?: string };

export interface DocumentSource extends AsyncIterable<DocumentItem[]> {
  /** The body's bytes before line splitting, where the source is a streamed NDJSON body (see RawNdjson). */
  readonly raw?: RawNdjson;
  /** Reads (and hashes) the rest of the body without keeping it, e.g. to answer an idempotent replay. */
  drain(): Promise<void>;
  /** SHA-256 of the whole request (batch fields + body). Valid after the source is exhausted or drained. */
  digest(): string;
  /**
   * Known before reading when the whole body is in memory already (the JSON form): the number of
   * items and the body's size in bytes. Absent for a streamed body.
   */
  readonly size?: { items: number; bytes: number };
}

export interface NdjsonSourceOptions {
  /** Maximum body bytes: beyond it reading stops with 413 PAYLOAD_TOO_LARGE. */
  maxBytes: number;
  /** Longest line kept; a longer line becomes an error item and is skipped without buffering it. */
  maxLineBytes: number;
  /** Bytes hashed before the body (the normalised batch fields), so a different query is a different request. */
  hashPrefix: string;
}

function tooLarge(maxBytes: number): AppError {
  return new AppError('PAYLOAD_TOO_LARGE', `Request body exceeds ${maxBytes} bytes.`);
}

const NL = 0x0a;
const CR = 0x0d;

/**
 * Splits NDJSON bytes into line items, chunk by chunk: splits on `\n` (a trailing `\r` is dropped).
 * Blank lines at the end of the body are ignored; a blank line followed by more documents is an error
 * item with its line number. Memory: at most one partial line (`maxLineBytes`); a longer line becomes
 * an error item and is skipped without buffering it. Synchronous, so that it can run in an ingest
 * thread (ingest-threads.ts) as well as in `ndjsonSource`.
 */
export class NdjsonSplitter {
  private line = 0;
  // Partial line carried between chunks.
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private skippingLongLine = false;
  // Blank lines not yet known to be trailing: their count and the first few line numbers.
  private blankCount = 0;
  private readonly blankLines: number[] = [];

  constructor(private readonly maxLineBytes: number) {}

  private emitLine(out: DocumentItem[], buf: Buffer, start: number, end: number, pre: Buffer[] | null): void {
    const line = ++this.line;
    if (this.skippingLongLine) {
      this.skippingLongLine = false;
      out.push({ line, error: `line is longer than ${this.maxLineBytes} bytes` });
      return;
    }
    if (end > start && buf[end - 1] === CR) end--;
    let text: string;
    let raw: Buffer;
    if (pre && pre.length > 0) {
      raw = Buffer.concat([...pre, buf.subarray(start, end)]);
      text = raw.toString('utf8');
      if (text.endsWith('\r')) text = text.slice(0, -1);
    } else {
      raw = buf.subarray(start, end);
      text = buf.toString('utf8', start, end);
    }
    if (text.trim() === '') {
      this.blankCount++;
      if (this.blankLines.length < 100) this.blankLines.push(line);
      return;
    }
    if (this.blankCount > 0) {
      for (const l of this.blankLines)
        out.push({ line: l, error: 'empty line (blank lines are allowed only at the end)' });
      this.blankCount = 0;
      this.blankLines.length = 0;
    }
    // Invalid UTF-8 decodes to U+FFFD: refuse the line rather than store silently altered text.
    if (text.includes('\uFFFD') && !isUtf8(raw)) {
      out.push({ line, error: 'is not valid UTF-8' });
      return;
    }
    out.push({ line, json: text });
  }

  /** The items of the lines that `chunk` completes (the chunk is not kept: its tail is copied). */
  push(chunk: Buffer): DocumentItem[] {
    const out: DocumentItem[] = [];
    let pos = 0;
    for (;;) {
      // A run of empty lines (a blank-line bomb, or trailing newlines) is counted in a tight loop, without
      // a string per line.
      if (this.carryBytes === 0 && !this.skippingLongLine && chunk[pos] === NL) {
        let end = pos;
        while (end < chunk.length && chunk[end] === NL) end++;
        const n = end - pos;
        for (let i = 0; i < n && this.blankLines.length < 100; i++) this.blankLines.push(this.line + 1 + i);
        this.line += n;
        this.blankCount += n;
        pos = end;
        continue;
      }
      const nl = chunk.indexOf(NL, pos);
      if (nl === -1) break;
      if (this.carryBytes + (nl - pos) > this.maxLineBytes) this.skippingLongLine = true;
      this.emitLine(out, chunk, pos, nl, this.carryBytes > 0 && !this.skippingLongLine ? this.carry : null);
      this.carry = [];
      this.carryBytes = 0;
      pos = nl + 1;
    }
    if (pos < chunk.length) {
      const rest = chunk.length - pos;
      if (this.skippingLongLine || this.carryBytes + rest > this.maxLineBytes) {
        this.skippingLongLine = true;
        this.carry = [];
        this.carryBytes += rest;
      } else {
        // Copy: the chunk itself may be reused by the stream.
        this.carry.push(Buffer.from(chunk.subarray(pos)));
        this.carryBytes += rest;
      }
    }
    return out;
  }

  /** The item of the last line when the body does not end with a newline (or none). */
  end(): DocumentItem[] {
    const out: DocumentItem[] = [];
    if (this.carryBytes > 0 || this.skippingLongLine) {
      this.emitLine(out, Buffer.alloc(0), 0, 0, this.skippingLongLine ? null : this.carry);
      this.carry = [];
      this.carryBytes = 0;
    }
    return out;
  }
}

/**
 * The raw side of an NDJSON source, for a consumer that splits the lines elsewhere (an ingest
 * thread): the body's chunks, counted against `maxBytes` and hashed like the items, and the
 * `maxLineBytes` to split them with ({@link NdjsonSplitter}). Use either this or the items, not both.
 */
export interface RawNdjson {
  maxLineBytes: number;
  chunks(): AsyncGenerator<Buffer>;
}

/**
 * Streams an NDJSON body: counts bytes (413 beyond `maxBytes`), hashes every byte, and splits it into
 * line items with an {@link NdjsonSplitter}. Memory: one body chunk plus at most one partial line.
 */
export function ndjsonSource(
  body: AsyncIterable<Buffer | string>,
  opts: NdjsonSourceOptions,
): DocumentSource & { raw: RawNdjson } {
  const hash: Hash = createHash('sha256').update(opts.hashPrefix);
  let bytes = 0;
  let exhausted = false;
  let digested: string | undefined;
  let iterator: AsyncIterator<Buffer | string> | undefined;

  const next = async (): Promise<Buffer | null> => {
    iterator ??= body[Symbol.asyncIterator]();
    const r = await iterator.next();
    if (r.done) {
      exhausted = true;
      return null;
    }
    const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    bytes += chunk.length;
    if (bytes > opts.maxBytes) throw tooLarge(opts.maxBytes);
    hash.update(chunk);
    return chunk;
  };

  const items = async function* (): AsyncGenerator<DocumentItem[]> {
    const splitter = new NdjsonSplitter(opts.maxLineBytes);
    for (;;) {
      const chunk = await next();
      if (chunk === null) break;
      const out = splitter.push(chunk);
      if (out.length > 0) yield out;
    }
    const out = splitter.end();
    if (out.length > 0) yield out;
  };

  return {
    [Symbol.asyncIterator]: () => items(),
    raw: {
      maxLineBytes: opts.maxLineBytes,
      async *chunks() {
        for (;;) {
          const chunk = await next();
          if (chunk === null) return;
          yield chunk;
        }
      },
    },
    async drain() {
      while (!exhausted) await next();
    },
    digest() {
      digested ??= hash.digest('hex');
      return digested;
    },
  };
}

/**
 * A source over an already-parsed `documents` array (JSON form); `digest` is computed by the caller.
 * `bodyBytes`: the size of the body it was parsed from (default: measured on first use).
 */
export function arraySource(documents: unknown[], digest: string, bodyBytes?: number): DocumentSource {
  let bytes = bodyBytes;
  return {
    size: {
      items: documents.length,
      get bytes() {
        bytes ??= Buffer.byteLength(JSON.stringify(documents));
        return bytes;
      },
    },
    async *[Symbol.asyncIterator]() {
      const PAGE = 1000;
      for (let i = 0; i < documents.length; i += PAGE) {
        yield documents.slice(i, i + PAGE).map((value, j) => ({ line: i + j + 1, value }));
      }
    },
    async drain() {},
    digest: () => digest,
  };
}
