import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { runCli } from '../../src/cli/main';
import { DocBatchClient } from '@docbatch/sdk';
import type { Batch, ResultLine } from '@docbatch/sdk';
import { waitFor } from '../support/wait-for';
import { failWholeBatch } from '../../src/core/pipeline/chunk-store';
import { processDocuments, startCliHarness } from './cli-harness';
import type { CliHarness } from './cli-harness';

/**
 * The `docbatch` CLI as a user runs it: a subprocess against a live API, for every command and
 * every input format. Documents are finished through the pipeline's core write-back functions.
 */

let h: CliHarness;
let key: string;
let dir: string;
let sdk: DocBatchClient;
const authed = (): Record<string, string> => ({ DOCBATCH_API_KEY: key });

// Subprocesses and a live API: allow for a loaded CI machine.
jest.setTimeout(120_000);

beforeAll(async () => {
  h = await startCliHarness();
  dir = mkdtempSync(path.join(tmpdir(), 'docbatch-cli-'));
  const r = await h.cli(['keys', 'create', '--tenant', 'acme', '--json']);
  expect(r.code).toBe(0);
  key = (JSON.parse(r.stdout) as { api_key: string }).api_key;
  sdk = new DocBatchClient({ baseUrl: h.url, apiKey: key });
});
afterAll(async () => {
  await h?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
}
function lines(text: string): ResultLine[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ResultLine);
}
const BATCH_ID = /^bat_[0-9a-z]+$/;

/** Runs the CLI in this process (`runCli`): for the many error cases, where a subprocess each would only add time. */
async function local(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (write: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        write(chunk.toString('utf8'));
        cb();
      },
    });
  const code = await runCli(args, {
    stdout: sink((x) => (stdout += x)),
    stderr: sink((x) => (stderr += x)),
    env: { DATABASE_URL: h.env.databaseUrl, DOCBATCH_URL: h.url, ...env },
  });
  return { code, stdout, stderr };
}

