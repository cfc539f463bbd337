/**
 * Evaluates the spam classifier versions side by side, through the serving path (registry -> encode ->
 * runBatch on the selected tfjs backend), on text none of them was trained on:
 *
 * 1. the held-out test split of the SpamAssassin corpus (the same de-duplicated, seeded split the
 *    training script uses): accuracy, spam precision / recall / F1, confusion, per source group;
 * 2. the false-positive rate on non-email English from sources never used in training
 *    (`scripts/models/data/spam-fp-heldout.tsv`, see `spam-prose-data.ts`: Moby Dick, Reuters news,
 *    State of the Union passages, UCI review sentences, handwritten everyday sentences), per source and
 *    overall, with a few of the false positives;
 * 3. a diagnostic: spam recall on the test spam cut to its Subject and first 40 body words (short
 *    spam-like lines), beside the full-message recall.
 *
 *   node scripts/run-ts.js scripts/models/eval-spam-classifier.ts [--backend auto|wasm|cpu]
 *       [--models spam-classifier@1,spam-classifier@2] [--split test|validation] [--models-dir DIR]
 *       [--examples 5]
 *
 * Without --models every served version of spam-classifier is evaluated. --models-dir adds a model
 * repository (as MODELS_DIR does), e.g. to evaluate a candidate written by the training script's --out.
 */
import { initTfBackend, type TfBackendChoice } from '../../src/core/models/backend';
import { ModelRegistry } from '../../src/core/models/registry';
import { splitEmailHeaders } from '../../src/core/models/tokenizers/email-headers';
import type { ClassificationResult, TaskModel } from '../../src/core/models/types';
import { binaryMetrics, loadSpamSplit, type BinaryMetrics, type SpamExample } from './spam-data';
import { HELDOUT_PROSE_SOURCES, loadFpHeldout } from './spam-prose-data';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const BATCH = 64;
const EXAMPLES = Number(args.get('examples') ?? 5);

/** Scores `texts` in length-bucketed batches like the inference pipeline; returns P(spam) per text. */
async function score(model: TaskModel, texts: string[]): Promise<{ spam: number[]; seconds: number }> {
  const t0 = Date.now();
  const encoded = texts.map((t) => model.encode(t, {}));
  const order = encoded.map((_, i) => i).sort((a, b) => encoded[a]!.length - encoded[b]!.length);
  const spam = new Array<number>(texts.length);
  for (let i = 0; i < order.length; i += BATCH) {
    const idx = order.slice(i, i + BATCH);
    const out = (await model.runBatch(
      idx.map((j) => encoded[j]!),
      {},
    )) as ClassificationResult[];
    idx.forEach(
      (j, k) => (spam[j] = out[k]!.label === 'spam' ? out[k]!.scores!['spam']! : -out[k]!.scores!['spam']!),
    );
  }
  return { spam, seconds: (Date.now() - t0) / 1000 };
}

/** Subject + the first `words` words of the body: a short spam-like line. */
function shortForm(text: string, words = 40): string {
  const { subject, bodyStart } = splitEmailHeaders(text);
  const body = text
    .slice(bodyStart)
    .replace(/<[^>]*>/g, ' ')
    .split(/\s+/)
    .filter((w) => w !== '')
    .slice(0, words)
    .join(' ');
  return `Subject: ${subject}\n\n${body}`;
}

interface Row {
  id: string;
  spamTest: BinaryMetrics;
  shortRecall: number;
  fp: Map<string, { fp: number; n: number }>;
  fpAll: { fp: number; n: number };
}

const pct = (k: number, n: number): string => `${((100 * k) / n).toFixed(1)}%`;

