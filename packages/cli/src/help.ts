import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Help texts of the `docbatch` command line: the global usage (`docbatch --help`) and one text
 * per command (`docbatch COMMAND --help`, `docbatch help COMMAND`). `COMMAND_HELP` has exactly the
 * commands of the parser's option table (main.ts checks that with `satisfies`), so a new command
 * cannot ship without its help.
 */

export const USAGE = `usage: docbatch [--url URL] [--api-key KEY] [--json] <command> [options]
       docbatch <command> --help      that command's options and exit codes
       docbatch --version             the version of docbatch

commands:
  submit FILE --task T [--model M] [--option k=v]... [--metadata k=v]... [--webhook URL]
              [--priority 1-10] [--completion-window 24h] [--wait] [--out results.ndjson]
              [--format ndjson|json|csv|tsv|text] [--text-column C] [--id-column C]
              [--metadata-columns a,b]
      upload FILE (NDJSON, JSON array, CSV/TSV with a header row, or text: one document per
      line; format from the extension or --format; "-" reads NDJSON from stdin); prints the
      batch id. --wait follows it to the end (exit codes below); --out saves results.
  status ID [--wait]        show a batch (--wait: follow it to the end)
  list [--status S] [--limit N] [--all]
                            batches, newest first
  cancel ID                 cancel a batch
  retry ID                  requeue a batch's failed documents
  delete ID                 delete a finished batch with its documents and results
  usage [--start YYYY-MM-DD] [--end YYYY-MM-DD] [--group-by day,task,model]
                            this tenant's usage per UTC day, task and model (default: 30 days)
  results ID [--status completed|failed|cancelled|expired] [--out FILE] [--page-size N]
                            download results as NDJSON (stdout by default), resuming after drops
  train FILE --name NAME [--recipe R] [--epochs N] [--validation-split F] [--seed S]
             [--text-column text] [--label-column label] [--wait]
      train a text classifier from labelled examples (NDJSON {"text","label"} or CSV/TSV
      with a header) on the server; the result is model NAME@<next version>, yours only
  training-jobs list|get ID|cancel ID
                            training jobs: list them, show one (--wait: follow it), cancel
  models                    models the server can run (shared, and this tenant's own)
  models upload DIR [--name NAME]
                            upload the model in DIR (config.json + the files it names) as a new
                            version of one of this tenant's models
  models delete NAME@VERSION
                            delete one of this tenant's model versions
  models check [DIR]        check a model repository (or one <name>/<version> directory) the way
                            the server will, without a server; default: bundled + MODELS_DIR
                            (the server's CLI only: npm run cli -- models check in its repository)
  help [COMMAND]            this text, or a command's

operator commands (with an admin token: through the server's admin API at --url; without one,
the server's CLI only, in its repository: directly in Postgres, DATABASE_URL):
  tenants create NAME       create a tenant; prints its id and webhook secret (no API key)
  tenants list              tenants, their key counts and when a key was last used
  keys create --tenant NAME create an API key (and the tenant, if new); the key is shown once
  keys list --tenant NAME   a tenant's keys: id, prefix, created, last used, revoked
  keys revoke KEY_OR_ID     revoke a key (dbk_... or key_...); refused on the next request
  webhook-secret show --tenant NAME
                            print the tenant's current webhook secret (creates nothing)
  webhook-secret rotate --tenant NAME [--grace 24h]
                            new webhook secret; the old one signs beside it for --grace
                            (0, 30s, 90m, 24h, 7d; default 24h, at most 30d)

global options:
  --url URL          server (env DOCBATCH_URL, default http://127.0.0.1:3000)
  --api-key KEY      API key (env DOCBATCH_API_KEY)
  --admin-token TOK  ADMIN_TOKEN of the server, for the operator commands (env DOCBATCH_ADMIN_TOKEN)
  --json             machine-readable output on stdout
  -h, --help         this text (after a command: that command's)
  -V, --version      print the version and exit
exit codes: 0 ok (--wait: every document completed); 1 the command failed (an API error such as
  NOT_FOUND or TENANT_EXISTS, the server unreachable, an input file that cannot be read or parsed,
  keys revoke of a key revoked already), or (--wait) the batch ended failed, cancelled or expired;
  2 usage error (unknown command or option, a missing or malformed argument, no API key);
  3 (--wait) the batch completed with failed documents; 130 interrupted`;

const API_GLOBALS = `global options: --url URL (env DOCBATCH_URL), --api-key KEY (env DOCBATCH_API_KEY), --json
  (docbatch --help for all)`;
