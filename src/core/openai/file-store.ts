import type { Pool, PoolClient } from 'pg';
import type { Queryable } from '../db/queryable';
import { randomId } from '../ids';
import { OpenAiError } from './openai-error';

/**
 * Files of the OpenAI-compatible Files API, stored in Postgres: a row in `openai_files` and the bytes
 * in `openai_file_parts`, in parts of about {@link PART_BYTES}, in order. An upload streams into parts
 * inside one transaction (a rejected or cut upload stores nothing); a download streams them out a few
 * parts at a time.
 */

/** Size of one stored part, bytes (the last part of a file is smaller). */
export const PART_BYTES = 1024 * 1024;
/** Parts read per query when streaming a file out. */
const PARTS_PER_READ = 4;

/** Purposes of stored files: uploaded batch input, or a batch's output and error files. */
export type OpenAiFilePurpose = 'batch' | 'batch_output';

/** OpenAI's File object. */
export interface OpenAiFileObject {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: OpenAiFilePurpose;
  status: 'processed';
  status_details: null;
}

export interface OpenAiFileRow {
  id: string;
  tenant_id: string;
  purpose: OpenAiFilePurpose;
  filename: string;
  bytes: string | number;
  created_at: Date;
}

const FILE_COLUMNS = 'id, tenant_id, purpose, filename, bytes, created_at';

/**
 * Files a client may see: not the output or error file of a batch that is being deleted
 * (`batches.deleted_at` set; its files go when the batch row does).
 */
const VISIBLE = `(batch_id IS NULL OR NOT EXISTS (
  SELECT 1 FROM batches b WHERE b.id = openai_files.batch_id AND b.deleted_at IS NOT NULL))`;

/** A new file id: `file-` + a millisecond timestamp and 14 random characters (base36). */
export function newFileId(): string {
  return `file-${Date.now().toString(36).padStart(10, '0')}${randomId(14)}`;
}

export function toFileObject(row: OpenAiFileRow): OpenAiFileObject {
  return {
    id: row.id,
    object: 'file',
    bytes: Number(row.bytes),
    created_at: Math.floor(row.created_at.getTime() / 1000),
    filename: row.filename,
    purpose: row.purpose,
    status: 'processed',
    status_details: null,
  };
}

export function fileNotFound(fileId: string, param: string | null = null): OpenAiError {
  return new OpenAiError('NOT_FOUND', `No such File object: ${fileId}`, param, 'not_found');
}

/** A tenant's file row, or null. */
export async function findFile(
  q: Queryable,
  tenantId: string,
  fileId: string,
): Promise<OpenAiFileRow | null> {
  const res = await q.query<OpenAiFileRow>(
    `SELECT ${FILE_COLUMNS} FROM openai_files WHERE id = $1 AND tenant_id = $2 AND ${VISIBLE}`,
    [fileId, tenantId],
  );
  return res.rows[0] ?? null;
}

/** A tenant's file; 404 when absent or another tenant's. */
export async function getFile(q: Queryable, tenantId: string, fileId: string): Promise<OpenAiFileObject> {
  const row = await findFile(q, tenantId, fileId);
  if (!row) throw fileNotFound(fileId);
  return toFileObject(row);
}

/** Deletes a tenant's file and its bytes; 404 when absent. */
export async function deleteFile(
  q: Queryable,
  tenantId: string,
  fileId: string,
): Promise<{ id: string; object: 'file'; deleted: true }> {
  const res = await q.query(`DELETE FROM openai_files WHERE id = $1 AND tenant_id = $2 AND ${VISIBLE}`, [
    fileId,
    tenantId,
  ]);
  if (res.rowCount === 0) throw fileNotFound(fileId);
  return { id: fileId, object: 'file', deleted: true };
}

export interface ListFilesOptions {
  /** 1..10,000, default 10,000 (OpenAI's bounds). */
  limit?: number;
  /** The id of the last file of the previous page. */
  after?: string;
  /** `desc` (newest first, the default) or `asc`. */
  order?: 'asc' | 'desc';
  purpose?: string;
}

