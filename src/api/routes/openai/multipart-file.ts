import { once } from 'node:events';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import type { Request } from 'express';
import type { BodyLimits } from '../../body-guard';
import { guardBody } from '../../body-guard';
import { OpenAiError } from '../../../core/openai';

/**
 * Reads a `multipart/form-data` request body as it streams in (busboy): the text fields, and the one
 * file part named `file`, handed to `onFile` as a stream while it arrives (nothing is buffered whole).
 * The body is read under the upload limits (`guardBody`: idle and minimum-rate timeouts). A failure of
 * `onFile` stops reading at once and is what the call rejects with.
 */

export interface MultipartResult<T> {
  fields: Record<string, string>;
  /** What `onFile` returned, or undefined when the body had no `file` part. */
  file: T | undefined;
}

export async function readMultipartFile<T>(
  req: Request,
  limits: BodyLimits,
  onFile: (stream: Readable, filename: string) => Promise<T>,
): Promise<MultipartResult<T>> {
  let bb: busboy.Busboy;
  try {
    bb = busboy({
      headers: req.headers,
      limits: { files: 1, fields: 16, parts: 32, fieldSize: 64 * 1024, fieldNameSize: 100 },
    });
  } catch {
    throw new OpenAiError(
      'UNSUPPORTED_MEDIA_TYPE',
      'The request body must be multipart/form-data with a "file" part and a "purpose" field.',
      null,
      'unsupported_media_type',
    );
  }
  const fields: Record<string, string> = {};
  let failure: unknown;
  let signalFailure: () => void = () => undefined;
  const failed = new Promise<void>((resolve) => (signalFailure = resolve));
  const fail = (err: unknown): void => {
    failure ??= err;
    signalFailure();
  };
  let fileTask: Promise<T> | undefined;
  bb.on('error', (err: unknown) =>
    fail(
      new OpenAiError(
        'INVALID_REQUEST',
        `The multipart body is malformed: ${(err as Error).message}`,
        null,
        'invalid_multipart',
      ),
    ),
  );
  bb.on('field', (name, value) => {
    fields[name] = value;
  });
  bb.on('file', (name, stream, info) => {
    if (name !== 'file' || fileTask) {
      stream.resume();
      fail(
        new OpenAiError(
          'INVALID_REQUEST',
          `Unexpected file part "${name}": send one file part named "file".`,
          name,
        ),
      );
      return;
    }
    fileTask = onFile(stream, info.filename ?? 'file');
    fileTask.catch((err: unknown) => {
      fail(err);
      stream.resume();
    });
  });
  const closed = once(bb, 'close').catch(() => undefined);
  try {
    for await (const chunk of guardBody(req as AsyncIterable<Buffer>, req, limits)) {
      if (failure) break;
      if (!bb.write(chunk)) await Promise.race([once(bb, 'drain').catch(() => undefined), failed]);
    }
    if (!failure) {
      bb.end();
      await Promise.race([closed, failed]);
    }
    if (!failure && fileTask) await Promise.race([fileTask, failed]);
  } catch (err) {
    fail(err);
  }
  if (failure) {
    bb.destroy();
    throw failure;
  }
  return { fields, file: fileTask ? await fileTask : undefined };
}
