/**
 * Evaluates a translation model through the serving path (loadTranslator -> encode -> runBatch on TensorFlow.js)
 * against the held-out Apertium references, and prints corpus BLEU next to an identity-copy baseline.
 *
 * Usage:
 *   node scripts/run-ts.js scripts/models/translation/eval-translator.ts \
 *     [--model-dir models/en-es-translator/1] [--test scripts/models/translation/data/test.tsv] \
 *     [--backend wasm|cpu|auto] [--batch 64] [--limit N] [--samples 5] [--out hypotheses.txt]
 *     [--wordlist /usr/share/dict/spanish,tmp/wordlists/aspell-es.txt]
 *
 * With word lists (comma-separated; those that exist are read), it also prints the share of output words that
 * are not Spanish: alphabetic words of the output, lower-cased, found neither in the list nor among the
 * capitalised words of the source sentence (names copied from the English are not counted against the model).
 * Debian's `wspanish` (/usr/share/dict/spanish) has base forms only (no plurals, no verb forms: `puede`,
 * `algunos`, `está` are missing), so the default adds every form of the aspell Spanish dictionary:
 *   apt-get install -y wspanish aspell-es && mkdir -p tmp/wordlists &&
 *   aspell -d es dump master | aspell -l es expand | tr ' ' '\n' | sort -u > tmp/wordlists/aspell-es.txt
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

import { initTfBackend, type TfBackendChoice } from '../../../src/core/models/backend';
import { loadTranslator } from '../../../src/core/models/translation';
import type { EncodedDocument, ModelInfo, TranslationResult } from '../../../src/core/models/types';
import { corpusBleu, type BleuScore } from './bleu';

interface Args {
  modelDir: string;
  test: string;
  backend: TfBackendChoice;
  batch: number;
  limit: number;
  samples: number;
  out?: string;
  wordlist: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    modelDir: path.resolve('models/en-es-translator/1'),
    test: path.resolve('scripts/models/translation/data/test.tsv'),
    backend: 'wasm',
    batch: 64,
    limit: Infinity,
    samples: 5,
    wordlist: '/usr/share/dict/spanish,tmp/wordlists/aspell-es.txt',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [a, v = ''] = [argv[i], argv[i + 1]];
    if (a === '--model-dir') args.modelDir = path.resolve(v);
    else if (a === '--test') args.test = path.resolve(v);
    else if (a === '--backend') args.backend = v as TfBackendChoice;
    else if (a === '--batch') args.batch = Number(v);
    else if (a === '--limit') args.limit = Number(v);
    else if (a === '--samples') args.samples = Number(v);
    else if (a === '--out') args.out = path.resolve(v);
    else if (a === '--wordlist') args.wordlist = v;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

interface ConfigJson {
  name: string;
  version?: number;
  task: 'translation';
  source_lang: string;
  target_lang: string;
  max_length: number;
}

function modelInfo(dir: string): ModelInfo {
  const c = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as ConfigJson;
  const version = c.version ?? Number(path.basename(dir));
  return {
    id: `${c.name}@${version}`,
    name: c.name,
    version,
    task: c.task,
    source_lang: c.source_lang,
    target_lang: c.target_lang,
    maxLength: c.max_length,
    dir,
  };
}

function fmt(s: BleuScore): string {
  return (
    `BLEU = ${s.bleu.toFixed(2)}  ${s.precisions.map((p) => p.toFixed(1)).join('/')}  ` +
    `(BP = ${s.brevityPenalty.toFixed(3)} ratio = ${(s.hypLength / s.refLength).toFixed(3)} ` +
    `hyp_len = ${s.hypLength} ref_len = ${s.refLength})`
  );
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const backend = await initTfBackend(args.backend);
  const pairs = readFileSync(args.test, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .slice(0, args.limit)
    .map((l) => l.split('\t') as [string, string]);
  const sources = pairs.map((p) => p[0]);
  const references = pairs.map((p) => p[1]);

  const info = modelInfo(args.modelDir);
  const loadStart = Date.now();
  const model = await loadTranslator(info);
  const loadMs = Date.now() - loadStart;

  // Like the pipeline: encode each document, group by length, one runBatch per tensor batch.
  const started = Date.now();
  const encoded = sources.map((s) => model.encode(s, { source_lang: 'en', target_lang: 'es' }));
  const order = encoded.map((_, i) => i).sort((a, b) => encoded[a]!.length - encoded[b]!.length);
  const hypotheses = new Array<string>(sources.length).fill('');
  for (let i = 0; i < order.length; i += args.batch) {
    const idx = order.slice(i, i + args.batch);
    const batch: EncodedDocument[] = idx.map((j) => encoded[j]!);
    const results = (await model.runBatch(batch, {})) as TranslationResult[];
    idx.forEach((j, k) => (hypotheses[j] = results[k]?.translation ?? ''));
  }
  const seconds = (Date.now() - started) / 1000;
  const tensorsLeft = tf.memory().numTensors;
  model.dispose();

  const score = corpusBleu(hypotheses, references);
  const identity = corpusBleu(sources, references);
  console.log(`model        ${info.id} (${args.modelDir})`);
  console.log(`backend      ${backend}`);
  console.log(`test set     ${args.test} (${pairs.length} pairs, Apertium eng-spa references)`);
  console.log(`translator   ${fmt(score)}`);
  console.log(`baseline     identity copy of the English source: ${fmt(identity)}`);
  console.log(
    `speed        ${seconds.toFixed(1)} s for ${pairs.length} sentences (${(pairs.length / seconds).toFixed(1)} sentences/s), model load ${loadMs} ms, live tensors while loaded ${tensorsLeft}`,
  );
  const lists = args.wordlist.split(',').filter((f) => f && existsSync(f));
  if (lists.length > 0) {
    const known = new Set(
      lists.flatMap((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .map((w) => w.trim().toLowerCase()),
      ),
    );
    let words = 0;
    const unknown: string[] = [];
    hypotheses.forEach((h, i) => {
      // Capitalised source words (names) may be copied; other English words in the output count as not Spanish.
      const source = new Set((sources[i]!.match(/\p{Lu}\p{L}*/gu) ?? []).map((w) => w.toLowerCase()));
      for (const w of h.toLowerCase().match(/\p{L}+/gu) ?? []) {
        words += 1;
        if (!known.has(w) && !source.has(w)) unknown.push(w);
      }
    });
    const top = [...unknown.reduce((m, w) => m.set(w, (m.get(w) ?? 0) + 1), new Map<string, number>())]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([w, n]) => `${w} ${n}`);
    console.log(
      `non-Spanish  ${((100 * unknown.length) / Math.max(1, words)).toFixed(2)}% of ${words} output words (${lists.join(' + ')}; capitalised source words excluded); most frequent: ${top.join(', ')}`,
    );
  }
  for (let i = 0; i < Math.min(args.samples, pairs.length); i += 1) {
    console.log(`\nsrc: ${sources[i]}\nref: ${references[i]}\nhyp: ${hypotheses[i]}`);
  }
  if (args.out) writeFileSync(args.out, hypotheses.join('\n') + '\n');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
