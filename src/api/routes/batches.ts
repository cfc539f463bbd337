import { Router } from 'express';
import type { Request, Response } from 'express';
import {
  BATCH_STATUSES,
  cancelBatch,
  createBatch,
  deleteBatch,
  getBatch,
  getDocument,
  listBatches,
  openResultStream,
  openResults,
  parseResultStatuses,
  resultsPage,
  retryBatch,
  uploadsRejected,
} from '../../core/batches';
import type { BatchDeps, BatchStatus, ChunkWriter } from '../../core/batches';
import type { ApiConfig } from '../../core/config';
import { AppError } from '../../core/errors';
import { tenantBatchesCreated, tenantLabel } from '../../core/usage';
import { tenantOf } from '../auth';
import { wrapAsync } from '../http';
import { parseUpload } from './batch-upload';
import { allowQuery } from '../strict-url';

/** Query parameters of list endpoints: given once, as strings. */
function queryString(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') {
    throw new AppError('INVALID_REQUEST', `Query parameter \`${name}\` must be given once.`, [
      { field: name, message: 'must be given once' },
    ]);
  }
  return v;
}

function intParam(req: Request, name: string, min: number, max: number): number | undefined {
  const v = queryString(req, name);
  if (v === undefined || v === '') return undefined;
  const n = /^[0-9]{1,9}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new AppError('INVALID_REQUEST', `${name} must be an integer from ${min} to ${max}.`, [
      { field: name, message: `must be an integer from ${min} to ${max}` },
    ]);
  }
  return n;
}

/** Largest `limit` of a results JSON page. */
export const MAX_RESULTS_PAGE = 1_000;
/** Largest `limit` of an NDJSON results stream (without `limit` the whole set streams). */
export const MAX_RESULTS_STREAM = 1_000_000;

/**
 * Writes to the response, resolving when it can take more (backpressure): a chunk (one page) larger
 * than the response's buffer waits for 'drain', so the next page is read only once this one has
 * been handed to the socket. Rejects once the client is gone.
 */
function writer(res: Response): ChunkWriter {
  return (chunk) =>
    new Promise<void>((resolve, reject) => {
      if (res.destroyed) {
        reject(new Error('client went away'));
        return;
      }
      if (res.write(chunk)) {
        resolve();
        return;
      }
      const onDrain = (): void => {
        res.off('close', onClose);
        resolve();
      };
      const onClose = (): void => {
        res.off('drain', onDrain);
        reject(new Error('client went away'));
      };
      res.once('drain', onDrain);
      res.once('close', onClose);
    });
}

/** `/v1/batches...` routes. */
export function batchesRouter(deps: BatchDeps, config: ApiConfig): Router {
  const router = Router();
  const pool = deps.db.pool;

  router.post(
    '/batches',
    wrapAsync(async (req, res) => {
      const tenant = tenantOf(res);
      try {
        const upload = await parseUpload(req, config);
        const key = req.get('idempotency-key');
        const out = await createBatch(deps, {
          tenantId: tenant.id,
          fields: upload.fields,
          documents: upload.documents,
          idempotencyKey: key,
          form: upload.form,
        });
        if (!out.replayed)
          tenantBatchesCreated.inc({ tenant: tenantLabel(tenant.name), task: out.batch.task });
        return {
          status: out.replayed ? 200 : 201,
          body: out.batch,
          headers: {
            Location: `/v1/batches/${out.batch.id}`,
            ...(out.replayed ? { 'Idempotent-Replayed': 'true' } : {}),
          },
        };
      } catch (err) {
        if (err instanceof AppError) uploadsRejected.inc({ code: err.code });
        // The body was not read to its end: answer, then close the connection rather than read the rest.
        if (!req.readableEnded) res.set('Connection', 'close');
        throw err;
      }
    }),
  );

  router.get(
    '/batches',
    wrapAsync(async (req, res) => {
      allowQuery(req, ['limit', 'after', 'status']);
      const status = queryString(req, 'status');
      if (status !== undefined && !(BATCH_STATUSES as readonly string[]).includes(status)) {
        throw new AppError('INVALID_REQUEST', `status must be one of ${BATCH_STATUSES.join(', ')}.`, [
          { field: 'status', message: `must be one of ${BATCH_STATUSES.join(', ')}` },
        ]);
      }
      const page = await listBatches(pool, tenantOf(res).id, {
        limit: intParam(req, 'limit', 1, 100),
        after: queryString(req, 'after') || undefined,
        status: status as BatchStatus | undefined,
      });
      return { status: 200, body: page };
    }),
  );

  router.get(
    '/batches/:id',
    wrapAsync(async (req, res) => {
      allowQuery(req, []);
      return { status: 200, body: await getBatch(pool, tenantOf(res).id, req.params.id as string) };
    }),
  );

  router.delete(
    '/batches/:id',
    wrapAsync(async (req, res) => {
      allowQuery(req, []);
      return { status: 200, body: await deleteBatch(deps, tenantOf(res).id, req.params.id as string) };
    }),
  );

  router.post(
    '/batches/:id/cancel',
    wrapAsync(async (req, res) => {
      allowQuery(req, []);
      return { status: 202, body: await cancelBatch(deps, tenantOf(res).id, req.params.id as string) };
    }),
  );

  router.post(
    '/batches/:id/retry',
    wrapAsync(async (req, res) => {
      allowQuery(req, []);
      return { status: 202, body: await retryBatch(deps, tenantOf(res).id, req.params.id as string) };
    }),
  );

  router.get(
    '/batches/:id/results',
    wrapAsync(async (req, res) => {
      allowQuery(req, ['status', 'after', 'limit']);
      const asJson = req.accepts(['application/x-ndjson', 'application/json']) === 'application/json';
      const statuses = parseResultStatuses(queryString(req, 'status'));
      const after = queryString(req, 'after') || undefined;
      const limit = intParam(req, 'limit', 1, asJson ? MAX_RESULTS_PAGE : MAX_RESULTS_STREAM);
      const scan = await openResults(pool, tenantOf(res).id, req.params.id as string, { statuses, after });
      if (asJson) return { status: 200, body: await resultsPage(pool, scan, limit ?? 100) };

      const stream = await openResultStream(pool, scan, limit);
      if (stream.nextCursor !== null) res.set('X-Next-Cursor', stream.nextCursor);
      res.status(200).set('Content-Type', 'application/x-ndjson; charset=utf-8');
      res.flushHeaders();
      const abort = new AbortController();
      res.once('close', () => abort.abort());
      try {
        await stream.writeTo(writer(res), abort.signal);
      } catch (err) {
        if (abort.signal.aborted) return undefined;
        throw err;
      }
      res.end();
      return undefined;
    }),
  );

  router.get(
    '/batches/:id/documents/:doc_id',
    wrapAsync(async (req, res) => {
      allowQuery(req, []);
      return {
        status: 200,
        body: await getDocument(pool, tenantOf(res).id, req.params.id as string, req.params.doc_id as string),
      };
    }),
  );

  return router;
}
