import { runCli as runPackagedCli } from '@docbatch/cli';
import type { CliExtensions, CliIo } from '@docbatch/cli';
import { AppError, ConfigError, ServiceUnavailableError } from '../core/errors';

/**
 * The server's `docbatch` command (bin/docbatch.js): every command of @docbatch/cli (they talk to
 * the API through @docbatch/sdk), plus what needs this repository:
 * - `tenants`, `keys`, `webhook-secret` without an admin token work in Postgres directly
 *   (`DATABASE_URL`; `keys create` applies pending migrations first), so the first key can be
 *   created before the API ever ran;
 * - `models check [DIR]` checks a model repository with the server's model layer.
 * Both are loaded on demand: the API commands load neither Prisma nor TensorFlow.js.
 */
export const SERVER_CLI_EXTENSIONS: CliExtensions = {
  async localAdminBackend(env) {
    const { DbAdminBackend } = await import('./commands/db-admin-backend');
    return DbAdminBackend.open(env);
  },
  async modelsCheck(ctx, dir) {
    const { modelsCheck } = await import('./commands/models-check');
    return modelsCheck(ctx, dir);
  },
  describeError(err) {
    // The operator commands working straight in Postgres raise the admin API's errors.
    if (err instanceof AppError) return { message: `${err.code}: ${err.message}`, exitCode: 1 };
    if (err instanceof ServiceUnavailableError || err instanceof ConfigError) {
      return { message: err.message, exitCode: 1 };
    }
    return undefined;
  },
};

/** Runs one command line of the server's CLI; never throws (see @docbatch/cli's runCli). */
export function runCli(argv: string[], io: CliIo): Promise<number> {
  return runPackagedCli(argv, io, SERVER_CLI_EXTENSIONS);
}