const OPERATOR_GLOBALS = `global options: --admin-token TOK (env DOCBATCH_ADMIN_TOKEN: through the admin API at
  --url, env DOCBATCH_URL; without it, the server's CLI only: straight in Postgres, env
  DATABASE_URL), --json (docbatch --help for all)`;
const SIMPLE_EXITS = `exit codes: 0 ok; 1 the server refused it (e.g. NOT_FOUND) or could not be reached;
  2 usage error`;
const WAIT_EXITS = `exit codes: 0 ok (--wait: the batch completed and every document completed); 1 the command
  failed (an API error such as NOT_FOUND, the server unreachable) or (--wait) the batch ended
  failed, cancelled or expired; 2 usage error; 3 (--wait) the batch completed with failed
  documents; 130 interrupted while waiting (the batch keeps running)`;
/** Exit codes of the operator commands; `extra1`: more reasons for 1, `usage2`: examples of 2. */
const operatorExits = (extra1: string, usage2: string): string =>
  `exit codes: 0 done; 1 refused by the server or the database (NOT_FOUND for an unknown tenant or
  key, TENANT_EXISTS, UNAUTHORIZED for a wrong admin token, the server unreachable)${extra1};
  2 usage error (${usage2}; no admin token with @docbatch/cli alone)`;