/** OpenAI's cursor list: `after` is the last id of the previous page. */
export interface OpenAiList<T> {
  object: 'list';
  data: T[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** A tenant's files, keyset-paginated on (created_at, id). */
export async function listFiles(
  q: Queryable,
  tenantId: string,
  opts: ListFilesOptions = {},
): Promise<OpenAiList<OpenAiFileObject>> {
  const limit = opts.limit ?? 10_000;
  const desc = (opts.order ?? 'desc') === 'desc';
  const params: unknown[] = [tenantId];
  let where = `tenant_id = $1 AND ${VISIBLE}`;
  if (opts.purpose !== undefined) {
    params.push(opts.purpose);
    where += ` AND purpose = $${params.length}`;
  }
  if (opts.after !== undefined) {
    const after = await findFile(q, tenantId, opts.after);
    if (!after) throw fileNotFound(opts.after, 'after');
    params.push(after.created_at, after.id);
    where += ` AND (created_at, id) ${desc ? '<' : '>'} ($${params.length - 1}::timestamptz, $${params.length})`;
  }
  params.push(limit + 1);
  const dir = desc ? 'DESC' : 'ASC';
  const res = await q.query<OpenAiFileRow>(
    `SELECT ${FILE_COLUMNS} FROM openai_files WHERE ${where}
      ORDER BY created_at ${dir}, id ${dir} LIMIT $${params.length}`,
    params,
  );
  const data = res.rows.slice(0, limit).map(toFileObject);
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: res.rows.length > limit,
  };
}

/** The bytes of a file, part by part (a few parts per query, so memory stays at a few MiB). */
export async function* readFileBytes(q: Queryable, fileId: string): AsyncGenerator<Buffer> {
  let after = -1;
  for (;;) {
    const res = await q.query<{ part: number; data: Buffer }>(
      `SELECT part, data FROM openai_file_parts WHERE file_id = $1 AND part > $2 ORDER BY part LIMIT $3`,
      [fileId, after, PARTS_PER_READ],
    );
    for (const row of res.rows) yield row.data;
    if (res.rows.length < PARTS_PER_READ) return;
    after = (res.rows[res.rows.length - 1] as { part: number }).part;
  }
}

/**
 * Writes a file's bytes as parts through a client inside an open transaction: `write` buffers and
 * inserts a part whenever {@link PART_BYTES} are collected, `end` inserts the rest and returns the size.
 */
export class PartWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private part = 0;
  bytes = 0;

  constructor(
    private readonly client: PoolClient,
    readonly fileId: string,
  ) {}

  async write(chunk: Buffer): Promise<void> {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.bytes += chunk.length;
    if (this.pendingBytes >= PART_BYTES) await this.flush();
  }

  async end(): Promise<number> {
    if (this.pendingBytes > 0) await this.flush();
    return this.bytes;
  }

  private async flush(): Promise<void> {
    const data = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    await this.client.query('INSERT INTO openai_file_parts (file_id, part, data) VALUES ($1, $2, $3)', [
      this.fileId,
      this.part++,
      data,
    ]);
  }
}

/**
 * One upload into the Files API: `begin` opens a transaction and inserts the file row, `write` stores
 * the bytes as they arrive, `finish` records the size and purpose and commits, `abort` rolls back (the
 * connection is discarded, so Postgres rolls back at once). Nothing is visible before `finish`.
 */
export class FileUpload {
  private client: PoolClient | undefined;
  private readonly writer: PartWriter;
  private readonly onClientError = (): void => undefined;

  private constructor(
    client: PoolClient,
    readonly id: string,
  ) {
    this.client = client;
    this.writer = new PartWriter(client, id);
    client.on('error', this.onClientError);
  }

  static async begin(pool: Pool, tenantId: string, filename: string): Promise<FileUpload> {
    const client = await pool.connect();
    const upload = new FileUpload(client, newFileId());
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO openai_files (id, tenant_id, purpose, filename) VALUES ($1, $2, 'batch', $3)`,
        [upload.id, tenantId, filename],
      );
      return upload;
    } catch (err) {
      upload.abort();
      throw err;
    }
  }

  get bytes(): number {
    return this.writer.bytes;
  }

  write(chunk: Buffer): Promise<void> {
    return this.writer.write(chunk);
  }

  async finish(purpose: OpenAiFilePurpose): Promise<OpenAiFileObject> {
    const client = this.client;
    if (!client) throw new Error('upload already ended');
    try {
      const bytes = await this.writer.end();
      const res = await client.query<OpenAiFileRow>(
        `UPDATE openai_files SET bytes = $2, purpose = $3 WHERE id = $1 RETURNING ${FILE_COLUMNS}`,
        [this.id, bytes, purpose],
      );
      await client.query('COMMIT');
      this.client = undefined;
      client.off('error', this.onClientError);
      client.release();
      return toFileObject(res.rows[0] as OpenAiFileRow);
    } catch (err) {
      this.abort();
      throw err;
    }
  }

  /** Ends the transaction by discarding the connection: nothing of the upload stays. Idempotent. */
  abort(): void {
    const client = this.client;
    if (!client) return;
    this.client = undefined;
    // The listener stays: the discarded connection may still report the cut.
    client.release(new Error('file upload abandoned'));
  }
}
