import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { DocBatchError } from '@docbatch/sdk';
import type { CliContext, CliExtensions } from './cli-context';
import { EXIT } from './exit-codes';
import { cancelOrRetry, deleteBatch, list, models, results, status } from './commands/batch-commands';
import { train, trainingJobs } from './commands/train';
import { usage } from './commands/usage';
import { submit } from './commands/submit';
import { COMMAND_HELP, isCommand, packageVersion, USAGE } from './help';
import type { CommandName } from './help';
import { CsvError } from './inputs/csv-parser';
import { InputError } from './inputs/read-documents';
import { UsageError } from './usage-error';

/**
 * The `docbatch` command line. `runCli(argv)` parses, runs one command and resolves with the exit
 * code: 0 ok, 1 failed (a batch that did not complete, an API error, a bad input file),
 * 2 usage error. Output: results and `--json` objects on stdout, progress and logs on stderr.
 */

type Options = NonNullable<ParseArgsConfig['options']>;

const GLOBAL: Options = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  'admin-token': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
};

/** Each command's own options; exactly the commands of COMMAND_HELP (a command without help does not compile). */
export const COMMAND_OPTIONS = {
  submit: {
    task: { type: 'string', short: 't' },
    model: { type: 'string', short: 'm' },
    option: { type: 'string', short: 'o', multiple: true },
    metadata: { type: 'string', multiple: true },
    webhook: { type: 'string' },
    priority: { type: 'string' },
    'completion-window': { type: 'string' },
    format: { type: 'string' },
    'text-column': { type: 'string' },
    'id-column': { type: 'string' },
    'metadata-columns': { type: 'string' },
    wait: { type: 'boolean', short: 'w' },
    out: { type: 'string' },
  },
  status: { wait: { type: 'boolean', short: 'w' } },
  list: { status: { type: 'string' }, limit: { type: 'string' }, all: { type: 'boolean' } },
  cancel: {},
  retry: {},
  delete: {},
  usage: { start: { type: 'string' }, end: { type: 'string' }, 'group-by': { type: 'string' } },
  results: { status: { type: 'string' }, out: { type: 'string' }, 'page-size': { type: 'string' } },
  keys: { tenant: { type: 'string' } },
  tenants: {},
  'webhook-secret': { tenant: { type: 'string' }, grace: { type: 'string' } },
  models: { name: { type: 'string' } },
  train: {
    name: { type: 'string', short: 'n' },
    recipe: { type: 'string' },
    epochs: { type: 'string' },
    'validation-split': { type: 'string' },
    seed: { type: 'string' },
    hyperparameters: { type: 'string' },
    webhook: { type: 'string' },
    format: { type: 'string' },
    'text-column': { type: 'string' },
    'label-column': { type: 'string' },
    wait: { type: 'boolean', short: 'w' },
  },
  'training-jobs': {
    status: { type: 'string' },
    limit: { type: 'string' },
    all: { type: 'boolean' },
    wait: { type: 'boolean', short: 'w' },
  },
  help: {},
} satisfies Record<CommandName, Options>;

export { USAGE };

export interface CliIo {
  stdout: CliContext['stdout'];
  stderr: CliContext['stderr'];
  env: NodeJS.ProcessEnv;
}

/** The first token that is neither an option nor the value of a global option taking one. */
function findCommand(argv: string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') return i + 1 < argv.length ? i + 1 : -1;
    if (a === '--url' || a === '--api-key' || a === '--admin-token') {
      i++;
      continue;
    }
    if (!a.startsWith('-') || a === '-') return i;
  }
  return -1;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strs = (v: unknown): string[] | undefined => (Array.isArray(v) ? (v as string[]) : undefined);

