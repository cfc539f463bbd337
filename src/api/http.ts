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

/**
 * Classifies any error as the AppError a client sees: backing services down -> 503 UNAVAILABLE, a full
 * disk -> 507, a client value Postgres refused -> 400, body-parser errors -> 400/413/415, anything
 * else -> 500 INTERNAL (logged; its message never leaves the process).
 */
export function toAppError(err: unknown, req: Request, logger: Logger): AppError {
  if (err instanceof AppError) return err;
  if (isUnavailableError(err)) {
    logger.warn({ err: { message: (err as Error).message }, path: req.path }, 'backing service unavailable');
    return new AppError('UNAVAILABLE', 'A backing service is unavailable; retry shortly.', undefined, {
      'Retry-After': '5',
    });
  }
  if (isStorageFullError(err)) {
    logger.error({ err: { message: (err as Error).message }, path: req.path }, 'database disk full');
    noteStorageFull();
    return storageFullError();
  }
  if (isClientDataError(err)) {
    logger.warn(
      { err: { message: (err as Error).message }, path: req.path },
      'client value refused by Postgres',
    );
    return clientDataError();
  }
  if (err instanceof URIError)
    return new AppError('INVALID_REQUEST', 'The URL is not valid percent-encoded UTF-8.');
  const type = (err as { type?: string } | null)?.type;
  if (type === 'entity.too.large') return new AppError('PAYLOAD_TOO_LARGE', 'Request body is too large.');
  if (type === 'entity.parse.failed')
    return new AppError('INVALID_REQUEST', 'Request body is not valid JSON.');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new AppError('UNSUPPORTED_MEDIA_TYPE', 'Unsupported body encoding or charset.');
  }
  logger.error({ err, path: req.path, method: req.method }, 'unhandled error');
  return new AppError('INTERNAL', 'Internal server error.');
}

/** Writes an error response with `body`, or cuts the connection when a streamed response already began. */
export function sendError(res: Response, appErr: AppError, body: unknown): void {
  if (res.headersSent) {
    // A streaming response failed midway: the only honest signal left is to cut the connection.
    res.destroy();
    return;
  }
  if (appErr.headers) res.set(appErr.headers);
  if (appErr.code === 'PAYLOAD_TOO_LARGE') res.set('Connection', 'close');
  res.status(appErr.status).json(body);
}

/** Turns any error into the contract's error body. Internal details are logged, never sent. */
export function errorMiddleware(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const appErr = toAppError(err, req, logger);
    sendError(res, appErr, appErr.toBody());
  };
}