async function main(): Promise<void> {
  const backend = await initTfBackend((args.get('backend') ?? 'auto') as TfBackendChoice);
  const registry = new ModelRegistry({ modelsDir: args.get('models-dir') });
  const ids = args.get('models')
    ? args.get('models')!.split(',')
    : (await registry.list()).filter((m) => m.name === 'spam-classifier').map((m) => m.id);
  const splitName = (args.get('split') ?? 'test') as 'test' | 'validation';
  const examples: SpamExample[] = loadSpamSplit()[splitName];
  if (!examples) throw new Error(`unknown split ${splitName}`);
  const prose = loadFpHeldout();
  const spamTexts = examples.filter((e) => e.label === 1).map((e) => shortForm(e.text));
  const defaultId = (await registry.resolve('classification')).id;
  console.log(
    `backend ${backend}; models ${ids.join(', ')} (default for classification: ${defaultId}); SpamAssassin ${splitName} split ${examples.length} messages; held-out non-email texts ${prose.length}`,
  );

  const rows: Row[] = [];
  for (const id of ids) {
    const info = await registry.resolve('classification', id);
    const model = await registry.load(info);
    console.log(`\n--- ${info.id} ---`);
    const mail = await score(
      model,
      examples.map((e) => e.text),
    );
    const truth = examples.map((e) => e.label);
    const predicted = mail.spam.map((p) => (p >= 0 ? 1 : 0));
    const m = binaryMetrics(truth, predicted);
    console.log(`SpamAssassin ${splitName}: accuracy ${m.accuracy.toFixed(4)}`);
    console.log(
      `  spam precision ${m.precision.toFixed(4)}  recall ${m.recall.toFixed(4)}  F1 ${m.f1.toFixed(4)}`,
    );
    console.log(`  confusion: spam->spam ${m.tp}, ham->spam ${m.fp}, ham->ham ${m.tn}, spam->ham ${m.fn}`);
    for (const g of [...new Set(examples.map((e) => e.group))].sort()) {
      const idx = examples.map((e, i) => (e.group === g ? i : -1)).filter((i) => i >= 0);
      const correct = idx.filter((i) => predicted[i] === truth[i]).length;
      console.log(
        `    ${g.padEnd(11)} accuracy ${(correct / idx.length).toFixed(4)} (${correct}/${idx.length})`,
      );
    }
    const missed = examples
      .map((e, i) => ({ e, p: mail.spam[i]! }))
      .filter(({ e }, i) => predicted[i] !== e.label)
      .slice(0, EXAMPLES);
    for (const { e, p } of missed)
      console.log(
        `    e.g. ${e.label === 1 ? 'spam->ham' : 'ham->spam'} ${Math.abs(p).toFixed(3)} ${e.id}: Subject ${JSON.stringify(splitEmailHeaders(e.text).subject.slice(0, 90))}`,
      );
    const short = await score(model, spamTexts);
    const shortHits = short.spam.filter((p) => p >= 0).length;
    console.log(
      `  short spam (Subject + first 40 words): recall ${(shortHits / spamTexts.length).toFixed(4)} (${shortHits}/${spamTexts.length})`,
    );

    const fpScores = await score(
      model,
      prose.map((t) => t.text),
    );
    const fp = new Map<string, { fp: number; n: number }>();
    const fpAll = { fp: 0, n: 0 };
    console.log('held-out non-email texts, false positives (called spam):');
    for (const source of HELDOUT_PROSE_SOURCES) {
      const idx = prose.map((t, i) => (t.source === source ? i : -1)).filter((i) => i >= 0);
      const wrong = idx.filter((i) => fpScores.spam[i]! >= 0);
      fp.set(source, { fp: wrong.length, n: idx.length });
      fpAll.fp += wrong.length;
      fpAll.n += idx.length;
      console.log(
        `    ${source.padEnd(17)} ${pct(wrong.length, idx.length).padStart(6)} (${wrong.length}/${idx.length})`,
      );
    }
    console.log(`    ${'overall'.padEnd(17)} ${pct(fpAll.fp, fpAll.n).padStart(6)} (${fpAll.fp}/${fpAll.n})`);
    const worst = prose
      .map((t, i) => ({ t, p: fpScores.spam[i]! }))
      .filter((x) => x.p >= 0)
      .sort((a, b) => b.p - a.p)
      .slice(0, EXAMPLES);
    for (const { t, p } of worst)
      console.log(
        `    e.g. ${p.toFixed(3)} ${t.id}: ${JSON.stringify(t.text.length > 140 ? t.text.slice(0, 140) + '...' : t.text)}`,
      );
    console.log(
      `timing: ${((examples.length + spamTexts.length + prose.length) / (mail.seconds + short.seconds + fpScores.seconds)).toFixed(0)} docs/s (encode + runBatch, batches of ${BATCH})`,
    );
    rows.push({ id: info.id, spamTest: m, shortRecall: shortHits / spamTexts.length, fp, fpAll });
    await registry.unload(info.id);
  }

  if (rows.length > 1) {
    console.log(`\n=== side by side (backend ${backend}) ===`);
    const line = (label: string, f: (r: Row) => string): void =>
      console.log(`${label.padEnd(34)}${rows.map((r) => f(r).padStart(18)).join('')}`);
    line('', (r) => r.id);
    line(`SpamAssassin ${splitName} spam F1`, (r) => r.spamTest.f1.toFixed(4));
    line('  accuracy', (r) => r.spamTest.accuracy.toFixed(4));
    line('  spam precision', (r) => r.spamTest.precision.toFixed(4));
    line('  spam recall', (r) => r.spamTest.recall.toFixed(4));
    line('  short spam recall', (r) => r.shortRecall.toFixed(4));
    for (const source of HELDOUT_PROSE_SOURCES)
      line(
        `FP ${source}`,
        (r) =>
          `${pct(r.fp.get(source)!.fp, r.fp.get(source)!.n)} (${r.fp.get(source)!.fp}/${r.fp.get(source)!.n})`,
      );
    line(
      'FP overall (non-email, held out)',
      (r) => `${pct(r.fpAll.fp, r.fpAll.n)} (${r.fpAll.fp}/${r.fpAll.n})`,
    );
  }
  await registry.disposeAll();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
