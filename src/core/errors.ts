/**
 * Error hierarchy with stable machine codes (the API contract's codes). Every error a client can
 * see is an `AppError`; anything else is an internal error whose message never leaves the process.
 */

export type ErrorCode =
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'INVALID_REQUEST'
  | 'INVALID_DOCUMENT'
  | 'DUPLICATE_DOCUMENT_ID'
  | 'UNKNOWN_TASK'
  | 'UNKNOWN_MODEL'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'BATCH_FINISHED'
  | 'TENANT_EXISTS'
  | 'BATCH_NOT_FINISHED'
  | 'TOO_MANY_ACTIVE_BATCHES'
  | 'TOO_MANY_ACTIVE_TRAINING_JOBS'
  | 'RATE_LIMITED'
  | 'REQUEST_TIMEOUT'
  | 'INVALID_WEBHOOK_URL'
  | 'INVALID_MODEL'
  | 'MODEL_NAME_TAKEN'
  | 'MODEL_VERSION_EXISTS'
  | 'MODEL_IN_USE'
  | 'UNKNOWN_RECIPE'
  | 'INVALID_HYPERPARAMETERS'
  | 'INSUFFICIENT_TRAINING_DATA'
  | 'TRAINING_JOB_FINISHED'
  | 'UNAVAILABLE'
  | 'INTERNAL';

export const HTTP_STATUS: Record<ErrorCode, number> = {
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  INVALID_REQUEST: 400,
  INVALID_DOCUMENT: 400,
  DUPLICATE_DOCUMENT_ID: 400,
  UNKNOWN_TASK: 422,
  UNKNOWN_MODEL: 422,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 409,
  BATCH_FINISHED: 409,
  TENANT_EXISTS: 409,
  BATCH_NOT_FINISHED: 409,
  TOO_MANY_ACTIVE_BATCHES: 429,
  TOO_MANY_ACTIVE_TRAINING_JOBS: 429,
  RATE_LIMITED: 429,
  REQUEST_TIMEOUT: 408,
  INVALID_WEBHOOK_URL: 400,
  INVALID_MODEL: 400,
  MODEL_NAME_TAKEN: 409,
  MODEL_VERSION_EXISTS: 409,
  MODEL_IN_USE: 409,
  UNKNOWN_RECIPE: 400,
  INVALID_HYPERPARAMETERS: 400,
  INSUFFICIENT_TRAINING_DATA: 400,
  TRAINING_JOB_FINISHED: 409,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

/** One line-level problem in an upload (1-based `line`), or one file's (a model upload's `file`). */
export interface ErrorDetail {
  line?: number;
  file?: string;
  field?: string;
  message: string;
}

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    /** Extra response headers (e.g. Retry-After). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = HTTP_STATUS[code];
  }

  toBody(): { error: { code: ErrorCode; message: string; details?: ErrorDetail[] } } {
    return {
      error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) },
    };
  }
}

/** Raised when configuration from the environment is invalid; names the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** A backing service (Postgres, Redis) cannot be reached. The message says which URL and how to fix it. */
export class ServiceUnavailableError extends Error {
  constructor(
    readonly service: 'postgres' | 'redis',
    message: string,
  ) {
    super(message);
    this.name = 'ServiceUnavailableError';
  }
}

/** Node/pg/ioredis error codes that mean "the service is down or unreachable": retryable, and a 503 for clients. */
export const UNAVAILABLE_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  // Postgres SQLSTATEs: admin shutdown, crash shutdown, cannot connect now, connection failures.
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  // Prisma driver-adapter wrapping of connection errors.
  'P1001',
  'P1017',
]);

const UNAVAILABLE_MESSAGES = [
  /Connection terminated/i,
  /Connection is closed/i,
  /connect ECONNREFUSED/i,
  /Client has encountered a connection error/i,
  /terminating connection/i,
  /the database system is (starting up|shutting down)/i,
  /timeout exceeded when trying to connect/i,
  /Stream isn't writeable/i,
  /MaxRetriesPerRequestError|max retries per request/i,
];

