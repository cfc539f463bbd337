/**
 * `npm run bench`: every benchmark in one run, each figure as a ratio against a baseline measured in
 * the same run; prints a table and writes JSON to bench/results/ (git-ignored).
 *
 *   npm run bench                      full sizes (< 15 min on a 2-core machine)
 *   npm run bench -- --quick           small sizes (~4 min), to check the harness
 *   npm run bench -- --only ingest,webhooks
 *   npm run bench -- --pipeline-docs 50000 --memory-ingest-docs 200000 ...  (see SIZES below)
 *
 * Benchmarks: backends (bench/backends.ts: every bundled model's raw docs/s on wasm and on the
 * native backend, child processes), ingest (bench/ingest.ts, subprocess), pipeline
 * (bench/pipeline.ts, subprocess; again on the native backend where installed),
 * queue (bench/queue-overhead.ts), results-streaming, webhook-fanout, submit-latency, memory. See
 * bench/README.md.
 * Needs Postgres and Redis (DATABASE_URL's server, REDIS_URL); each benchmark works in a scratch
 * database and queue prefix of its own and removes them.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nativePackageInstalled } from '../src/core/models/backend';
import { printRuns, runBackends } from './backends';
import { runMemory } from './memory';
import { runQueueOverhead } from './queue-overhead';
import { runResultsStreaming } from './results-streaming';
import { runReadLatency } from './read-latency';
import { runJsonMemory } from './json-memory';
import { runSubmitLatency } from './submit-latency';
import { figure, flag, ROOT } from './scratch';
import type { Figure } from './scratch';
import { runWebhookFanout } from './webhook-fanout';

const QUICK = process.argv.includes('--quick');
const size = (name: string, full: number, quick: number): number => flag(name, QUICK ? quick : full);

/** Every size, its flag, and its full/quick default. */
const SIZES = {
  ingestDocs: size('ingest-docs', 100_000, 20_000),
  ingestChars: size('ingest-chars', 1_000, 500),
  pipelineDocs: size('pipeline-docs', 100_000, 1_000),
  pipelineBs1Docs: size('pipeline-bs1-docs', 5_000, 200),
  queueJobs: size('queue-jobs', 5_000, 2_000),
  resultsDocs: size('results-docs', 100_000, 20_000),
  webhooks: size('webhooks', 500, 100),
  webhookConcurrency: size('webhook-concurrency', 8, 8),
  submitClients: size('submit-clients', 50, 50),
  submitMs: size('submit-ms', 15_000, 5_000),
  memoryIngestDocs: size('memory-ingest-docs', 1_000_000, 20_000),
  memoryStreamDocs: size('memory-stream-docs', 1_000_000, 20_000),
  memoryWorkerDocs: size('memory-worker-docs', 100_000, 3_000),
  memoryDocChars: size('memory-doc-chars', 150, 150),
  backendSeconds: size('backend-seconds', 6, 3),
  backendRepeat: size('backend-repeat', 3, 1),
};

const ALL = [
  'backends',
  'ingest',
  'pipeline',
  'queue',
  'results-streaming',
  'webhooks',
  'submit-latency',
  'read-latency',
  'json-memory',
  'memory',
] as const;
const onlyArg = process.argv.indexOf('--only');
const ONLY = onlyArg > 0 ? (process.argv[onlyArg + 1] ?? '').split(',').filter(Boolean) : [...ALL];
for (const name of ONLY)
  if (!(ALL as readonly string[]).includes(name))
    throw new Error(`--only: unknown benchmark "${name}" (${ALL.join(', ')})`);

