import type { Request } from 'express';
import { AppError } from '../core/errors';

/**
 * Limits on how slowly a client may send a request body (issue 16): an upload that sends nothing for
 * `idleMs`, or that has averaged less than `minBytesPerSecond` over the time spent waiting for it (once
 * `graceMs` of waiting have passed), is cut off with 408 REQUEST_TIMEOUT and its connection closed.
 * Only the time spent waiting for the client counts: while the server itself is busy (a slow COPY, a
 * full model queue) the body is not read and the clock is stopped, so server backpressure is never
 * blamed on the client.
 */
export interface BodyLimits {
  idleMs: number;
  minBytesPerSecond: number;
  graceMs: number;
}

function timeoutError(message: string): AppError {
  return new AppError('REQUEST_TIMEOUT', message, undefined, { Connection: 'close' });
}

function closedError(): AppError {
  return new AppError(
    'REQUEST_TIMEOUT',
    'The client closed the connection before the request body was complete; nothing was stored.',
    undefined,
    { Connection: 'close' },
  );
}

/** Yields the chunks of `src` (a request body, or what is decoded from it) under `limits`. */
export async function* guardBody(
  src: AsyncIterable<Buffer>,
  req: Request,
  limits: BodyLimits,
): AsyncGenerator<Buffer> {
  const it = src[Symbol.asyncIterator]();
  let timedOut = false;
  let bytes = 0;
  let waitedMs = 0;
  try {
    for (;;) {
      // The latest moment the next chunk may arrive: the idle limit, and the moment the average rate over
      // the waiting time would fall below the minimum (never before the grace period has been waited).
      const rateDeadline =
        limits.minBytesPerSecond > 0
          ? Math.max(limits.graceMs, (bytes * 1000) / limits.minBytesPerSecond) - waitedMs
          : Infinity;
      const allowMs = Math.min(limits.idleMs, rateDeadline);
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      // A connection closed while the body is awaited: nothing more can arrive. (Once the server has
      // answered, as when the upload failed on the database's side, Node ends the request without an
      // event the body's iterator sees: without this the wait, and what it holds, lasted until the idle
      // limit.)
      const socket = req.socket as Request['socket'] | undefined;
      let onSocketClose: (() => void) | undefined;
      const next = await new Promise<IteratorResult<Buffer>>((resolve, reject) => {
        onSocketClose = () => reject(closedError());
        if (socket?.destroyed) {
          onSocketClose();
          return;
        }
        socket?.once('close', onSocketClose);
        if (Number.isFinite(allowMs)) {
          timer = setTimeout(
            () => {
              const idle = allowMs >= limits.idleMs || bytes === 0;
              const err = idle
                ? timeoutError(
                    `The request body sent nothing for ${(allowMs / 1000).toFixed(1)} s (UPLOAD_IDLE_TIMEOUT_MS, UPLOAD_RATE_GRACE_MS); the upload was cut off and nothing was stored.`,
                  )
                : timeoutError(
                    `The request body arrived slower than ${limits.minBytesPerSecond} bytes/s on average (UPLOAD_MIN_BYTES_PER_SECOND); the upload was cut off and nothing was stored.`,
                  );
              reject(err);
            },
            Math.max(0, allowMs),
          );
        }
        it.next().then(resolve, reject);
      }).finally(() => {
        clearTimeout(timer);
        if (onSocketClose) socket?.off('close', onSocketClose);
      });
      waitedMs += Date.now() - started;
      if (next.done) return;
      bytes += next.value.length;
      yield next.value;
    }
  } catch (err) {
    if (err instanceof AppError && err.code === 'REQUEST_TIMEOUT') {
      // (or the connection closed)
      timedOut = true;
      // Stop reading: the socket is closed after the answer (Connection: close), or now if it cannot be sent.
      req.unpipe();
      req.pause();
    }
    throw err;
  } finally {
    // After a timeout a read is still pending: the source ends when the connection closes after the answer.
    if (timedOut) void it.return?.()?.catch(() => undefined);
    else await it.return?.();
  }
}
