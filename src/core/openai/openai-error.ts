import { AppError } from '../errors';
import type { ErrorCode } from '../errors';

/**
 * An error of the OpenAI-compatible surface (`/openai/v1`), answered in OpenAI's shape
 * `{"error": {"message", "type", "param", "code"}}`. `code` is docbatch's stable code (it sets the
 * HTTP status); `openaiCode` and `param` are what an OpenAI client reads.
 */
export class OpenAiError extends AppError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly param: string | null = null,
    readonly openaiCode: string | null = null,
    headers?: Record<string, string>,
  ) {
    super(code, message, undefined, headers);
    this.name = 'OpenAiError';
  }
}

/** The body of an error on the OpenAI-compatible surface. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** OpenAI's `type` for an HTTP status. */
function errorType(status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** Any docbatch error in OpenAI's error shape (an {@link OpenAiError} keeps its param and code). */
export function toOpenAiErrorBody(err: AppError): OpenAiErrorBody {
  const own = err instanceof OpenAiError ? err : null;
  const code = own?.openaiCode ?? (err.code === 'UNAUTHORIZED' ? 'invalid_api_key' : err.code.toLowerCase());
  return {
    error: {
      message: err.message,
      type: errorType(err.status),
      param: own ? own.param : (err.details?.[0]?.field ?? null),
      code,
    },
  };
}