async function dispatch(argv: string[], io: CliIo, ext: CliExtensions): Promise<number> {
  const at = findCommand(argv);
  const command = at === -1 ? undefined : argv[at];
  if (command !== undefined && !isCommand(command)) {
    throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
  const commandOptions: Options = command ? COMMAND_OPTIONS[command] : {};
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...GLOBAL, ...commandOptions },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true || command === 'help') {
    // `docbatch COMMAND --help`, `docbatch help [COMMAND]`: to stdout, exit 0.
    const topic =
      command === 'help' ? (positionals[1] ?? (values.help === true ? 'help' : undefined)) : command;
    if (topic !== undefined && !isCommand(topic))
      throw new UsageError(`unknown command ${JSON.stringify(topic)}`);
    if (command === 'help' && positionals.length > 2) {
      throw new UsageError(`too many arguments for help: ${positionals.slice(2).join(' ')}`);
    }
    io.stdout.write((topic === undefined ? USAGE : COMMAND_HELP[topic]) + '\n');
    return EXIT.OK;
  }
  if (values.version === true) {
    io.stdout.write(packageVersion() + '\n');
    return EXIT.OK;
  }
  if (!command) {
    // No command: the usage is the error message.
    io.stderr.write(USAGE + '\n');
    return EXIT.USAGE;
  }
  const args = positionals.slice(1);
  const json = values.json === true;
  const ctx: CliContext = {
    stdout: io.stdout,
    stderr: io.stderr,
    env: io.env,
    url: str(values.url) ?? io.env.DOCBATCH_URL ?? 'http://127.0.0.1:3000',
    apiKey: str(values['api-key']) ?? (io.env.DOCBATCH_API_KEY || undefined),
    adminToken: str(values['admin-token']) ?? (io.env.DOCBATCH_ADMIN_TOKEN || undefined),
    json,
    interactive: io.stderr.isTTY === true && !json,
    localAdminBackend: ext.localAdminBackend,
  };
  const maxArgs: Record<string, number> = {
    submit: 1,
    train: 1,
    'training-jobs': 2,
    keys: 2,
    models: 2,
    tenants: 2,
    'webhook-secret': 1,
  };
  if (
    args.length >
    (maxArgs[command] ?? (command === 'models' || command === 'list' || command === 'usage' ? 0 : 1))
  ) {
    throw new UsageError(`too many arguments for ${command}: ${args.join(' ')}`);
  }

  switch (command) {
    case 'submit':
      if (!args[0]) throw new UsageError('submit needs a FILE (or - for stdin)');
      return submit(ctx, {
        file: args[0],
        task: str(values.task),
        model: str(values.model),
        option: strs(values.option),
        metadata: strs(values.metadata),
        webhook: str(values.webhook),
        priority: str(values.priority),
        completionWindow: str(values['completion-window']),
        format: str(values.format),
        textColumn: str(values['text-column']),
        idColumn: str(values['id-column']),
        metadataColumns: str(values['metadata-columns']),
        wait: values.wait === true,
        out: str(values.out),
      });
    case 'status':
      return status(ctx, args[0], values.wait === true);
    case 'list':
      return list(ctx, { status: str(values.status), limit: str(values.limit), all: values.all === true });
    case 'cancel':
    case 'retry':
      return cancelOrRetry(ctx, command, args[0]);
    case 'delete':
      return deleteBatch(ctx, args[0]);
    case 'train':
      if (!args[0])
        throw new UsageError('train needs a FILE of labelled examples (NDJSON or CSV; - for stdin)');
      return train(ctx, {
        file: args[0],
        name: str(values.name),
        recipe: str(values.recipe),
        epochs: str(values.epochs),
        validationSplit: str(values['validation-split']),
        seed: str(values.seed),
        hyperparameters: str(values.hyperparameters),
        webhook: str(values.webhook),
        format: str(values.format),
        textColumn: str(values['text-column']),
        labelColumn: str(values['label-column']),
        wait: values.wait === true,
      });
    case 'training-jobs':
      return trainingJobs(ctx, args[0], args[1], {
        status: str(values.status),
        limit: str(values.limit),
        all: values.all === true,
        wait: values.wait === true,
      });
    case 'usage':
      return usage(ctx, {
        start: str(values.start),
        end: str(values.end),
        groupBy: str(values['group-by']),
      });
    case 'results':
      return results(ctx, args[0], {
        status: str(values.status),
        out: str(values.out),
        pageSize: str(values['page-size']),
      });
    case 'models': {
      if (values.name !== undefined && args[0] !== 'upload') {
        throw new UsageError('--name goes with models upload');
      }
      if (args[0] === undefined) return models(ctx);
      if (args[0] === 'upload' || args[0] === 'delete') {
        const { modelsDelete, modelsUpload } = await import('./commands/models-upload');
        return args[0] === 'upload'
          ? modelsUpload(ctx, args[1], str(values.name))
          : modelsDelete(ctx, args[1]);
      }
      if (args[0] !== 'check') throw new UsageError(`unknown models subcommand ${JSON.stringify(args[0])}`);
      if (!ext.modelsCheck) {
        throw new UsageError(
          "models check runs the model layer locally: use the server's CLI (npm run cli -- models check in its repository)",
        );
      }
      return ext.modelsCheck(ctx, args[1]);
    }
    case 'keys': {
      // Loaded on demand (without an admin token they open Postgres; the API commands need neither).
      const { keys } = await import('./commands/keys');
      return keys(ctx, args[0], { tenant: str(values.tenant), key: args[1] });
    }
    case 'tenants': {
      const { tenants } = await import('./commands/tenants');
      return tenants(ctx, args[0], args[1]);
    }
    case 'webhook-secret': {
      const { webhookSecret } = await import('./commands/webhook-secret');
      return webhookSecret(ctx, args[0], { tenant: str(values.tenant), grace: str(values.grace) });
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

/**
 * Runs one command line; never throws: errors become a message on stderr and the exit code.
 * `ext`: what an embedding program adds (see {@link CliExtensions}); none for the packaged `docbatch`.
 */
export async function runCli(argv: string[], io: CliIo, ext: CliExtensions = {}): Promise<number> {
  const fail = (message: string, code: number): number => {
    io.stderr.write(`docbatch: ${message}\n`);
    return code;
  };
  // A usage error points at the command's own help when the command is known.
  const at = findCommand(argv);
  const command = at === -1 ? undefined : argv[at];
  const hint = `(run docbatch ${command !== undefined && isCommand(command) && command !== 'help' ? `${command} ` : ''}--help)`;
  try {
    return await dispatch(argv, io, ext);
  } catch (err) {
    if (err instanceof UsageError) return fail(`${err.message}\n${hint}`, EXIT.USAGE);
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      return fail(`${(err as Error).message}\n${hint}`, EXIT.USAGE);
    }
    if (err instanceof DocBatchError) {
      const lines = [`${err.code}: ${err.message}`];
      for (const d of err.details.slice(0, 20)) {
        const where = [d.line !== undefined ? `line ${d.line}` : '', d.file ?? '', d.field ?? '']
          .filter(Boolean)
          .join(' ');
        lines.push(`  ${where ? `${where}: ` : ''}${d.message}`);
      }
      if (err.details.length > 20) lines.push(`  ... ${err.details.length - 20} more`);
      return fail(lines.join('\n'), 1);
    }
    if (err instanceof InputError || err instanceof CsvError) return fail(`bad input: ${err.message}`, 1);
    const described = ext.describeError?.(err);
    if (described) return fail(described.message, described.exitCode);
    if ((err as Error).name === 'AbortError' || (err as Error).message === 'interrupted') {
      return fail('interrupted (the batch keeps running on the server)', 130);
    }
    return fail(`error: ${(err as Error).message ?? String(err)}`, 1);
  }
}
