/**
 * @docbatch/cli as a library: the `docbatch` command line (`runCli`) and what a program embedding
 * it needs to add commands that work locally (the server's own CLI adds the operator commands'
 * Postgres backend and `models check`). The commands talk to the server through @docbatch/sdk only.
 */
export { runCli, COMMAND_OPTIONS } from './main';
export type { CliIo } from './main';
export { clientFor, log, out } from './cli-context';
export type { CliContext, CliExtensions } from './cli-context';
export type { AdminBackend } from './commands/admin-backend';
export { EXIT } from './exit-codes';
export { COMMAND_HELP, USAGE, isCommand, packageVersion } from './help';
export type { CommandName } from './help';
export { InputError } from './inputs/read-documents';
export { UsageError } from './usage-error';