/** Runs a TypeScript benchmark script as a child process; resolves with its output. */
function runScript(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'scripts/run-ts.js'), path.join(ROOT, file), ...args],
      {
        cwd: ROOT,
        env: process.env,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      process.stdout.write(b.toString().replace(/^(?=.)/gm, `  [${path.basename(file, '.ts')}] `));
    });
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${file} exited with ${code}`)),
    );
  });
}

const num = (s: string | undefined): number => Number((s ?? 'NaN').replace(/,/g, ''));

function match(out: string, re: RegExp, what: string): RegExpExecArray {
  const m = re.exec(out);
  if (!m) throw new Error(`could not read ${what} from the output`);
  return m;
}

async function ingest(): Promise<Figure[]> {
  const out = await runScript('bench/ingest.ts', [
    '--docs',
    String(SIZES.ingestDocs),
    '--chars',
    String(SIZES.ingestChars),
  ]);
  const copy = num(match(out, /raw COPY\s+[\d.]+ s\s+([\d,]+) docs\/s/, 'raw COPY')[1]);
  const api = num(match(out, /API NDJSON upload\s+[\d.]+ s\s+([\d,]+) docs\/s/, 'API upload')[1]);
  const rss = match(out, /API process RSS: idle (\d+) MB, peak (\d+) MB/, 'API RSS');
  const note = `${SIZES.ingestDocs} docs of ${SIZES.ingestChars} chars`;
  return [
    figure('ingest', 'raw COPY (baseline)', copy, 'docs/s', undefined, note),
    figure(
      'ingest',
      'API NDJSON upload (validate + COPY + enqueue)',
      api,
      'docs/s',
      { name: 'raw COPY', value: copy },
      note,
    ),
    figure('ingest', 'API RSS peak during the upload', num(rss[2]), 'MB', {
      name: 'API RSS at rest',
      value: num(rss[1]),
    }),
  ];
}

/** The pipeline benchmark on wasm, then on the native backend where it is installed. */
async function pipeline(): Promise<Figure[]> {
  const figures = await pipelineOn('wasm');
  if (nativePackageInstalled('@tensorflow/tfjs-node')) figures.push(...(await pipelineOn('tensorflow')));
  else console.log('  pipeline on the native backend: skipped (not installed: npm run native:install)');
  return figures;
}

async function pipelineOn(backend: 'wasm' | 'tensorflow'): Promise<Figure[]> {
  const out = await runScript('bench/pipeline.ts', [
    '--docs',
    String(SIZES.pipelineDocs),
    '--bs1-docs',
    String(SIZES.pipelineBs1Docs),
    '--backend',
    backend,
  ]);
  const bench = backend === 'wasm' ? 'pipeline' : 'pipeline (native)';
  const raw = match(out, /best: ([\d,]+) docs\/s at batch size (\d+)/, 'raw model best');
  const e2e = num(match(out, /^\s+([\d,]+) docs\/s \([\d.]+ s from first claim/m, 'end-to-end')[1]);
  const bs = match(
    out,
    /batch size 1: ([\d,]+) docs\/s; dynamic: ([\d,]+) docs\/s/,
    'batch size 1 vs dynamic',
  );
  const pad = match(out, /with length bucketing: ([\d.]+)%.*arrival order: ([\d.]+)%/, 'padding');
  const alone = match(
    out,
    /model alone \(runBatch on documents tokenized beforehand[^)]*\): ([\d,]+) docs\/s/,
    'model alone',
  );
  const rawBs1 = match(out, /batch size {3}1: ([\d,]+) docs\/s/, 'raw batch size 1');
  const base = { name: 'raw model calls (encode + runBatch, one thread)', value: num(raw[1]) };
  return [
    figure(
      bench,
      `raw model calls (encode + runBatch), batch size ${raw[2]} (baseline)`,
      num(raw[1]),
      'docs/s',
    ),
    figure(
      bench,
      'end-to-end platform throughput (claim, infer, write back)',
      e2e,
      'docs/s',
      base,
      `${SIZES.pipelineDocs} classification docs`,
    ),
    figure(
      bench,
      'end-to-end platform throughput, against the model alone (for reference; not the target)',
      e2e,
      'docs/s',
      { name: 'runBatch alone on documents tokenized beforehand', value: num(alone[1]) },
      `${SIZES.pipelineDocs} classification docs`,
    ),
    figure(
      bench,
      `raw model calls, batch size ${raw[2]} (the model's own gain from batching)`,
      num(raw[1]),
      'docs/s',
      { name: 'raw model calls, batch size 1', value: num(rawBs1[1]) },
    ),
    figure(
      bench,
      'platform with dynamic batching',
      num(bs[2]),
      'docs/s',
      { name: 'platform with batch size 1', value: num(bs[1]) },
      `${SIZES.pipelineBs1Docs} docs`,
    ),
    figure(bench, 'padding share with length bucketing', num(pad[1]), '%', {
      name: 'padding share in arrival order',
      value: num(pad[2]),
    }),
  ];
}

