/**
 * Evaluates the bundled sentiment classifier through the serving path (registry -> encode ->
 * runBatch on the selected tfjs backend), on
 *  - the held-out test split of the 3,000 UCI sentences (scripts/models/sentiment/data/uci-split.json,
 *    written by scripts/models/sentiment/train_sentiment_classifier.py; the model never saw them),
 *    beside a multinomial naive Bayes baseline trained here on the same training split;
 *  - the same sentences' sources held out one at a time, for the naive Bayes baseline (the
 *    network's leave-one-source-out figures come from the training script, which trains those
 *    variants);
 *  - scripts/models/sentiment/data/handwritten.tsv and handwritten-2.tsv: review-like sentences
 *    written for this evaluation (label<TAB>text; products, films, restaurants, services, negation,
 *    mixed cases). The first set's errors were studied while designing the network, so the second,
 *    written before any output of the current design was seen, is the clean figure.
 *
 *   node scripts/run-ts.js scripts/models/eval-sentiment-classifier.ts [--backend auto|wasm|cpu]
 *     [--model sentiment-classifier] [--models-dir DIR] [--sentiment-dir DIR] [--errors N]
 *
 * The UCI sentences ship as test fixtures of the npm `sentiment` package (not a dependency of
 * docbatch): without --sentiment-dir the script runs `npm pack sentiment@5.0.2` once into
 * $TMPDIR/docbatch-sentiment-5.0.2.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initTfBackend, type TfBackendChoice } from '../../src/core/models/backend';
import { ModelRegistry } from '../../src/core/models/registry';
import type { ClassificationResult } from '../../src/core/models/types';

const root = path.resolve(__dirname, '../..');
const dataDir = path.join(root, 'scripts/models/sentiment/data');
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const BATCH = 64;
const SOURCES = ['amazon', 'imdb', 'yelp'] as const;

interface Example {
  id: string;
  text: string;
  label: 0 | 1;
  source: string;
}

function sentimentDir(): string {
  const given = args.get('sentiment-dir');
  if (given) return given;
  const cache = path.join(os.tmpdir(), 'docbatch-sentiment-5.0.2');
  const fixtures = path.join(cache, 'package/test/fixtures');
  if (existsSync(path.join(fixtures, 'yelp.json'))) return fixtures;
  mkdirSync(cache, { recursive: true });
  console.log(`npm pack sentiment@5.0.2 -> ${cache}`);
  execFileSync('npm', ['pack', 'sentiment@5.0.2', '--silent'], { cwd: cache, stdio: 'ignore' });
  const tgz = readdirSync(cache).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new Error('npm pack sentiment@5.0.2 wrote no tarball');
  execFileSync('tar', ['xzf', tgz], { cwd: cache });
  return fixtures;
}

/** The 3,000 UCI sentences by id (`<source>:<index in the fixture file>`), as the training script reads them. */
function loadUci(dir: string): Map<string, Example> {
  const out = new Map<string, Example>();
  for (const source of SOURCES) {
    const rows = JSON.parse(readFileSync(path.join(dir, `${source}.json`), 'utf8')) as {
      text?: unknown;
      class?: unknown;
    }[];
    rows.forEach((r, i) => {
      if (typeof r.text === 'string' && (r.class === 0 || r.class === 1) && r.text.trim())
        out.set(`${source}:${i}`, { id: `${source}:${i}`, text: r.text.trim(), label: r.class, source });
    });
  }
  return out;
}

function loadHandwritten(file: string): Example[] {
  return readFileSync(path.join(dataDir, file), 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line, i) => {
      const [label, text] = line.split('\t');
      if ((label !== 'negative' && label !== 'positive') || !text)
        throw new Error(`${file} line ${i + 1}: expected label<TAB>text`);
      return { id: `${file}:${i + 1}`, text, label: label === 'positive' ? 1 : 0, source: file };
    });
}

// ------------------------------------------------------------------ naive Bayes baseline

