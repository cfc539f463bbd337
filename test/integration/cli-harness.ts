import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApiServer } from '../../src/api/server';
import { loadConfig } from '../../src/core/config';
import { Database } from '../../src/core/db/database';
import { createLogger } from '../../src/core/logger';
import { claimChunks, writeOutcomes } from '../../src/core/pipeline/chunk-store';
import type { DocOutcome } from '../../src/core/pipeline/chunk-store';
import { createTestEnvironment } from '../support/test-db';
import type { TestEnvironment } from '../support/test-db';

/**
 * Shared setup of the CLI tests: an isolated database + queue prefix, a live ApiServer on port 0,
 * and `cli(args)`, which runs the real `docbatch` command as a subprocess from the TypeScript
 * sources (an @swc/core require hook, and @docbatch/sdk and @docbatch/cli from packages/<name>/src:
 * no build step is needed, `npm test` has none).
 */

const ROOT = path.resolve(__dirname, '../..');
const ENTRY = path.join(ROOT, 'src/cli/bin.ts');

/**
 * Compiles .ts files on require with @swc/core (CommonJS, no type check: tsc does that), caching
 * the output by file name and content in the OS temp directory, so the many CLI runs of a test
 * file compile each source file once.
 */
const HOOK = `
const Module = require('node:module');
const fs = require('node:fs');
const path = require('node:path');
const { createHash } = require('node:crypto');
const cacheDir = ${JSON.stringify(path.join(tmpdir(), 'docbatch-cli-swc-cache'))};
fs.mkdirSync(cacheDir, { recursive: true });
let swc;
Module._extensions['.ts'] = function (m, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const file = path.join(cacheDir, createHash('sha1').update(filename + '\\0' + source).digest('hex') + '.js');
  let code;
  try {
    code = fs.readFileSync(file, 'utf8');
  } catch {
    swc = swc || require(${JSON.stringify(path.join(ROOT, 'node_modules/@swc/core'))});
    code = swc.transformSync(source, {
      filename, module: { type: 'commonjs' }, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    }).code;
    fs.writeFileSync(file + '.' + process.pid, code);
    fs.renameSync(file + '.' + process.pid, file);
  }
  m._compile(code, filename);
};
require(${JSON.stringify(path.join(ROOT, 'scripts/workspace-sources.js'))}).register();
process.argv.splice(1, 0, 'docbatch');
require(${JSON.stringify(ENTRY)});
`;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `docbatch` command as a subprocess (from the TypeScript sources) with `env`. */
export function runCliProcess(args: string[], env: Record<string, string>, stdin = ''): Promise<CliResult> {
  return new Promise<CliResult>((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', HOOK, '--', ...args], {
      cwd: ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** This process's environment without DOCBATCH_* variables (for CLI subprocesses). */
export function inheritedEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] => e[1] !== undefined && !e[0].startsWith('DOCBATCH_'),
    ),
  );
}

export interface CliHarness {
  env: TestEnvironment;
  api: ApiServer;
  db: Database;
  url: string;
  /** Environment of the subprocess: the test database, prefix and API URL (no API key). */
  childEnv: Record<string, string>;
  cli(args: string[], opts?: { env?: Record<string, string>; stdin?: string }): Promise<CliResult>;
  stop(): Promise<void>;
}

/** `overrides`: extra API configuration (e.g. `ADMIN_TOKEN`, `WEBHOOK_ALLOWLIST`). */
export async function startCliHarness(overrides: Record<string, string> = {}): Promise<CliHarness> {
  const env = await createTestEnvironment();
  const config = loadConfig('api', {
    ...env.env,
    PORT: '0',
    HOST: '127.0.0.1',
    TF_BACKEND: 'cpu',
    LOG_LEVEL: 'silent',
    ...overrides,
  });
  const api = new ApiServer(config, createLogger('silent'));
  await api.start();
  const db = new Database(env.databaseUrl, 4);
  const url = `http://127.0.0.1:${api.port}`;
  const childEnv = { ...inheritedEnv(), ...env.env, DOCBATCH_URL: url, LOG_LEVEL: 'silent' };
  return {
    env,
    api,
    db,
    url,
    childEnv,
    cli(args, opts = {}) {
      return runCliProcess(args, { ...childEnv, ...opts.env }, opts.stdin ?? '');
    },
    async stop() {
      await api.stop();
      await db.close();
      await env.cleanup();
    },
  };
}

/**
 * Plays the worker for a batch through the pipeline's own core functions (claimChunks, then the
 * bulk write-back writeOutcomes, which finalizes the batch): documents `seqFrom..seqTo` finish,
 * those whose client id is in `failIds` as failed. Results are summarization-shaped: the first
 * sentence and its index.
 */
export async function processDocuments(
  db: Database,
  batchId: string,
  opts: { seqFrom?: number; seqTo?: number; failIds?: ReadonlySet<string> } = {},
): Promise<number> {
  const total = (await db.pool.query<{ total: number }>('SELECT total FROM batches WHERE id = $1', [batchId]))
    .rows[0]?.total;
  if (total === undefined) throw new Error(`no batch ${batchId}`);
  const [claim] = await claimChunks(
    db.pool,
    [{ batchId, seqFrom: opts.seqFrom ?? 1, seqTo: opts.seqTo ?? total }],
    100, // maxAttempts
  );
  if (!claim || claim.kind !== 'run') return 0;
  const ids = await db.pool.query<{ seq: number; client_id: string }>(
    'SELECT seq, client_id FROM documents WHERE batch_id = $1 AND seq = ANY($2::int[])',
    [batchId, claim.docs.map((d) => d.seq)],
  );
  const idOf = new Map(ids.rows.map((r) => [r.seq, r.client_id]));
  const outcomes: DocOutcome[] = claim.docs.map((d) =>
    opts.failIds?.has(idOf.get(d.seq) ?? '')
      ? { batchId, seq: d.seq, error: { code: 'TEXT_REJECTED', message: 'the test rejected this document' } }
      : {
          batchId,
          seq: d.seq,
          result: { summary: d.text.split(/(?<=[.!?])\s/)[0] ?? '', sentence_indices: [0] },
        },
  );
  return writeOutcomes(db.pool, outcomes);
}
