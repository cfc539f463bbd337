import pino from 'pino';
import type { Logger } from 'pino';

export type { Logger };

/**
 * The process logger. Structured JSON on stdout; scope it with `logger.child({ batchId, jobId, worker })`.
 * Never log document text, results or tensors.
 */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', name = 'docbatch'): Logger {
  return pino({
    name,
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'text', 'documents'], remove: true },
  });
}