describe('keys', () => {
  it('create --json prints exactly tenant, api_key and webhook_secret; the key works', async () => {
    const r = await h.cli(['keys', 'create', '--tenant', 'json-tenant', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, string>;
    expect(Object.keys(out)).toEqual(['tenant', 'api_key', 'webhook_secret']);
    expect(out.tenant).toBe('json-tenant');
    expect(out.api_key).toMatch(/^dbk_/);
    expect(out.webhook_secret).toMatch(/^whsec_/);
    const models = await h.cli(['models', '--json'], { env: { DOCBATCH_API_KEY: out.api_key as string } });
    expect(models.code).toBe(0);
  });

  it('create prints the key for a person; revoke takes effect; list shows it revoked', async () => {
    const r = await h.cli(['keys', 'create', '--tenant', 'people']);
    expect(r.code).toBe(0);
    const apiKey = /api key:\s+(dbk_\S+)/.exec(r.stdout)?.[1];
    expect(apiKey).toBeDefined();
    expect(r.stdout).toMatch(/webhook secret:\s+whsec_/);
    expect(r.stderr).toContain('shown only this once');

    const revoke = await h.cli(['keys', 'revoke', apiKey as string]);
    expect(revoke.code).toBe(0);
    const denied = await h.cli(['models'], { env: { DOCBATCH_API_KEY: apiKey as string } });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('UNAUTHORIZED');
    const again = await local(['keys', 'revoke', apiKey as string]);
    expect(again.code).toBe(1);

    const list = await local(['keys', 'list', '--tenant', 'people', '--json']);
    expect(list.code).toBe(0);
    const keys = JSON.parse(list.stdout) as { prefix: string; revoked_at: string | null }[];
    expect(keys).toHaveLength(1);
    expect(apiKey?.startsWith(keys[0]?.prefix as string)).toBe(true);
    expect(keys[0]?.revoked_at).not.toBeNull();
  });
});

describe('usage errors exit 2, failures exit 1', () => {
  it('usage errors print a message and exit 2', async () => {
    // One through the real process (exit status), the rest in-process.
    const proc = await h.cli(['frobnicate'], { env: authed() });
    expect(proc.code).toBe(2);
    expect(proc.stderr).toContain('unknown command "frobnicate"');
    const cases: [string[], string][] = [
      [['submit', '--task', 'summarization'], 'needs a FILE'],
      [['submit', 'x.ndjson'], 'needs --task'],
      [['submit', 'x.ndjson', '--task', 'poetry'], 'unknown --task'],
      [['submit', 'x.xml', '--task', 'summarization'], '--format'],
      [['status', 'bat_x', '--bogus'], "Unknown option '--bogus'"],
      [['list', '--status', 'nope'], 'unknown --status'],
      [['keys', 'create'], 'needs --tenant'],
    ];
    const runs = await Promise.all(cases.map(([args]) => local(args, authed())));
    runs.forEach((r, i) => {
      expect([cases[i]?.[0], r.code]).toEqual([cases[i]?.[0], 2]);
      expect(r.stderr).toContain(cases[i]?.[1]);
    });
  });

  it('a missing API key is a usage error', async () => {
    const r = await h.cli(['models']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('DOCBATCH_API_KEY');
  });

  it('API errors print the contract code and line details and exit 1', async () => {
    const bad = file('bad.ndjson', '{"text":"fine"}\n{"text":""}\n{"text":"ok"}\n{"id":5,"text":"x"}\n');
    const count = async (table: string): Promise<number> =>
      (await h.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n ?? -1;
    const before = [await count('batches'), await count('documents')];
    const r = await h.cli(['submit', bad, '--task', 'summarization'], { env: authed() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('INVALID_DOCUMENT');
    expect(r.stderr).toMatch(/line 2/);
    expect(r.stderr).toMatch(/line 4/);
    const unknownModel = await local(
      ['submit', bad, '--task', 'summarization', '--model', 'no-such-model'],
      authed(),
    );
    expect(unknownModel.code).toBe(1);
    expect(unknownModel.stderr).toContain('UNKNOWN_MODEL');
    const missing = await local(['status', 'bat_doesnotexist'], authed());
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('NOT_FOUND');
    // Nothing was stored by the rejected uploads.
    expect([await count('batches'), await count('documents')]).toEqual(before);
  });
});

describe('models', () => {
  it('lists the models as a table and as JSON', async () => {
    const [table, json] = await Promise.all([
      h.cli(['models'], { env: authed() }),
      h.cli(['models', '--json'], { env: authed() }),
    ]);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+TASK\s+DEFAULT\s+OWNER\s+BACKEND/);
    const models = JSON.parse(json.stdout) as { id: string; task: string; default: boolean }[];
    expect(models.length).toBeGreaterThan(0);
    const summarizer = models.find((m) => m.task === 'summarization' && m.default);
    expect(summarizer?.id).toMatch(/@\d+$/);
    expect(table.stdout).toContain(summarizer?.id);
  });
});

describe('submit, every input format', () => {
  async function docsOf(batchId: string): Promise<{ client_id: string; text: string; metadata: unknown }[]> {
    const r = await h.db.pool.query<{ client_id: string; text: string; metadata: unknown }>(
      'SELECT client_id, text, metadata FROM documents WHERE batch_id = $1 ORDER BY seq',
      [batchId],
    );
    return r.rows;
  }

  it('NDJSON (streamed as is), with options, metadata, priority and completion window', async () => {
    const p = file(
      'a.ndjson',
      '{"id":"n1","text":"First. Second.","metadata":{"k":1}}\n{"id":"n2","text":"Another one."}\n',
    );
    const r = await h.cli(
      [
        'submit',
        p,
        '--task',
        'summarization',
        '--option',
        'max_sentences=2',
        '--metadata',
        'project=cli',
        '--priority',
        '3',
        '--completion-window',
        '2h',
        '--webhook',
        'https://93.184.216.34/hooks/docbatch',
        '--json',
      ],
      { env: authed() },
    );
    expect(r.code).toBe(0);
    const batch = JSON.parse(r.stdout) as Batch;
    expect(batch).toMatchObject({
      object: 'batch',
      task: 'summarization',
      status: 'queued',
      options: { max_sentences: 2 },
      metadata: { project: 'cli' },
      priority: 3,
      completion_window: '2h',
      webhook_url: 'https://93.184.216.34/hooks/docbatch',
    });
    expect(batch.counts.total).toBe(2);
    expect(r.stderr).toContain('uploading');
    expect(await docsOf(batch.id)).toEqual([
      { client_id: 'n1', text: 'First. Second.', metadata: { k: 1 } },
      { client_id: 'n2', text: 'Another one.', metadata: null },
    ]);
  });

  it('CSV with quoted commas, quotes and newlines, custom columns and metadata columns', async () => {
    const p = file(
      'a.csv',
      'key,body,lang\r\nc1,"Hello, world. Bye.",en\r\nc2,"She said ""hi"".\nThen left.",fr\r\nc3,plain text,de\r\n',
    );
    const r = await h.cli(
      [
        'submit',
        p,
        '--task',
        'summarization',
        '--text-column',
        'body',
        '--id-column',
        'key',
        '--metadata-columns',
        'lang',
      ],
      { env: authed() },
    );
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    expect(id).toMatch(BATCH_ID);
    expect(await docsOf(id)).toEqual([
      { client_id: 'c1', text: 'Hello, world. Bye.', metadata: { lang: 'en' } },
      { client_id: 'c2', text: 'She said "hi".\nThen left.', metadata: { lang: 'fr' } },
      { client_id: 'c3', text: 'plain text', metadata: { lang: 'de' } },
    ]);
  });

  it('TSV, JSON arrays, plain text and NDJSON on stdin', async () => {
    const tsv = file('a.tsv', 'id\ttext\nt1\ttab separated, with a comma\n');
    const json = file(
      'a.json',
      JSON.stringify([{ id: 'j1', text: 'From JSON.', metadata: { n: 1 } }, 'A bare string.']),
    );
    const txt = file('a.txt', 'line one.\n\nline three.\n');
    const [rt, rj, rx, rs] = await Promise.all([
      h.cli(['submit', tsv, '--task', 'summarization'], { env: authed() }),
      h.cli(['submit', json, '--task', 'summarization'], { env: authed() }),
      h.cli(['submit', txt, '--task', 'summarization'], { env: authed() }),
      h.cli(['submit', '-', '--task', 'summarization'], {
        env: authed(),
        stdin: '{"id":"s1","text":"From stdin."}\n',
      }),
    ]);
    for (const r of [rt, rj, rx, rs]) expect(r.code).toBe(0);
    expect(await docsOf(rt.stdout.trim())).toEqual([
      { client_id: 't1', text: 'tab separated, with a comma', metadata: null },
    ]);
    expect(await docsOf(rj.stdout.trim())).toEqual([
      { client_id: 'j1', text: 'From JSON.', metadata: { n: 1 } },
      { client_id: '2', text: 'A bare string.', metadata: null },
    ]);
    expect(await docsOf(rx.stdout.trim())).toEqual([
      { client_id: '1', text: 'line one.', metadata: null },
      { client_id: '3', text: 'line three.', metadata: null },
    ]);
    expect(await docsOf(rs.stdout.trim())).toEqual([
      { client_id: 's1', text: 'From stdin.', metadata: null },
    ]);
  });

  it('a bad input file fails before anything is stored', async () => {
    const before = await h.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM batches');
    const p = file('ragged.csv', 'id,text\n1,ok\n2,"unterminated\n');
    const r = await h.cli(['submit', p, '--task', 'summarization'], { env: authed() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unterminated quoted field');
    const after = await h.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM batches');
    expect(after.rows[0]?.n).toBe(before.rows[0]?.n);
  });
});

describe('follow a batch to the end', () => {
  const N = 300;
  const failIds = new Set(['d7', 'd150']);
  let batchId: string;

  it('submit --wait --out shows progress, writes every result in input order and exits 3 (2 documents failed)', async () => {
    const p = file(
      'wait.ndjson',
      Array.from({ length: N }, (_, i) =>
        JSON.stringify({ id: `d${i + 1}`, text: `Doc ${i + 1} first. Tail.` }),
      ).join('\n') + '\n',
    );
    const out = path.join(dir, 'wait-results.ndjson');
    const run = h.cli(
      ['submit', p, '--task', 'summarization', '--metadata', 'run=wait', '--wait', '--out', out],
      {
        env: authed(),
      },
    );
    batchId = (await waitFor(async () => {
      const r = await h.db.pool.query<{ id: string }>(
        `SELECT id FROM batches WHERE metadata->>'run' = 'wait'`,
      );
      return r.rows[0]?.id;
    }, 'the batch to be created')) as string;
    // Finish it in three steps so the CLI sees it running.
    await processDocuments(h.db, batchId, { seqTo: 100, failIds });
    await waitFor(async () => (await sdk.getBatch(batchId)).counts.completed >= 99, 'first step');
    await processDocuments(h.db, batchId, { seqFrom: 101, seqTo: 200, failIds });
    await processDocuments(h.db, batchId, { seqFrom: 201, failIds });
    const r = await run;
    expect(r.stderr).toContain(`created ${batchId}`);
    expect(r.code).toBe(3);
    expect(r.stdout.trim()).toBe(batchId);
    expect(r.stderr).toMatch(new RegExp(`${batchId} completed 300/300 \\(100%\\) 2 failed`));
    expect(r.stderr).toContain(`docbatch results ${batchId} --status failed`);
    const results = lines(readFileSync(out, 'utf8'));
    expect(results.map((l) => l.id)).toEqual(Array.from({ length: N }, (_, i) => `d${i + 1}`));
    expect(results.find((l) => l.id === 'd7')).toMatchObject({
      status: 'failed',
      result: null,
      error: { code: 'TEXT_REJECTED' },
    });
    expect(results.find((l) => l.id === 'd8')).toMatchObject({
      status: 'completed',
      result: { summary: 'Doc 8 first.', sentence_indices: [0] },
    });
  });

  it('status shows the batch for a person and as JSON', async () => {
    const [human, json] = await Promise.all([
      h.cli(['status', batchId], { env: authed() }),
      h.cli(['status', batchId, '--json'], { env: authed() }),
    ]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^id\\s+${batchId}$`, 'm'));
    expect(human.stdout).toMatch(/^status\s+completed$/m);
    expect(human.stdout).toContain('300 total: 298 completed, 2 failed');
    expect(JSON.parse(json.stdout)).toMatchObject({
      id: batchId,
      status: 'completed',
      counts: { failed: 2 },
    });
  });

  it('results --status failed streams only the failed documents to stdout', async () => {
    const r = await h.cli(['results', batchId, '--status', 'failed'], { env: authed() });
    expect(r.code).toBe(0);
    expect(lines(r.stdout).map((l) => [l.id, l.status])).toEqual([
      ['d7', 'failed'],
      ['d150', 'failed'],
    ]);
  });

  it('retry requeues the failed documents; they finish again', async () => {
    const r = await h.cli(['retry', batchId], { env: authed() });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${batchId} (queued|running)$`, 'm'));
    expect(r.stderr).toContain('2 documents queued again');
    expect(await processDocuments(h.db, batchId)).toBe(2);
    const s = await h.cli(['status', batchId, '--wait', '--json'], { env: authed() });
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({
      status: 'completed',
      counts: { completed: 300, failed: 0 },
    });
  });

  it('cancel ends a batch (idempotent); --wait on it exits 1; cancelling a completed batch is BATCH_FINISHED', async () => {
    const p = file('cancel.txt', 'one.\ntwo.\nthree.\n');
    const sub = await h.cli(['submit', p, '--task', 'summarization'], { env: authed() });
    const id = sub.stdout.trim();
    const waiting = h.cli(['status', id, '--wait'], { env: authed() });
    const c = await h.cli(['cancel', id], { env: authed() });
    expect(c.code).toBe(0);
    expect(c.stdout.trim()).toBe(`${id} cancelled`);
    const w = await waiting;
    expect(w.code).toBe(1);
    expect(w.stderr).toContain(`batch ${id} ended cancelled`);
    const [again, finished] = await Promise.all([
      h.cli(['cancel', id, '--json'], { env: authed() }),
      h.cli(['cancel', batchId], { env: authed() }),
    ]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ id, status: 'cancelled' });
    expect(finished.code).toBe(1);
    expect(finished.stderr).toContain('BATCH_FINISHED');
  });
});

describe('--wait exit codes (docs/cli.md)', () => {
  const MODEL_ERROR = {
    code: 'MODEL_INCOMPATIBLE',
    message: "model 'x@1' failed when it ran: Total size of new array must be unchanged.",
  };

  /** Runs `submit FILE --wait` (tagged by metadata), lets `finish` play the worker, returns the CLI result. */
  async function submitAndWait(
    tag: string,
    finish: (id: string) => Promise<unknown>,
    extra: string[] = [],
  ): Promise<{ id: string; code: number | null; stdout: string; stderr: string }> {
    const p = file(`${tag}.txt`, 'First line. Tail.\nSecond line. Tail.\nThird line. Tail.\n');
    const run = h.cli(
      ['submit', p, '--task', 'summarization', '--metadata', `run=${tag}`, '--wait', ...extra],
      {
        env: authed(),
      },
    );
    const id = (await waitFor(async () => {
      const r = await h.db.pool.query<{ id: string }>(`SELECT id FROM batches WHERE metadata->>'run' = $1`, [
        tag,
      ]);
      return r.rows[0]?.id;
    }, 'the batch to be created')) as string;
    await finish(id);
    return { id, ...(await run) };
  }

  it('0: the batch completed and every document completed', async () => {
    const r = await submitAndWait('all-ok', (id) => processDocuments(h.db, id));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`batch ${r.id} completed: 3 documents`);
  });

  it('3: the batch completed but some documents failed (submit --wait and status --wait)', async () => {
    const r = await submitAndWait('some-failed', (id) =>
      processDocuments(h.db, id, { failIds: new Set(['2']) }),
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`batch ${r.id} completed: 2 ok, 1 failed`);
    expect(r.stderr).toContain(`docbatch results ${r.id} --status failed`);
    const s = await h.cli(['status', r.id, '--wait', '--json'], { env: authed() });
    expect(s.code).toBe(3);
    expect(JSON.parse(s.stdout)).toMatchObject({ status: 'completed', counts: { completed: 2, failed: 1 } });
  });

  it('1: the batch failed; its error code and message are printed (submit --wait and status --wait)', async () => {
    const r = await submitAndWait('model-failed', (id) => failWholeBatch(h.db.pool, id, MODEL_ERROR));
    expect(r.code).toBe(1);
    expect(r.stdout.trim()).toBe(r.id);
    expect(r.stderr).toContain(`batch ${r.id} ended failed: MODEL_INCOMPATIBLE: ${MODEL_ERROR.message}`);
    const [human, json] = await Promise.all([
      h.cli(['status', r.id, '--wait'], { env: authed() }),
      h.cli(['status', r.id, '--wait', '--json'], { env: authed() }),
    ]);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^status\s+failed$/m);
    expect(human.stdout).toContain(`MODEL_INCOMPATIBLE: ${MODEL_ERROR.message}`);
    expect(human.stderr).toContain(`ended failed: MODEL_INCOMPATIBLE: ${MODEL_ERROR.message}`);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      status: 'failed',
      error: MODEL_ERROR,
      counts: { failed: 3 },
    });
    // Without --wait, status only shows the batch: exit 0.
    expect((await h.cli(['status', r.id], { env: authed() })).code).toBe(0);
  });
});

describe('on a terminal', () => {
  it('draws upload and processing progress bars in place (runCli with a TTY stderr)', async () => {
    let stdout = '';
    let stderr = '';
    const sink = (write: (s: string) => void): Writable =>
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          write(chunk.toString('utf8'));
          cb();
        },
      });
    const tty = Object.assign(
      sink((s) => (stderr += s)),
      { isTTY: true, columns: 120 },
    );
    const p = file('tty.txt', Array.from({ length: 50 }, (_, i) => `Line ${i + 1} text.`).join('\n'));
    const run = runCli(['submit', p, '--task', 'summarization', '--metadata', 'run=tty', '--wait'], {
      stdout: sink((s) => (stdout += s)),
      stderr: tty,
      env: { DOCBATCH_URL: h.url, DOCBATCH_API_KEY: key },
    });
    const id = (await waitFor(async () => {
      const r = await h.db.pool.query<{ id: string }>(
        `SELECT id FROM batches WHERE metadata->>'run' = 'tty'`,
      );
      return r.rows[0]?.id;
    }, 'the batch to be created')) as string;
    await processDocuments(h.db, id, { seqTo: 20 });
    await waitFor(() => stderr.includes('20/50'), 'the bar to show 20/50');
    await processDocuments(h.db, id);
    expect(await run).toBe(0);
    expect(stdout.trim()).toBe(id);
    // Each redraw is CR + "erase line" (ESC [2K) + the bar.
    const frames = stderr.split('\r\u001b[2K');
    expect(frames.some((f) => /^uploading \[#{24}\] 100% \d+ B\/\d+ B/.test(f))).toBe(true);
    expect(frames.some((f) => /^processing \[#{10}-{14}\] {2}40% 20\/50 .*running/.test(f))).toBe(true);
    expect(frames.some((f) => /^processing \[#{24}\] 100% 50\/50 .*completed\n/.test(f))).toBe(true);
  });
});

describe('list', () => {
  it('lists batches newest first, filters by status, pages with --limit/--all', async () => {
    const [all, some, cancelled, table] = await Promise.all([
      h.cli(['list', '--all', '--limit', '2', '--json'], { env: authed() }),
      h.cli(['list', '--limit', '2', '--json'], { env: authed() }),
      h.cli(['list', '--status', 'cancelled', '--json'], { env: authed() }),
      h.cli(['list'], { env: authed() }),
    ]);
    const ids = (
      await h.db.pool.query<{ id: string }>(
        `SELECT b.id FROM batches b JOIN tenants t ON t.id = b.tenant_id WHERE t.name = 'acme' ORDER BY b.created_at DESC, b.id DESC`,
      )
    ).rows.map((r) => r.id);
    expect(ids.length).toBeGreaterThan(5);
    expect((JSON.parse(all.stdout) as Batch[]).map((b) => b.id)).toEqual(ids);
    expect((JSON.parse(some.stdout) as Batch[]).map((b) => b.id)).toEqual(ids.slice(0, 2));
    const c = JSON.parse(cancelled.stdout) as Batch[];
    expect(c.length).toBeGreaterThan(0);
    expect(c.every((b) => b.status === 'cancelled')).toBe(true);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+TASK\s+MODEL\s+DONE/);
    expect(table.stdout).toContain(ids[0]);
  });
});