/** True when `err` (or its cause chain) says Postgres or Redis is unreachable. */
export function isUnavailableError(err: unknown): boolean {
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 6; depth++) {
    if (cur instanceof ServiceUnavailableError) return true;
    const e = cur as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    if (typeof e.code === 'string' && UNAVAILABLE_ERROR_CODES.has(e.code)) return true;
    if (typeof e.message === 'string' && UNAVAILABLE_MESSAGES.some((re) => re.test(e.message as string)))
      return true;
    if (Array.isArray(e.errors) && e.errors.some((x) => isUnavailableError(x))) return true;
    cur = e.cause;
  }
  return false;
}

/**
 * Postgres SQLSTATEs that mean "this value cannot be stored or compared": they come from what a client
 * sent (NUL in text 22021, bad text for a type 22P02, untranslatable character 22P05, bad or out-of-range
 * date/time 22007/22008, number out of range 22003). Input validation refuses these values first; this
 * mapping is the backstop, so none of them is ever a 500.
 */
export const CLIENT_DATA_SQLSTATES = new Set(['22021', '22P02', '22P05', '22007', '22008', '22003']);

/** True when `err` (or its cause chain, or a Prisma wrapper's `meta`) is a Postgres data error of a client value. */
export function isClientDataError(err: unknown): boolean {
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 6; depth++) {
    const e = cur as {
      code?: unknown;
      cause?: unknown;
      meta?: { code?: unknown; driverAdapterError?: unknown };
    };
    if (typeof e.code === 'string' && CLIENT_DATA_SQLSTATES.has(e.code)) return true;
    if (e.meta && typeof e.meta.code === 'string' && CLIENT_DATA_SQLSTATES.has(e.meta.code)) return true;
    cur = e.cause ?? e.meta?.driverAdapterError;
  }
  return false;
}

/** The client error a Postgres data error becomes. */
export function clientDataError(): AppError {
  return new AppError(
    'INVALID_REQUEST',
    'A value in the request cannot be stored or compared (for example NUL characters, an invalid encoding or a number or date out of range).',
  );
}

/** Postgres out of disk space (53100 disk_full; 53400 configuration_limit_exceeded is not it). */
export const STORAGE_FULL_SQLSTATES = new Set(['53100']);

/** True when `err` (or its cause chain) says Postgres could not write for lack of disk space. */
export function isStorageFullError(err: unknown): boolean {
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 6; depth++) {
    const e = cur as {
      code?: unknown;
      cause?: unknown;
      meta?: { code?: unknown; driverAdapterError?: unknown };
    };
    if (typeof e.code === 'string' && STORAGE_FULL_SQLSTATES.has(e.code)) return true;
    if (e.meta && typeof e.meta.code === 'string' && STORAGE_FULL_SQLSTATES.has(e.meta.code)) return true;
    cur = e.cause ?? e.meta?.driverAdapterError;
  }
  return false;
}

let storageFullUntil = 0;

/** Records a disk-full error: readiness reports it for `forMs` (default 30 s) after the last one. */
export function noteStorageFull(forMs = 30_000): void {
  storageFullUntil = Math.max(storageFullUntil, Date.now() + forMs);
}

/** Milliseconds readiness still reports the database as full (0 when not). */
export function storageFullRemainingMs(): number {
  return Math.max(0, storageFullUntil - Date.now());
}

/** The answer to a write that failed for lack of disk space: 503 with Retry-After. */
export function storageFullError(): AppError {
  return new AppError(
    'UNAVAILABLE',
    'The database has no disk space left; nothing was stored. Retry later.',
    undefined,
    { 'Retry-After': '30' },
  );
}

/** A write succeeded: the database has space again. */
export function clearStorageFull(): void {
  storageFullUntil = 0;
}
