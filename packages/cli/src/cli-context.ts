import type { Writable } from 'node:stream';
import { DocBatchClient } from '@docbatch/sdk';
import type { AdminBackend } from './commands/admin-backend';
import { UsageError } from './usage-error';

/** What a command needs from the process: its streams, environment and the global options. */
export interface CliContext {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
  /** `--url`, env DOCBATCH_URL, default `http://127.0.0.1:3000`. */
  url: string;
  /** `--api-key`, env DOCBATCH_API_KEY. */
  apiKey: string | undefined;
  /**
   * `--admin-token`, env DOCBATCH_ADMIN_TOKEN: the operator commands (`tenants`, `keys`,
   * `webhook-secret`) then use the server's admin API instead of Postgres.
   */
  adminToken: string | undefined;
  /** `--json`: machine-readable output on stdout. */
  json: boolean;
  /** Draw progress bars (stderr is a terminal and not `--json`); otherwise plain log lines. */
  interactive: boolean;
  /** The operator commands' backend without an admin token (see {@link CliExtensions}). */
  localAdminBackend?: CliExtensions['localAdminBackend'];
}

/**
 * What a program embedding this CLI adds to it (the server's own `docbatch` command does: it
 * works in Postgres without an admin token, and checks model repositories).
 */
export interface CliExtensions {
  /** Backend of `tenants`, `keys` and `webhook-secret` without an admin token. */
  localAdminBackend?: (env: NodeJS.ProcessEnv) => Promise<AdminBackend>;
  /** `docbatch models check [DIR]`. */
  modelsCheck?: (ctx: CliContext, dir: string | undefined) => Promise<number>;
  /** The message and exit code of an error the extensions raise, or undefined for the default handling. */
  describeError?: (err: unknown) => { message: string; exitCode: number } | undefined;
}

/** The API client of a command; a missing key is a usage error. */
export function clientFor(ctx: CliContext): DocBatchClient {
  if (!ctx.apiKey) {
    throw new UsageError('an API key is required: pass --api-key or set DOCBATCH_API_KEY');
  }
  return new DocBatchClient({ baseUrl: ctx.url, apiKey: ctx.apiKey });
}

/** Writes one line to stdout. */
export function out(ctx: CliContext, line: string): void {
  ctx.stdout.write(line + '\n');
}

/** Writes one line to stderr (progress, logs, errors). */
export function log(ctx: CliContext, line: string): void {
  ctx.stderr.write(line + '\n');
}
