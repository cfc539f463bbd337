import { Router } from 'express';
import type { Request, Response } from 'express';
import type { BatchDeps } from '../../../core/batches';
import type { ApiConfig } from '../../../core/config';
import { deleteFile, FileUpload, getFile, listFiles, OpenAiError, readFileBytes } from '../../../core/openai';
import { tenantOf } from '../../auth';
import { wrapAsync } from '../../http';
import { allowQuery } from '../../strict-url';
import { readMultipartFile } from './multipart-file';
import { intQuery, stringQuery } from './query';

/** Longest accepted file name, characters. */
const MAX_FILENAME_CHARS = 255;

/** Writes `chunk`, resolving once the response can take more; rejects when the client is gone. */
function write(res: Response, chunk: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
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

/** `/files...` of the OpenAI-compatible surface (OpenAI's Files API, purpose `batch`). */
export function filesRouter(deps: BatchDeps, config: ApiConfig): Router {
  const router = Router();
  const pool = deps.db.pool;

  router.post(
    '/files',
    wrapAsync(async (req: Request, res: Response) => {
      allowQuery(req, []);
      const tenant = tenantOf(res);
      const declared = Number(req.get('content-length'));
      if (Number.isFinite(declared) && declared > config.MAX_BODY_BYTES) {
        res.set('Connection', 'close');
        throw new OpenAiError(
          'PAYLOAD_TOO_LARGE',
          `The file exceeds ${config.MAX_BODY_BYTES} bytes (MAX_BODY_BYTES).`,
          'file',
          'file_too_large',
        );
      }
      let upload: FileUpload | undefined;
      let release: () => void = () => undefined;
      try {
        const { fields, file } = await readMultipartFile(
          req,
          {
            idleMs: config.UPLOAD_IDLE_TIMEOUT_MS,
            minBytesPerSecond: config.UPLOAD_MIN_BYTES_PER_SECOND,
            graceMs: config.UPLOAD_RATE_GRACE_MS,
          },
          async (stream, filename) => {
            if ([...filename].length > MAX_FILENAME_CHARS) {
              throw new OpenAiError(
                'INVALID_REQUEST',
                `The file name must be at most ${MAX_FILENAME_CHARS} characters.`,
                'file',
              );
            }
            // The upload holds a pooled connection for its transaction: it takes an upload slot, as batch uploads do.
            release = deps.uploadSlots ? await deps.uploadSlots.acquire(tenant.id) : () => undefined;
            upload = await FileUpload.begin(pool, tenant.id, filename);
            for await (const chunk of stream as AsyncIterable<Buffer>) {
              if (upload.bytes + chunk.length > config.MAX_BODY_BYTES) {
                throw new OpenAiError(
                  'PAYLOAD_TOO_LARGE',
                  `The file exceeds ${config.MAX_BODY_BYTES} bytes (MAX_BODY_BYTES).`,
                  'file',
                  'file_too_large',
                );
              }
              await upload.write(chunk);
            }
            return upload;
          },
        );
        const unknown = Object.keys(fields).filter((k) => k !== 'purpose');
        if (unknown.length > 0) {
          const param = unknown[0] as string;
          const message = param.startsWith('expires_after')
            ? 'expires_after is not supported: docbatch keeps files until they are deleted.'
            : `Unrecognized request argument supplied: ${unknown.join(', ')}`;
          throw new OpenAiError('INVALID_REQUEST', message, param, 'unknown_parameter');
        }
        if (fields.purpose === undefined) {
          throw new OpenAiError(
            'INVALID_REQUEST',
            "Missing required parameter: 'purpose'.",
            'purpose',
            'missing_required_parameter',
          );
        }
        if (fields.purpose !== 'batch') {
          throw new OpenAiError(
            'INVALID_REQUEST',
            `Invalid value for purpose: '${fields.purpose}'. docbatch stores files for the Batch API only: purpose 'batch'.`,
            'purpose',
            'invalid_value',
          );
        }
        if (!file) {
          throw new OpenAiError(
            'INVALID_REQUEST',
            "Missing required parameter: 'file'.",
            'file',
            'missing_required_parameter',
          );
        }
        return { status: 200, body: await file.finish('batch') };
      } catch (err) {
        upload?.abort();
        if (!req.readableEnded) res.set('Connection', 'close');
        throw err;
      } finally {
        release();
      }
    }),
  );

  router.get(
    '/files',
    wrapAsync(async (req, res) => {
      allowQuery(req, ['after', 'limit', 'order', 'purpose']);
      const order = stringQuery(req, 'order');
      if (order !== undefined && order !== 'asc' && order !== 'desc') {
        throw new OpenAiError(
          'INVALID_REQUEST',
          `Invalid value for order: '${order}'. Supported values are: 'asc' and 'desc'.`,
          'order',
          'invalid_value',
        );
      }
      return {
        status: 200,
        body: await listFiles(pool, tenantOf(res).id, {
          limit: intQuery(req, 'limit', 1, 10_000),
          after: stringQuery(req, 'after'),
          order,
          purpose: stringQuery(req, 'purpose'),
        }),
      };
    }),
  );

  router.get(
    '/files/:id',
    wrapAsync(async (req, res) => {
      allowQuery(req, []);
      return { status: 200, body: await getFile(pool, tenantOf(res).id, req.params.id as string) };
    }),
  );

  router.delete(
    '/files/:id',
    wrapAsync(async (req, res) => {
      allowQuery(req, []);
      return { status: 200, body: await deleteFile(pool, tenantOf(res).id, req.params.id as string) };
    }),
  );

  router.get(
    '/files/:id/content',
    wrapAsync(async (req, res) => {
      allowQuery(req, []);
      const file = await getFile(pool, tenantOf(res).id, req.params.id as string);
      const parts = readFileBytes(pool, file.id);
      // The first part is read before the status line, so a failed read is an error response.
      const first = await parts.next();
      res.status(200).set({
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(file.bytes),
        'Content-Disposition': `attachment; filename="${file.filename.replace(/[^\x20-\x7e]|["\\]/g, '_')}"`,
      });
      try {
        if (!first.done) await write(res, first.value);
        for await (const chunk of parts) await write(res, chunk);
      } catch (err) {
        if (res.destroyed) return undefined;
        throw err;
      }
      res.end();
      return undefined;
    }),
  );

  return router;
}
