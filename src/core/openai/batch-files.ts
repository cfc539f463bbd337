import type { PoolClient } from 'pg';
import type { Database } from '../db/database';
import type { Task } from '../models/types';
import { newFileId, PartWriter } from './file-store';
import type { OpenAiBatchRow } from './openai-batch-object';
import { RESPONSE_OBJECTS } from './request-lines';

/**
 * Writes the output and error files of a finished OpenAI batch, in OpenAI's line format:
 *
 * - output file, one line per completed document:
 *   `{"id", "custom_id", "response": {"status_code": 200, "request_id", "body": {"object", "model", "result"}}, "error": null}`
 *   (`result` is exactly the native API's result of the document);
 * - error file, one line per other document: a failed one as an HTTP-style error response
 *   (`status_code` 400 for a problem of its input, 500 when the model failed, `body.error` with the
 *   document's error code and message), an expired or cancelled one with `response: null` and
 *   `error: {"code": "batch_expired" | "batch_cancelled", "message"}`.
 *
 * Lines are in input order. A file that would be empty is not created (its id stays null). Both files
 * and the batch's `files_written_at` are written in one transaction under a per-batch advisory lock:
 * concurrent readers of a just-finished batch write them once, and a reader that finds the lock taken
 * reports the batch as `finalizing`.
 */

/** Documents read per query. */
const PAGE_ROWS = 2_000;

/** Document error codes that mean the model (not the input) failed: HTTP 500 in the error file. */
const SERVER_SIDE_CODES = new Set([
  'MODEL_LOAD_FAILED',
  'MODEL_INCOMPATIBLE',
  'PROCESSING_FAILED',
  'UNKNOWN_MODEL',
]);

interface DocRow {
  seq: number;
  client_id: string;
  status: string;
  result: unknown;
  error: { code: string; message: string } | null;
}

/** One output or error file being written (created on its first line). */
class LineFile {
  private writer: PartWriter | null = null;

  constructor(
    private readonly client: PoolClient,
    private readonly tenantId: string,
    private readonly batchId: string,
    private readonly filename: string,
  ) {}

  get id(): string | null {
    return this.writer?.fileId ?? null;
  }

  async add(line: string): Promise<void> {
    if (!this.writer) {
      const id = newFileId();
      await this.client.query(
        `INSERT INTO openai_files (id, tenant_id, purpose, filename, batch_id) VALUES ($1, $2, 'batch_output', $3, $4)`,
        [id, this.tenantId, this.filename, this.batchId],
      );
      this.writer = new PartWriter(this.client, id);
    }
    await this.writer.write(Buffer.from(line, 'utf8'));
  }

  async end(): Promise<void> {
    if (!this.writer) return;
    const bytes = await this.writer.end();
    await this.client.query('UPDATE openai_files SET bytes = $2 WHERE id = $1', [this.writer.fileId, bytes]);
  }
}

function errorLine(id: string, customId: string, requestId: string, doc: DocRow): Record<string, unknown> {
  if (doc.status === 'expired' || doc.status === 'cancelled') {
    return {
      id,
      custom_id: customId,
      response: null,
      error:
        doc.status === 'expired'
          ? {
              code: 'batch_expired',
              message: 'This request could not be executed before the completion window expired.',
            }
          : {
              code: 'batch_cancelled',
              message: 'This request was not executed because the batch was cancelled.',
            },
    };
  }
  const code = doc.error?.code ?? 'PROCESSING_FAILED';
  const server = SERVER_SIDE_CODES.has(code);
  return {
    id,
    custom_id: customId,
    response: {
      status_code: server ? 500 : 400,
      request_id: requestId,
      body: {
        error: {
          message: doc.error?.message ?? 'The request failed.',
          type: server ? 'server_error' : 'invalid_request_error',
          param: null,
          code,
        },
      },
    },
    error: null,
  };
}

/**
 * Writes the files of a finished batch unless they exist. Returns false when another request holds the
 * batch's lock (it is writing them now), true when they are written (now or before).
 */
export async function writeBatchFiles(db: Database, row: OpenAiBatchRow): Promise<boolean> {
  const batchId = row.batch_id;
  if (batchId === null) return true;
  const client = await db.pool.connect();
  const onClientError = (): void => undefined;
  client.on('error', onClientError);
  try {
    await client.query('BEGIN');
    const lock = await client.query<{ got: boolean; written: boolean }>(
      `SELECT pg_try_advisory_xact_lock(hashtext('openai-batch-files'), hashtext($1)) AS got,
              (SELECT files_written_at IS NOT NULL FROM openai_batches WHERE id = $1) AS written`,
      [row.id],
    );
    const state = lock.rows[0];
    if (!state?.got || state.written) {
      await client.query('ROLLBACK');
      client.off('error', onClientError);
      client.release();
      return !!state?.got;
    }
    const output = new LineFile(client, row.tenant_id, batchId, `${row.id}_output.jsonl`);
    const errors = new LineFile(client, row.tenant_id, batchId, `${row.id}_error.jsonl`);
    const body = { object: RESPONSE_OBJECTS[(row.b_task ?? 'classification') as Task], model: row.b_model };
    const suffix = batchId.replace(/^bat_/, '');
    let after = 0;
    for (;;) {
      const res = await client.query<DocRow>(
        `SELECT seq, client_id, status, result, error FROM documents
          WHERE batch_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
        [batchId, after, PAGE_ROWS],
      );
      let out = '';
      let err = '';
      for (const doc of res.rows) {
        const id = `batch_req_${suffix}_${doc.seq}`;
        const requestId = `req_${suffix}_${doc.seq}`;
        if (doc.status === 'completed') {
          out += `${JSON.stringify({
            id,
            custom_id: doc.client_id,
            response: { status_code: 200, request_id: requestId, body: { ...body, result: doc.result } },
            error: null,
          })}\n`;
        } else if (doc.status === 'failed' || doc.status === 'expired' || doc.status === 'cancelled') {
          err += `${JSON.stringify(errorLine(id, doc.client_id, requestId, doc))}\n`;
        }
      }
      if (out) await output.add(out);
      if (err) await errors.add(err);
      if (res.rows.length < PAGE_ROWS) break;
      after = (res.rows[res.rows.length - 1] as DocRow).seq;
    }
    await output.end();
    await errors.end();
    await client.query(
      `UPDATE openai_batches SET output_file_id = $2, error_file_id = $3, files_written_at = now() WHERE id = $1`,
      [row.id, output.id, errors.id],
    );
    await client.query('COMMIT');
    client.off('error', onClientError);
    client.release();
    return true;
  } catch (err) {
    // Discarding the connection rolls the transaction back at once.
    client.release(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
}