/** Raw docs/s of every bundled model on wasm and on the native backend (bench/backends.ts). */
async function backends(): Promise<Figure[]> {
  const { runs } = await runBackends({ seconds: SIZES.backendSeconds, repeat: SIZES.backendRepeat });
  printRuns(runs, []);
  const wasm = runs.find((r) => r.backend === 'wasm');
  const native = runs.find((r) => r.backend === 'tensorflow' && !r.error);
  if (!wasm || wasm.error) throw new Error(`wasm: ${wasm?.error ?? 'no run'}`);
  const out: Figure[] = [];
  for (const w of wasm.rates) {
    const n = native?.rates.find((r) => r.model === w.model);
    if (!n) {
      out.push(
        figure(
          'backends',
          `${w.model} raw (encode + runBatch), wasm`,
          w.docsPerS,
          'docs/s',
          undefined,
          'native backend not installed',
        ),
      );
      continue;
    }
    out.push(
      figure('backends', `${w.model} raw (encode + runBatch), native`, n.docsPerS, 'docs/s', {
        name: 'wasm',
        value: w.docsPerS,
      }),
      figure('backends', `${w.model} runBatch alone, native`, n.runDocsPerS, 'docs/s', {
        name: 'wasm',
        value: w.runDocsPerS,
      }),
    );
  }
  return out;
}

async function main(): Promise<void> {
  const started = new Date();
  const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}, node ${process.version}`;
  console.log(
    `docbatch benchmarks (${QUICK ? 'quick' : 'full'}): ${ONLY.join(', ')}\nmachine: ${machine}\nloadavg at start: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n`,
  );
  const figures: Figure[] = [];
  const errors: Record<string, string> = {};
  const timings: Record<string, number> = {};
  let series: Record<string, [number, number][]> = {};
  let plateau: boolean | undefined;
  const steps: Record<(typeof ALL)[number], () => Promise<Figure[]>> = {
    backends,
    ingest,
    pipeline,
    queue: () => runQueueOverhead(SIZES.queueJobs),
    'results-streaming': async () => (await runResultsStreaming(SIZES.resultsDocs)).figures,
    webhooks: () => runWebhookFanout(SIZES.webhooks, SIZES.webhookConcurrency),
    'submit-latency': () => runSubmitLatency({ clients: SIZES.submitClients, submitMs: SIZES.submitMs }),
    'read-latency': () => runReadLatency({ uploads: 30, docs: 5000, restMs: 5000 }),
    'json-memory': () => runJsonMemory({ bodies: 12, mb: 62 }),
    memory: async () => {
      const m = await runMemory({
        ingestDocs: SIZES.memoryIngestDocs,
        streamDocs: SIZES.memoryStreamDocs,
        workerDocs: SIZES.memoryWorkerDocs,
        docChars: SIZES.memoryDocChars,
      });
      series = m.series;
      plateau = m.plateau;
      return m.figures;
    },
  };
  for (const name of ALL) {
    if (!ONLY.includes(name)) continue;
    const t0 = Date.now();
    console.log(`== ${name}`);
    try {
      figures.push(...(await steps[name]()));
    } catch (err) {
      errors[name] = (err as Error).message;
      console.error(`${name} failed: ${(err as Error).stack ?? String(err)}`);
    }
    timings[name] = Math.round((Date.now() - t0) / 100) / 10;
    console.log(`   (${timings[name]} s)\n`);
  }

  const rows = figures.map((f) => [
    f.bench,
    f.name,
    `${f.value.toLocaleString('en-US')} ${f.unit}`,
    f.baseline ? `${f.baseline.value.toLocaleString('en-US')} ${f.unit} (${f.baseline.name})` : '',
    f.ratio !== undefined ? f.ratio.toFixed(2) : '',
  ]);
  const header = ['bench', 'figure', 'value', 'baseline', 'ratio'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  if (plateau !== undefined)
    console.log(`\nworker RSS ${plateau ? 'plateaus' : 'does NOT plateau'} over the batch`);

  const durationS = Math.round((Date.now() - started.getTime()) / 1000);
  const dir = path.join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const report = {
    started_at: started.toISOString(),
    duration_s: durationS,
    mode: QUICK ? 'quick' : 'full',
    machine,
    loadavg_at_start: os.loadavg(),
    sizes: SIZES,
    timings_s: timings,
    figures,
    memory: { series_s_mb: series, worker_plateau: plateau ?? null },
    errors,
  };
  const file = path.join(dir, `bench-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2));
  writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(report, null, 2));
  console.log(`\n${durationS} s in all; JSON: ${path.relative(ROOT, file)}`);
  if (Object.keys(errors).length > 0) {
    console.error(`failed: ${Object.keys(errors).join(', ')}`);
    process.exit(1);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