/** The words Keras's Tokenizer sees with its default filters (lower-cased, split on spaces). */
function nbTokens(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[!"#$%&()*+,\-./:;<=>?@[\\\]^_`{|}~\t\n]/g, ' ')
    .split(' ')
    .filter((w) => w.length > 0);
}

interface NaiveBayes {
  counts: [Map<string, number>, Map<string, number>];
  docs: [number, number];
  totals: [number, number];
  vocabulary: number;
}

function trainNaiveBayes(examples: Example[]): NaiveBayes {
  const nb: NaiveBayes = { counts: [new Map(), new Map()], docs: [0, 0], totals: [0, 0], vocabulary: 0 };
  const vocab = new Set<string>();
  for (const e of examples) {
    nb.docs[e.label]++;
    for (const w of nbTokens(e.text)) {
      nb.counts[e.label].set(w, (nb.counts[e.label].get(w) ?? 0) + 1);
      nb.totals[e.label]++;
      vocab.add(w);
    }
  }
  nb.vocabulary = vocab.size;
  return nb;
}

function predictNaiveBayes(nb: NaiveBayes, text: string): 0 | 1 {
  const score = (c: 0 | 1): number => {
    let s = Math.log(nb.docs[c] / (nb.docs[0] + nb.docs[1]));
    for (const w of nbTokens(text))
      s += Math.log(((nb.counts[c].get(w) ?? 0) + 1) / (nb.totals[c] + nb.vocabulary));
    return s;
  };
  return score(1) > score(0) ? 1 : 0;
}

function nbAccuracy(nb: NaiveBayes, examples: Example[]): number {
  return examples.filter((e) => predictNaiveBayes(nb, e.text) === e.label).length / examples.length;
}

// ------------------------------------------------------------------ evaluation

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

async function main(): Promise<void> {
  const backend = await initTfBackend((args.get('backend') ?? 'auto') as TfBackendChoice);
  // --models-dir (or MODELS_DIR) serves a candidate from outside the bundled repository.
  const modelsDir = args.get('models-dir') ?? process.env.MODELS_DIR;
  const registry = new ModelRegistry(modelsDir ? { modelsDir } : {});
  const info = await registry.resolve('classification', args.get('model') ?? 'sentiment-classifier');
  const model = await registry.load(info);
  console.log(`model ${info.id} on backend ${backend}`);

  const uci = loadUci(sentimentDir());
  const split = JSON.parse(readFileSync(path.join(dataDir, 'uci-split.json'), 'utf8')) as Record<
    'train' | 'validation' | 'test',
    string[]
  >;
  const pick = (ids: string[]): Example[] =>
    ids.map((id) => {
      const e = uci.get(id);
      if (!e) throw new Error(`uci-split.json names ${id}, which the sentiment fixtures lack`);
      return e;
    });
  const train = pick(split.train);
  const test = pick(split.test);

  async function predict(examples: Example[]): Promise<ClassificationResult[]> {
    const encoded = examples.map((e) => model.encode(e.text, {}));
    const results: ClassificationResult[] = [];
    for (let i = 0; i < encoded.length; i += BATCH)
      results.push(...((await model.runBatch(encoded.slice(i, i + BATCH), {})) as ClassificationResult[]));
    return results;
  }
  const correct = (examples: Example[], results: ClassificationResult[]): boolean[] =>
    results.map((r, i) => (r.label === 'positive' ? 1 : 0) === examples[i]!.label);
  const acc = (flags: boolean[]): number => flags.filter(Boolean).length / flags.length;

  const nb = trainNaiveBayes(train);
  const t0 = Date.now();
  const testResults = await predict(test);
  const ms = Date.now() - t0;
  const testOk = correct(test, testResults);
  console.log(
    `UCI held-out test (${test.length} sentences, training split ${train.length}): ${info.id} ${pct(acc(testOk))}, naive Bayes ${pct(nbAccuracy(nb, test))}`,
  );
  for (const source of SOURCES) {
    const idx = test.map((e, i) => (e.source === source ? i : -1)).filter((i) => i >= 0);
    const sub = idx.map((i) => test[i]!);
    console.log(
      `  ${source.padEnd(7)} ${pct(acc(idx.map((i) => testOk[i]!)))} (${idx.length}), naive Bayes ${pct(nbAccuracy(nb, sub))}`,
    );
  }
  for (const source of SOURCES) {
    // As the training script's leave-one-source-out variants: the other two sources' training and
    // validation sentences (their test sentences stay unseen).
    const trainOthers = [...train, ...pick(split.validation)].filter((e) => e.source !== source);
    const held = [...uci.values()].filter((e) => e.source === source);
    console.log(
      `naive Bayes, ${source} held out (trained on the other two sources' training + validation sentences, tested on all ${held.length}): ${pct(nbAccuracy(trainNaiveBayes(trainOthers), held))}`,
    );
  }

  const showErrors = Number(args.get('errors') ?? '10');
  for (const [file, note] of [
    ['handwritten.tsv', 'first set; its errors were studied while designing the network'],
    ['handwritten-2.tsv', 'second set, written before the current design was measured'],
  ] as const) {
    const handwritten = loadHandwritten(file);
    const handResults = await predict(handwritten);
    const handOk = correct(handwritten, handResults);
    console.log(
      `${file} (${handwritten.length} review-like sentences, ${note}): ${info.id} ${pct(acc(handOk))}, naive Bayes (UCI training split) ${pct(nbAccuracy(nb, handwritten))}`,
    );
    const wrong = handwritten
      .map((e, i) => [e, handResults[i]!, handOk[i]] as const)
      .filter(([, , ok]) => !ok);
    for (const [e, r] of wrong.slice(0, showErrors))
      console.log(
        `  wrong: ${e.label ? 'positive' : 'negative'} -> ${r.label} ${r.score.toFixed(3)}  ${e.text}`,
      );
  }
  console.log(
    `timing: ${((ms / test.length) * 1000).toFixed(0)} us/sentence (encode + runBatch, batches of ${BATCH})`,
  );
  await registry.disposeAll();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
