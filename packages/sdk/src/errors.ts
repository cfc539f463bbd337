import type { ErrorCode } from './openapi-types';

/**
 * Typed errors of the SDK. Every failed call throws a `DocBatchError` (or a subclass) carrying the
 * contract's stable machine `code`, the HTTP `status` and the line-level `details` of the error
 * body (`{"error": {"code", "message", "details"}}`). Branch on `code` (a string union) or on the
 * subclass with `instanceof`.
 */

/** Codes the server sends (the contract's `ErrorCode` schema). */
export type ApiErrorCode = ErrorCode;

/**
 * Codes the SDK itself produces: `CONNECTION_ERROR` (the server could not be reached or the
 * connection dropped, after the retries), `INVALID_RESPONSE` (the server answered something that
 * is not the contract, e.g. a proxy's HTML error page), `TIMEOUT` (waitForBatch's own time limit).
 */
export type ClientErrorCode = 'CONNECTION_ERROR' | 'INVALID_RESPONSE' | 'TIMEOUT';

export type DocBatchErrorCode = ApiErrorCode | ClientErrorCode;

/** One line-level problem of a rejected upload (`line` is 1-based). */
export interface DocBatchErrorDetail {
  line?: number;
  /** A model upload's file at fault (POST /v1/models). */
  file?: string;
  field?: string;
  message: string;
}

export interface DocBatchErrorInit {
  code: DocBatchErrorCode;
  message: string;
  /** HTTP status, absent for client-side errors (connection, timeout). */
  status?: number;
  details?: DocBatchErrorDetail[];
  /** Seconds the server asked to wait (`Retry-After`), when it sent one. */
  retryAfter?: number;
  cause?: unknown;
}

/** Base class of every error the SDK throws (except an abort, which rethrows the signal's reason). */
export class DocBatchError extends Error {
  readonly code: DocBatchErrorCode;
  readonly status: number | undefined;
  readonly details: DocBatchErrorDetail[];
  readonly retryAfter: number | undefined;

  constructor(init: DocBatchErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = init.code;
    this.status = init.status;
    this.details = init.details ?? [];
    this.retryAfter = init.retryAfter;
  }
}

/** 401 `UNAUTHORIZED`: missing, unknown or revoked API key. */
export class AuthenticationError extends DocBatchError {}
/** 404 `NOT_FOUND`: no such batch/document for this API key's tenant. */
export class NotFoundError extends DocBatchError {}
/** 400 `INVALID_REQUEST`, `INVALID_DOCUMENT`, `DUPLICATE_DOCUMENT_ID`, `INVALID_WEBHOOK_URL`, `INVALID_MODEL`; 403 `FORBIDDEN`; 413; 415; 422 `UNKNOWN_TASK`/`UNKNOWN_MODEL`. */
export class InvalidRequestError extends DocBatchError {}
/** 409 `IDEMPOTENCY_KEY_REUSED`, `BATCH_FINISHED`, `BATCH_NOT_FINISHED`, `TENANT_EXISTS` (admin API), `MODEL_NAME_TAKEN`, `MODEL_VERSION_EXISTS`, `MODEL_IN_USE`. */
export class ConflictError extends DocBatchError {}
/** 429 `RATE_LIMITED`, `TOO_MANY_ACTIVE_BATCHES`, `TOO_MANY_ACTIVE_TRAINING_JOBS` (after the SDK's own retries). */
export class RateLimitError extends DocBatchError {}
/** 503 `UNAVAILABLE`, 500 `INTERNAL` (after the SDK's own retries for 503). */
export class ServerError extends DocBatchError {}
/** The server could not be reached, or the connection dropped, after the retries; 408 `REQUEST_TIMEOUT` (the body was sent too slowly). */
export class ConnectionError extends DocBatchError {}

/** Every contract code, checked both ways by the compiler (a missing or unknown key fails typecheck). */
const API_CODE_TABLE: Record<ApiErrorCode, true> = {
  UNAUTHORIZED: true,
  NOT_FOUND: true,
  INVALID_REQUEST: true,
  INVALID_DOCUMENT: true,
  DUPLICATE_DOCUMENT_ID: true,
  UNKNOWN_TASK: true,
  UNKNOWN_MODEL: true,
  PAYLOAD_TOO_LARGE: true,
  UNSUPPORTED_MEDIA_TYPE: true,
  IDEMPOTENCY_KEY_REUSED: true,
  BATCH_FINISHED: true,
  TENANT_EXISTS: true,
  BATCH_NOT_FINISHED: true,
  TOO_MANY_ACTIVE_BATCHES: true,
  TOO_MANY_ACTIVE_TRAINING_JOBS: true,
  RATE_LIMITED: true,
  REQUEST_TIMEOUT: true,
  INVALID_WEBHOOK_URL: true,
  UNKNOWN_RECIPE: true,
  INVALID_HYPERPARAMETERS: true,
  INSUFFICIENT_TRAINING_DATA: true,
  TRAINING_JOB_FINISHED: true,
  FORBIDDEN: true,
  INVALID_MODEL: true,
  MODEL_NAME_TAKEN: true,
  MODEL_VERSION_EXISTS: true,
  MODEL_IN_USE: true,
  UNAVAILABLE: true,
  INTERNAL: true,
};
const API_CODES: ReadonlySet<string> = new Set(Object.keys(API_CODE_TABLE));

/** True when `code` is one of the contract's codes. */
export function isApiErrorCode(code: unknown): code is ApiErrorCode {
  return typeof code === 'string' && API_CODES.has(code);
}

/** Builds the typed error for an HTTP error response body (already parsed, or undefined when it was not JSON). */
export function errorFromResponse(status: number, body: unknown, retryAfter?: number): DocBatchError {
  const err = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)
    ?.error;
  if (!err || !isApiErrorCode(err.code)) {
    return new ServerError({
      code: 'INVALID_RESPONSE',
      status,
      message: `unexpected HTTP ${status} response without a docbatch error body`,
      retryAfter,
    });
  }
  const init: DocBatchErrorInit = {
    code: err.code,
    status,
    message: typeof err.message === 'string' ? err.message : err.code,
    details: Array.isArray(err.details) ? (err.details as DocBatchErrorDetail[]) : [],
    retryAfter,
  };
  switch (err.code) {
    case 'UNAUTHORIZED':
      return new AuthenticationError(init);
    case 'NOT_FOUND':
      return new NotFoundError(init);
    case 'IDEMPOTENCY_KEY_REUSED':
    case 'BATCH_FINISHED':
    case 'TENANT_EXISTS':
    case 'BATCH_NOT_FINISHED':
    case 'MODEL_NAME_TAKEN':
    case 'MODEL_VERSION_EXISTS':
    case 'MODEL_IN_USE':
      return new ConflictError(init);
    case 'RATE_LIMITED':
    case 'TOO_MANY_ACTIVE_BATCHES':
    case 'TOO_MANY_ACTIVE_TRAINING_JOBS':
      return new RateLimitError(init);
    case 'UNAVAILABLE':
    case 'INTERNAL':
      return new ServerError(init);
    case 'REQUEST_TIMEOUT':
      return new ConnectionError(init);
    default:
      return new InvalidRequestError(init);
  }
}
