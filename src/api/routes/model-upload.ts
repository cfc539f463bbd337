import { once } from 'node:events';
import busboy from 'busboy';
import type { Request } from 'express';
import type { ApiConfig } from '../../core/config';
import { AppError } from '../../core/errors';
import { readTarArchive, stripCommonDirectory, tooLarge, tooMany } from '../../core/models/model-archive';
import { InvalidModelError, type TenantModelLimits } from '../../core/models/tenant-models';
import { guardBody, type BodyLimits } from '../body-guard';

/**
 * The body of `POST /v1/models`: the model contract's artefacts (config.json and the files it
 * names), as
 * - `multipart/form-data`: one file part per file, its filename the path relative to the model's
 *   version directory (e.g. `model.h5`, `shards/group1-shard1of2.bin`), and an optional `name`
 *   field;
 * - `application/x-tar` or `application/gzip` (also `application/x-gzip`, `application/x-gtar`,
 *   `application/octet-stream`): a tar archive, gzip-compressed or not (detected by its first bytes).
 * A model inside one top directory (`mymodel/config.json`, ...) is taken from that directory.
 */

export interface ModelUpload {
  /** The `name` form field, when sent. */
  name?: string;
  files: Map<string, Buffer>;
}

const TAR_TYPES = new Set([
  'application/x-tar',
  'application/tar',
  'application/gzip',
  'application/x-gzip',
  'application/x-gtar',
  'application/x-compressed-tar',
  'application/octet-stream',
]);

function bodyLimits(config: ApiConfig): BodyLimits {
  return {
    idleMs: config.UPLOAD_IDLE_TIMEOUT_MS,
    minBytesPerSecond: config.UPLOAD_MIN_BYTES_PER_SECOND,
    graceMs: config.UPLOAD_RATE_GRACE_MS,
  };
}

export function uploadLimits(config: ApiConfig): TenantModelLimits {
  return { maxBytes: config.MODEL_UPLOAD_MAX_BYTES, maxFiles: config.MODEL_UPLOAD_MAX_FILES };
}

/** Reads and splits the upload; checks only the limits and duplicate names (the model checks come after). */
export async function readModelUpload(req: Request, config: ApiConfig): Promise<ModelUpload> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const limits = uploadLimits(config);
  if (type === 'multipart/form-data') {
    const upload = await readMultipartModel(req, config, limits);
    return { ...upload, files: stripCommonDirectory(upload.files) };
  }
  if (TAR_TYPES.has(type)) {
    const maxBody = limits.maxBytes + (limits.maxFiles + 2) * 2048;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBody) throw tooLarge(limits);
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of guardBody(req as AsyncIterable<Buffer>, req, bodyLimits(config))) {
      bytes += chunk.length;
      if (bytes > maxBody) throw tooLarge(limits);
      chunks.push(chunk);
    }
    if (bytes === 0)
      throw new InvalidModelError('Invalid tar archive: the body is empty.', undefined, 'archive');
    return { files: stripCommonDirectory(readTarArchive(Buffer.concat(chunks), limits)) };
  }
  throw new AppError(
    'UNSUPPORTED_MEDIA_TYPE',
    'Send the model as multipart/form-data (one file part per file, its filename the relative path) or as a tar archive (application/x-tar, optionally gzip-compressed: application/gzip).',
  );
}

async function readMultipartModel(
  req: Request,
  config: ApiConfig,
  limits: TenantModelLimits,
): Promise<ModelUpload> {
  let bb: busboy.Busboy;
  try {
    bb = busboy({
      headers: req.headers,
      preservePath: true,
      limits: {
        files: limits.maxFiles + 1,
        fields: 16,
        parts: limits.maxFiles + 17,
        fieldSize: 64 * 1024,
        fieldNameSize: 100,
        fileSize: limits.maxBytes + 1,
      },
    });
  } catch {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'The multipart/form-data body has no boundary.');
  }
  const files = new Map<string, Buffer>();
  let name: string | undefined;
  let total = 0;
  let failure: unknown;
  let signalFailure: () => void = () => undefined;
  const failed = new Promise<void>((resolve) => (signalFailure = resolve));
  const fail = (err: unknown): void => {
    failure ??= err;
    signalFailure();
  };
  const pending: Promise<void>[] = [];
  bb.on('error', (err: unknown) =>
    fail(new AppError('INVALID_REQUEST', `The multipart body is malformed: ${(err as Error).message}`)),
  );
  bb.on('filesLimit', () => fail(tooMany(limits)));
  bb.on('partsLimit', () => fail(tooMany(limits)));
  bb.on('fieldsLimit', () => fail(new AppError('INVALID_REQUEST', 'Too many form fields (at most 16).')));
  bb.on('field', (field, value) => {
    if (field === 'name') name = value;
  });
  bb.on('file', (_field, stream, info) => {
    // A part cut short (the body ended, or reading stopped after a refusal) errors its stream.
    stream.on('error', (err: unknown) => fail(err));
    const path = (info.filename ?? '').replace(/^(\.\/)+/, '');
    const chunks: Buffer[] = [];
    if (!path) {
      stream.resume();
      fail(
        new InvalidModelError(
          'A file part has no filename (the path of the file in the model).',
          undefined,
          'filename',
        ),
      );
      return;
    }
    if (files.has(path) || pending.length >= limits.maxFiles) {
      stream.resume();
      fail(
        files.has(path)
          ? new InvalidModelError(
              `${path.slice(0, 200)}: is in the upload twice.`,
              path.slice(0, 200),
              'path',
            )
          : tooMany(limits),
      );
      return;
    }
    files.set(path, Buffer.alloc(0));
    stream.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > limits.maxBytes) {
        fail(tooLarge(limits, path));
        stream.resume();
        return;
      }
      chunks.push(chunk);
    });
    pending.push(
      once(stream, 'end').then(
        () => {
          files.set(path, Buffer.concat(chunks));
        },
        (err: unknown) => fail(err),
      ),
    );
  });
  const closed = once(bb, 'close').catch(() => undefined);
  try {
    for await (const chunk of guardBody(req as AsyncIterable<Buffer>, req, bodyLimits(config))) {
      if (failure) break;
      if (!bb.write(chunk)) await Promise.race([once(bb, 'drain').catch(() => undefined), failed]);
    }
    if (!failure) {
      bb.end();
      await Promise.race([closed, failed]);
      await Promise.race([Promise.all(pending), failed]);
    }
  } catch (err) {
    fail(err);
  }
  if (failure) {
    bb.destroy();
    throw failure;
  }
  if (files.size === 0) {
    throw new InvalidModelError(
      'The upload has no files (send config.json and the files it names).',
      'config.json',
    );
  }
  return { ...(name !== undefined ? { name } : {}), files };
}
