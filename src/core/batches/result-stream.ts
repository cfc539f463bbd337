import type { Queryable } from '../db/queryable';
import { encodeResultCursor } from './cursors';
import { encodeResultLines } from './result-line-encoder';
import type { ResultTextRow } from './result-line-encoder';
import { resultStatusCondition } from './results';
import type { ResultScan } from './results';

/**
 * The NDJSON results stream: keyset pages over (batch_id, seq), each read with the jsonb columns
 * as text and encoded straight into one Buffer (result-line-encoder.ts), written with backpressure.
 * One page is held at a time; pages are sized by bytes, so large results (translations, summaries)
 * make smaller pages instead of more memory.
 */

/** Most rows in one page. */
export const STREAM_PAGE_MAX_ROWS = 5_000;
/** Fewest rows in one page (when rows are large). */
export const STREAM_PAGE_MIN_ROWS = 10;
/** Rows of the first page, before the size of a row is known (a few MB of the largest results). */
export const STREAM_FIRST_PAGE_ROWS = 100;
/**
 * Target size of one page of NDJSON, bytes (default 2 MiB). Also the most a limited stream buffers
 * before its first byte to learn its `X-Next-Cursor` without a separate boundary query.
 */
export const STREAM_PAGE_BYTES = 2 * 1024 * 1024;

/** Writes a chunk; resolves when the consumer can take more (backpressure). */
export type ChunkWriter = (chunk: Uint8Array) => Promise<void>;

/** An opened results stream: its cursor is known before the first byte is written. */
export interface ResultStream {
  /** Cursor after the last line of the stream when more results follow (limited streams only). */
  nextCursor: string | null;
  /** Writes the lines; resolves with the number of lines written. Stops early once `signal` aborts. */
  writeTo(write: ChunkWriter, signal?: AbortSignal): Promise<number>;
}

/** Rows of the next page after a page of `bytes` bytes and `rows` rows. */
export function nextPageRows(bytes: number, rows: number): number {
  if (rows === 0 || bytes === 0) return STREAM_PAGE_MAX_ROWS;
  const fit = Math.floor(STREAM_PAGE_BYTES / (bytes / rows));
  return Math.max(STREAM_PAGE_MIN_ROWS, Math.min(STREAM_PAGE_MAX_ROWS, fit));
}

/** Up to `limit` result rows with seq > `afterSeq` (and <= `maxSeq`), jsonb columns as text. */
async function readResultText(
  q: Queryable,
  scan: ResultScan,
  afterSeq: number,
  limit: number,
  maxSeq?: number,
): Promise<ResultTextRow[]> {
  const status = resultStatusCondition(scan.statuses);
  const params: unknown[] = [scan.batchId, status.param, afterSeq, limit];
  let bound = '';
  if (maxSeq !== undefined) {
    params.push(maxSeq);
    bound = ' AND seq <= $5';
  }
  const res = await q.query<ResultTextRow>(
    `SELECT seq, client_id, status, result::text AS result, error::text AS error, metadata::text AS metadata
       FROM documents
      WHERE batch_id = $1 AND ${status.sql} AND seq > $3${bound}
      ORDER BY seq LIMIT $4`,
    params,
  );
  return res.rows;
}

/**
 * The seq of the `count`-th result after `afterSeq`, when at least one more result follows it;
 * else null.
 */
async function boundarySeq(
  q: Queryable,
  scan: ResultScan,
  afterSeq: number,
  count: number,
): Promise<number | null> {
  const status = resultStatusCondition(scan.statuses);
  const res = await q.query<{ seq: number }>(
    `SELECT seq FROM documents
      WHERE batch_id = $1 AND ${status.sql} AND seq > $3
      ORDER BY seq OFFSET $4 LIMIT 2`,
    [scan.batchId, status.param, afterSeq, count - 1],
  );
  return res.rows.length === 2 ? (res.rows[0] as { seq: number }).seq : null;
}