/** One text per command: usage line, what it does, its options, the global options it uses, exit codes. */
export const COMMAND_HELP = {
  submit: `usage: docbatch submit FILE --task T [options]

Uploads FILE as a new batch, streaming it, and prints the batch id (--json: the batch object).
FILE is NDJSON (one {"id", "text", "metadata"} per line), a JSON array, CSV/TSV with a header
row, or text (one document per non-blank line); the format comes from the extension (.ndjson,
.jsonl, .json, .csv, .tsv, .txt, .text) or --format; "-" reads NDJSON from stdin.

options:
  -t, --task T                 classification, summarization or translation (required)
  -m, --model M                name or name@version (default: the task's default model)
  -o, --option k=v             task option, repeatable; JSON values are parsed (top_k=2),
                               others kept as strings (target_lang=es)
      --metadata k=v           batch metadata, repeatable (at most 16 keys)
      --webhook URL            webhook_url for the signed end event
      --priority N             1 (highest) to 10 (default 5)
      --completion-window W    e.g. 1h, 24h (default 24h)
      --format F               ndjson, json, csv, tsv or text (default: from the extension)
      --text-column C          CSV/TSV column, or JSON field, holding the text (default text)
      --id-column C            column or field holding the document id (default id, if present)
      --metadata-columns a,b   CSV/TSV columns copied into each document's metadata
  -w, --wait                   follow the batch to its end
      --out FILE               with --wait: save the results (NDJSON) to FILE

${API_GLOBALS}
exit codes: 0 ok (--wait: the batch completed and every document completed); 1 the upload was
  refused (an API error such as INVALID_DOCUMENT, with the lines), the server unreachable, FILE
  cannot be read or parsed, or (--wait) the batch ended failed, cancelled or expired; 2 usage
  error (no FILE or --task, an unknown --task or --format, a bad --priority, --out without
  --wait); 3 (--wait) the batch completed with failed documents; 130 interrupted while waiting`,

  status: `usage: docbatch status ID [--wait]

Shows a batch: status, counts, and its error when it failed (--json: the batch object).

options:
  -w, --wait   follow the batch to its end, like submit --wait (without it the exit code is 0
               whatever the batch's state)

${API_GLOBALS}
${WAIT_EXITS}`,

  list: `usage: docbatch list [--status S] [--limit N] [--all]

The tenant's batches, newest first (--json: an array of batch objects).

options:
  --status S   only batches in status S: queued, running, completed, failed, cancelling,
               cancelled or expired
  --limit N    the first N batches (default 20)
  --all        every batch, page after page

${API_GLOBALS}
${SIMPLE_EXITS}`,

  cancel: `usage: docbatch cancel ID

Cancels a batch (idempotent) and prints "ID STATUS" (--json: the batch object). A finished
batch is BATCH_FINISHED (exit 1).

${API_GLOBALS}
${SIMPLE_EXITS}`,

  retry: `usage: docbatch retry ID

Requeues the batch's failed documents and prints "ID STATUS" (--json: the batch object).

${API_GLOBALS}
${SIMPLE_EXITS}`,

  delete: `usage: docbatch delete ID

Deletes a finished batch with its documents, results and webhook log and prints "ID deleted"
(--json: {"id", "object": "batch.deleted", "deleted": true}). A batch that has not finished is
BATCH_NOT_FINISHED (exit 1): cancel it first. An unknown or deleted batch is NOT_FOUND (exit 1).

${API_GLOBALS}
${SIMPLE_EXITS}`,

  usage: `usage: docbatch usage [--start YYYY-MM-DD] [--end YYYY-MM-DD] [--group-by day,task,model]

The tenant's usage: one row per bucket with batches, documents submitted, completed and failed,
input characters and tokens, and a TOTAL row (--json: the usage object).

options:
  --start YYYY-MM-DD      first UTC day, inclusive
  --end YYYY-MM-DD        last UTC day, inclusive (default: the 30 days up to today; a range
                          is at most 366 days)
  --group-by day,task,model
                          bucket keys, comma-separated (default day,model); '' gives one row
                          for the whole range

${API_GLOBALS}
${SIMPLE_EXITS}`,

  results: `usage: docbatch results ID [--status S] [--out FILE] [--page-size N]

Downloads the batch's finished documents as NDJSON in input order, resuming after a dropped
connection without duplicates or gaps.

options:
  --status S      only completed, failed, cancelled or expired documents
  --out FILE      write to FILE (through FILE.part, renamed when complete; default stdout)
  --page-size N   lines per request (default 5000)

${API_GLOBALS}
${SIMPLE_EXITS}`,

  models: `usage: docbatch models
       docbatch models upload DIR [--name NAME]
       docbatch models delete NAME@VERSION
       docbatch models check [DIR]

models: the models the server can run: the shared ones (OWNER system) and this tenant's own
(OWNER tenant) (--json: the array).

models upload: uploads every file under DIR (config.json plus the files it names; names starting
with "." are left out) as the next version of this tenant's model NAME (default: config.json
"name", which it must equal). The server checks it as it checks a MODELS_DIR entry; a refused
upload names the file and field and stores nothing. Prints the new NAME@VERSION (--json: the model).
  --name NAME     the model's name

models delete: deletes one of this tenant's model versions and its files (refused while a batch
that runs it is queued, running or cancelling).

models check: checks a model repository the way the API and the workers do, locally and without a
server: each model's files are opened and checked against config.json, and one probe document
runs. DIR is a repository (DIR/<name>/<version>/config.json) or one version directory
(DIR/config.json); without DIR, the bundled models and MODELS_DIR. Uses TF_BACKEND (default auto).
The server's CLI only (npm run cli -- models check in its repository; @docbatch/cli alone: exit 2).
Prints "ok ..." per served model and "FAIL ..." per refused one (--json: {"backend", "ok",
"models", "problems"}).

${API_GLOBALS}; models check needs no server and no key
exit codes: 0 ok (models check: every model passes); 1 the server refused it or could not be
  reached, or models check found a problem or DIR cannot be read (models upload: DIR is not a
  directory); 2 usage error`,

  tenants: `usage: docbatch tenants create NAME
       docbatch tenants list

tenants create: creates a tenant with a new webhook secret and no API key; prints its id and
  secret (--json: the tenant object with webhook_secret). Names: 1-64 letters, digits, '.', '_'
  or '-', starting with a letter or digit.
tenants list: every tenant: name, id, active and revoked keys, last use of any of its keys,
  created (--json: an array of tenant objects).

${OPERATOR_GLOBALS}
${operatorExits('', 'a bad NAME')}`,

  keys: `usage: docbatch keys create --tenant NAME
       docbatch keys list --tenant NAME
       docbatch keys revoke KEY_OR_ID

keys create: a new API key for the tenant (created first when it is new); prints the key, shown
  only this once, its id and the tenant's webhook secret (--json: {"tenant", "api_key",
  "webhook_secret"}).
keys list: the tenant's keys, oldest first: id, prefix, created, last used, revoked (--json: an
  array of key objects).
keys revoke: revokes a key given by its id (key_...) or the key itself (dbk_...); the next request
  with it is refused (--json: {"revoked", "key"}).
A tenant is named by its name or its id (ten_...).

options:
  --tenant NAME   the tenant (keys create, keys list)

${OPERATOR_GLOBALS}
${operatorExits(',\n  or keys revoke of a key revoked already', 'a missing --tenant, a bad NAME')}`,

  'webhook-secret': `usage: docbatch webhook-secret show --tenant NAME
       docbatch webhook-secret rotate --tenant NAME [--grace 24h]

webhook-secret show: prints the tenant's current webhook secret (creates nothing) and, during a
  rotation's grace period, until when the previous one still signs.
webhook-secret rotate: a new webhook secret signs from now on; the previous one keeps signing
  beside it for the grace period, so every delivery in between carries both signatures.
(--json: {"object": "webhook_secret", "tenant", "webhook_secret", "previous_secret_expires_at"})

options:
  --tenant NAME   the tenant (name or ten_... id; required)
  --grace D       rotate: how long the previous secret keeps signing: 0, 30s, 90m, 24h, 7d
                  (default 24h, at most 30d)

${OPERATOR_GLOBALS}
${operatorExits('', 'a missing --tenant, a bad --grace')}`,

  train: `usage: docbatch train FILE --name NAME [options]

Uploads labelled examples, streaming them, as a training job: the server's workers train a text
classifier and store it as the next version of your model NAME (NAME@1, NAME@2, ...), which only
your tenant can see and use (docbatch submit FILE --task classification --model NAME@N). Prints
the job id (--json: the job object); with --wait follows it epoch by epoch and prints the model.
FILE is NDJSON (one {"text", "label"} per line, sent as is) or CSV/TSV with a header row
(converted to NDJSON while streaming; a CSV that cannot be parsed names its line); the format
comes from the extension (.ndjson, .jsonl, .csv, .tsv) or --format; "-" reads NDJSON from stdin.
Lines the server refuses are named by their line in FILE.

options:
  -n, --name NAME              the model to create (required; a new version if it exists)
      --recipe R               training recipe (default embedding-pooling)
      --epochs N               passes over the training part (default 12)
      --validation-split F     share of each label held out for validation (default 0.2)
      --seed S                 seed of the split and the initial weights (default 42): the same
                               data, recipe and seed give the same model
      --hyperparameters JSON   any other hyperparameters, e.g. '{"batch_size": 64}'
                               (docs/training.md); --epochs/--validation-split/--seed win
      --webhook URL            webhook_url for training_job.succeeded / failed / cancelled
      --format F               ndjson, csv or tsv (default: from the extension)
      --text-column C          column (or NDJSON field) holding the text (default text)
      --label-column C         column (or NDJSON field) holding the label (default label)
  -w, --wait                   follow the job to its end and print the model (name@version)

${API_GLOBALS}
exit codes: 0 ok (--wait: the job succeeded); 1 the upload was refused (an API error such as
  INVALID_DOCUMENT with the lines, INSUFFICIENT_TRAINING_DATA, INVALID_HYPERPARAMETERS), the server
  unreachable, FILE cannot be read or parsed, or (--wait) the job failed or was cancelled; 2 usage
  error (no FILE or --name, a bad --epochs, --seed, --validation-split or --hyperparameters);
  130 interrupted while waiting (the job keeps running)`,

  'training-jobs': `usage: docbatch training-jobs list [--status S] [--limit N] [--all]
       docbatch training-jobs get ID [--wait]
       docbatch training-jobs cancel ID

list: the tenant's training jobs, newest first: status, model, epoch, validation accuracy
  (--json: an array of job objects).
get: one job: status, progress (epoch, loss, validation accuracy, ETA), the model it made, its
  held-out metrics (--json: the job object); --wait follows it to its end (exit 1 unless it succeeded).
cancel: cancels a job (idempotent): a queued one at once, a running one at its next training
  batch; prints "ID STATUS". A job that succeeded or failed is TRAINING_JOB_FINISHED (exit 1).

options:
  --status S   list: only jobs in status S: queued, running, succeeded, failed or cancelled
  --limit N    list: the first N jobs (default 20)
  --all        list: every job, page after page
  -w, --wait   get: follow the job to its end

${API_GLOBALS}
${SIMPLE_EXITS}; get --wait: 1 when the job failed or was cancelled`,

  help: `usage: docbatch help [COMMAND]

Prints the global usage, or COMMAND's usage, options and exit codes (the same as
docbatch COMMAND --help).

exit codes: 0 ok; 2 an unknown COMMAND`,
} as const;

export type CommandName = keyof typeof COMMAND_HELP;

export function isCommand(name: string): name is CommandName {
  return Object.prototype.hasOwnProperty.call(COMMAND_HELP, name);
}

/** The version of @docbatch/cli (its package.json, one level above src/ and dist/). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as {
    version?: unknown;
  };
  if (typeof pkg.version !== 'string') throw new Error('package.json has no version');
  return pkg.version;
}
