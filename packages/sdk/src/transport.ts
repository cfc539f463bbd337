import { ConnectionError, DocBatchError, errorFromResponse } from './errors';

/**
 * HTTP transport of the SDK: one request with retries. Retries happen on 429 and 503 (and 502/504
 * from proxies) and on network errors, with exponential backoff and full jitter, honouring the
 * server's `Retry-After`. A request is only resent when that cannot have a second effect: reads,
 * idempotent operations, creates carrying an `Idempotency-Key`, or when the server said it did not
 * process it (429/503) or the connection was refused before anything was sent.
 */

export type FetchLike = (input: string, init: RequestInit & { duplex?: 'half' }) => Promise<Response>;

export interface TransportOptions {
  /** Server root, e.g. `http://127.0.0.1:3000` (without `/v1`). */
  baseUrl: string;
  apiKey: string;
  fetch: FetchLike;
  /** Retries after the first attempt. */
  retries: number;
  /** First backoff delay, ms. */
  minRetryDelayMs: number;
  /** Largest backoff delay between two attempts, ms. */
  maxRetryDelayMs: number;
  /** Longest `Retry-After` the SDK waits for by itself, ms; a longer one is thrown to the caller. */
  maxRetryAfterMs: number;
  userAgent: string;
}

/**
 * When a request may be resent:
 * - `idempotent`: after any retryable status or network error (GET, cancel, create with an Idempotency-Key);
 * - `unprocessed`: only when the server certainly did not act on it (429, 503, connection refused).
 */
export type RetryPolicy = 'idempotent' | 'unprocessed';

/**
 * A request body, opened once per attempt. `canReopen()` says whether another attempt can send
 * the same bytes: always for strings, files and factories; for a one-shot stream only while
 * nothing has been read from it yet.
 */
export interface BodySource {
  contentType: string;
  open(): string | ReadableStream<Uint8Array>;
  canReopen(): boolean;
  /** The error the source itself raised while being read (a bad input file), which is not a network error. */
  sourceError?(): unknown;
}

export interface RequestSpec {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined | null>;
  headers?: Record<string, string>;
  body?: BodySource;
  retry: RetryPolicy;
  signal?: AbortSignal;
}

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
/** Network error codes that mean nothing reached the server. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Parses `Retry-After` (delta seconds or an HTTP date) into ms; undefined when absent or unparseable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Exponential backoff with full jitter for attempt `n` (0-based): uniform in [d/2, d], d = min(max, min*2^n). */
export function backoffDelay(n: number, minMs: number, maxMs: number, random = Math.random): number {
  const d = Math.min(maxMs, minMs * 2 ** n);
  return Math.round(d / 2 + random() * (d / 2));
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** The `code` of a network error from fetch (undici puts it on `cause`). */
export function networkErrorCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let i = 0; cur && i < 4; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

async function readErrorBody(res: Response): Promise<unknown> {
  try {
    const text = await res.text();
    return text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    return undefined;
  }
}

export class Transport {
  constructor(readonly options: TransportOptions) {}

  url(path: string, query?: RequestSpec['query']): string {
    const u = new URL(this.options.baseUrl.replace(/\/+$/, '') + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined && v !== null) u.searchParams.set(k, String(v));
    }
    return u.toString();
  }

  /**
   * Sends the request, retrying per its policy; resolves with a 2xx response (its body unread) or
   * throws a DocBatchError. An abort rejects with the signal's reason.
   */
  async request(spec: RequestSpec): Promise<Response> {
    const o = this.options;
    const url = this.url(spec.path, spec.query);
    for (let attempt = 0; ; attempt++) {
      if (spec.signal?.aborted) throw abortReason(spec.signal);
      const body = spec.body?.open();
      const headers: Record<string, string> = {
        authorization: `Bearer ${o.apiKey}`,
        accept: 'application/json',
        'user-agent': o.userAgent,
        ...spec.headers,
      };
      if (spec.body) headers['content-type'] = spec.body.contentType;
      const canResend = (): boolean => attempt < o.retries && (!spec.body || spec.body.canReopen());

      let res: Response;
      try {
        res = await o.fetch(url, {
          method: spec.method,
          headers,
          body,
          signal: spec.signal,
          ...(body !== undefined && typeof body !== 'string' ? { duplex: 'half' as const } : {}),
        });
      } catch (err) {
        if (spec.signal?.aborted) throw abortReason(spec.signal);
        const sourceError = spec.body?.sourceError?.();
        if (sourceError !== undefined) throw sourceError;
        const code = networkErrorCode(err);
        const notSent = code !== undefined && NOT_SENT_CODES.has(code);
        if ((spec.retry === 'idempotent' || notSent) && canResend()) {
          await sleep(backoffDelay(attempt, o.minRetryDelayMs, o.maxRetryDelayMs), spec.signal);
          continue;
        }
        throw new ConnectionError({
          code: 'CONNECTION_ERROR',
          message: `cannot reach docbatch at ${o.baseUrl} (${code ?? (err as Error).message})`,
          cause: err,
        });
      }
      if (res.ok) return res;

      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      if (RETRYABLE_STATUS.has(res.status) && canResend() && (retryAfterMs ?? 0) <= o.maxRetryAfterMs) {
        await res.body?.cancel().catch(() => undefined);
        const backoff = backoffDelay(attempt, o.minRetryDelayMs, o.maxRetryDelayMs);
        await sleep(retryAfterMs ?? backoff, spec.signal);
        continue;
      }
      throw errorFromResponse(
        res.status,
        await readErrorBody(res),
        retryAfterMs === undefined ? undefined : Math.ceil(retryAfterMs / 1000),
      );
    }
  }

  /** Sends the request and parses the JSON body of the 2xx response. */
  async json<T>(spec: RequestSpec): Promise<T> {
    const res = await this.request(spec);
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new DocBatchError({
        code: 'INVALID_RESPONSE',
        status: res.status,
        message: `expected a JSON body from ${spec.method} ${spec.path}`,
      });
    }
  }
}