/**
 * Streams results after `afterSeq` in pages through `write`, at most `maxLines` lines and up to
 * `maxSeq` when given. Returns the number of lines written.
 */
async function streamPages(
  q: Queryable,
  scan: ResultScan,
  write: ChunkWriter,
  from: { afterSeq: number; pageRows: number; maxLines: number; maxSeq?: number; signal?: AbortSignal },
): Promise<number> {
  let after = from.afterSeq;
  let pageRows = from.pageRows;
  let written = 0;
  for (;;) {
    if (from.signal?.aborted) return written;
    const want = Math.min(pageRows, from.maxLines - written);
    if (want <= 0) return written;
    const rows = await readResultText(q, scan, after, want, from.maxSeq);
    if (rows.length === 0) return written;
    const chunk = encodeResultLines(rows);
    await write(chunk);
    written += rows.length;
    if (rows.length < want) return written;
    after = (rows[rows.length - 1] as ResultTextRow).seq;
    pageRows = nextPageRows(chunk.length, rows.length);
  }
}

/**
 * Opens the results of `scan` as an NDJSON stream: the whole set, or at most `limit` lines with a
 * `nextCursor` when more follow. The first page is read before this resolves, so a failing read is
 * still an error response rather than a cut stream.
 *
 * A limited stream must know its cursor before its first byte. It reads pages ahead until it has
 * `limit` lines plus one row past them (which says whether a next page exists), holding at most
 * about STREAM_PAGE_BYTES; a limit that would take more falls back to one boundary query (an
 * `OFFSET` over seq) for the remainder and streams that part page by page.
 */
export async function openResultStream(
  q: Queryable,
  scan: ResultScan,
  limit?: number,
): Promise<ResultStream> {
  const maxLines = limit ?? Number.MAX_SAFE_INTEGER;
  const pages: { chunk: Uint8Array; lines: number }[] = [];
  let buffered = 0;
  let have = 0;
  let after = scan.afterSeq;
  let pageRows = STREAM_FIRST_PAGE_ROWS;
  /** The pages read so far, then (with `rest`) the pages after them. */
  const stream = (nextCursor: string | null, rest?: { maxLines: number; maxSeq?: number }): ResultStream => {
    const from = { afterSeq: after, pageRows };
    return {
      nextCursor,
      async writeTo(write, signal) {
        let written = 0;
        for (const page of pages.splice(0)) {
          if (signal?.aborted) return written;
          await write(page.chunk);
          written += page.lines;
        }
        if (!rest) return written;
        return written + (await streamPages(q, scan, write, { ...from, ...rest, signal }));
      },
    };
  };
  for (;;) {
    const left = maxLines - have;
    // A limited stream reads one row past its end: whether it comes says if a next page exists.
    const fetch = limit === undefined ? pageRows : Math.min(pageRows, left + 1);
    const rows = await readResultText(q, scan, after, fetch);
    const take = Math.min(rows.length, left);
    if (take > 0) {
      const chunk = encodeResultLines(rows, 0, take);
      pages.push({ chunk, lines: take });
      buffered += chunk.length;
      have += take;
      after = (rows[take - 1] as ResultTextRow).seq;
      pageRows = nextPageRows(chunk.length, take);
    }
    if (rows.length > left) return stream(encodeResultCursor(after, scan.batchId));
    if (rows.length < fetch) return stream(null);
    if (limit === undefined) return stream(null, { maxLines: Number.MAX_SAFE_INTEGER });
    if (buffered + pageRows * (buffered / have) > STREAM_PAGE_BYTES) break;
  }
  // Too much to hold before the first byte: find where the stream ends, then stream the rest.
  const rest = maxLines - have;
  const boundary = await boundarySeq(q, scan, after, rest);
  return stream(boundary === null ? null : encodeResultCursor(boundary, scan.batchId), {
    maxLines: rest,
    maxSeq: boundary ?? undefined,
  });
}
