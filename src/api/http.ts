import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  AppError,
  clientDataError,
  isClientDataError,
  isStorageFullError,
  isUnavailableError,
  noteStorageFull,
  storageFullError,
} from '../core/errors';
import type { Logger } from '../core/logger';

/** What a handler returns; the wrapper writes it. Streaming handlers write `res` themselves and return undefined. */
export interface HandlerResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Wraps an async handler: its `{status, body}` is sent as JSON; a thrown error goes to the error middleware. */
export function wrapAsync(
  fn: (req: Request, res: Response) => Promise<HandlerResult | undefined>,
): RequestHandler {
  return (req, res, next) => {
    fn(req, res).then(
      (out) => {
        if (!out || res.headersSent) return;
        if (out.headers) res.set(out.headers);
        if (out.body === undefined) res.status(out.status).end();
        else res.status(out.status).json(out.body);
      },
      (err: unknown) => next(err),
    );
  };
}

/** Turns any error into the contract's error body. Internal details are logged, never sent. */
export function errorMiddleware(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    let appErr: AppError;
    if (err instanceof AppError) appErr = err;
    else if (isUnavailableError(err)) {
      logger.warn(
        { err: { message: (err as Error).message }, path: req.path },
        'backing service unavailable',
      );
      appErr = new AppError('UNAVAILABLE', 'A backing service is unavailable; retry shortly.', undefined, {
        'Retry-After': '5',
      });
    } else if (isStorageFullError(err)) {
      logger.error({ err: { message: (err as Error).message }, path: req.path }, 'database disk full');
      noteStorageFull();
      appErr = storageFullError();
    } else if (isClientDataError(err)) {
      logger.warn(
        { err: { message: (err as Error).message }, path: req.path },
        'client value refused by Postgres',
      );
      appErr = clientDataError();
    } else if (err instanceof URIError) {
      appErr = new AppError('INVALID_REQUEST', 'The URL is not valid percent-encoded UTF-8.');
    } else if ((err as { type?: string }).type === 'entity.too.large') {
      appErr = new AppError('PAYLOAD_TOO_LARGE', 'Request body is too large.');
    } else if ((err as { type?: string }).type === 'entity.parse.failed') {
      appErr = new AppError('INVALID_REQUEST', 'Request body is not valid JSON.');
    } else if (
      (err as { type?: string }).type === 'encoding.unsupported' ||
      (err as { type?: string }).type === 'charset.unsupported'
    ) {
      appErr = new AppError('UNSUPPORTED_MEDIA_TYPE', 'Unsupported body encoding or charset.');
    } else {
      logger.error({ err, path: req.path, method: req.method }, 'unhandled error');
      appErr = new AppError('INTERNAL', 'Internal server error.');
    }
    if (res.headersSent) {
      // A streaming response failed midway: the only honest signal left is to cut the connection.
      res.destroy();
      return;
    }
    if (appErr.headers) res.set(appErr.headers);
    if (appErr.code === 'PAYLOAD_TOO_LARGE') res.set('Connection', 'close');
    res.status(appErr.status).json(appErr.toBody());
  };
}
