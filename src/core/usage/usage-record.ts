import { escapeLiteral } from 'pg';
import type { Queryable } from '../db/queryable';

/**
 * Writes of `usage_daily` (usage per tenant, UTC day, task and model). They happen inside the
 * transactions that change what they count, so usage follows the rows exactly and is never counted
 * twice by a retried write: a batch's creation (`batches`, `documents_submitted`) and a write-back
 * of results (`documents_completed`, `documents_failed`, `input_characters`, `input_tokens`). Rows
 * are upserted in key order after the batch rows are locked, so concurrent writers never deadlock;
 * the table has no link to `batches`, so usage outlives deleted batches.
 */

/** The UTC day of the transaction, as Postgres computes it. */
export const USAGE_DAY_SQL = `(now() AT TIME ZONE 'UTC')::date`;

/**
 * The statement (no parameters, so it can join the COMMIT round trip) that counts a created batch in
 * `usage_daily`. It runs last in the creating transaction, after the per-tenant cap lock (which
 * already serializes a tenant's commits), so the usage row adds no wait of its own.
 */
export function submissionUsageSql(batchId: string): string {
  return `INSERT INTO usage_daily (tenant_id, day, task, model, batches, documents_submitted)
SELECT tenant_id, ${USAGE_DAY_SQL}, task, model, 1, total FROM batches WHERE id = ${escapeLiteral(batchId)}
ON CONFLICT (tenant_id, day, task, model) DO UPDATE SET
  batches = usage_daily.batches + 1,
  documents_submitted = usage_daily.documents_submitted + EXCLUDED.documents_submitted,
  updated_at = now()`;
}

/** What a write-back processed for one tenant, task and model. */
export interface ProcessedUsage {
  tenantId: string;
  /** The tenant's name (for metrics labels). */
  tenantName: string;
  task: string;
  model: string;
  completed: number;
  failed: number;
  characters: number;
  tokens: number;
}

/** Adds processed documents to today's usage rows (inside the write-back transaction). */
export async function recordProcessedUsage(q: Queryable, usage: readonly ProcessedUsage[]): Promise<void> {
  const rows = usage
    .filter((u) => u.completed + u.failed > 0)
    .sort((a, b) =>
      a.tenantId !== b.tenantId
        ? a.tenantId < b.tenantId
          ? -1
          : 1
        : a.task !== b.task
          ? a.task < b.task
            ? -1
            : 1
          : a.model < b.model
            ? -1
            : a.model > b.model
              ? 1
              : 0,
    );
  if (rows.length === 0) return;
  await q.query(
    `INSERT INTO usage_daily (tenant_id, day, task, model, documents_completed, documents_failed,
       input_characters, input_tokens)
     SELECT u.tenant_id, ${USAGE_DAY_SQL}, u.task, u.model, u.completed, u.failed, u.characters, u.tokens
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
         WITH ORDINALITY AS u(tenant_id, task, model, completed, failed, characters, tokens, ord)
      ORDER BY u.ord
     ON CONFLICT (tenant_id, day, task, model) DO UPDATE SET
       documents_completed = usage_daily.documents_completed + EXCLUDED.documents_completed,
       documents_failed = usage_daily.documents_failed + EXCLUDED.documents_failed,
       input_characters = usage_daily.input_characters + EXCLUDED.input_characters,
       input_tokens = usage_daily.input_tokens + EXCLUDED.input_tokens,
       updated_at = now()`,
    [
      rows.map((u) => u.tenantId),
      rows.map((u) => u.task),
      rows.map((u) => u.model),
      rows.map((u) => u.completed),
      rows.map((u) => u.failed),
      rows.map((u) => u.characters),
      rows.map((u) => u.tokens),
    ],
  );
}

/** Unicode code points of `text` (what `MAX_DOC_CHARS` counts), without building an array. */
export function codePoints(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}
