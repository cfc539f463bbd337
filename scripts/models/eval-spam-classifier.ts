/**
 * Evaluates the spam classifier on the held-out test split of the SpamAssassin corpus (the same
 * de-duplicated, seeded split the training script uses; the model never saw these messages), through
 * the serving path: registry -> encode -> runBatch on the selected tfjs backend.
 *
 *   node scripts/run-ts.js scripts/models/eval-spam-classifier.ts [--model spam-classifier] [--backend auto] [--split test]
 */
import { initTfBackend, type TfBackendChoice } from '../../src/core/models/backend';
import { ModelRegistry } from '../../src/core/models/registry';
import type { ClassificationResult } from '../../src/core/models/types';
import { binaryMetrics, loadSpamSplit, type SpamExample } from './spam-data';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const BATCH = 64;

async function main(): Promise<void> {
  const backend = await initTfBackend((args.get('backend') ?? 'auto') as TfBackendChoice);
  const registry = new ModelRegistry();
  const info = await registry.resolve('classification', args.get('model') ?? 'spam-classifier');
  const model = await registry.load(info);
  const splitName = (args.get('split') ?? 'test') as 'test' | 'validation';
  const examples: SpamExample[] = loadSpamSplit()[splitName];
  if (!examples) throw new Error(`unknown split ${splitName}`);
  console.log(`model ${info.id} on backend ${backend}; ${splitName} split: ${examples.length} messages`);

  const t0 = Date.now();
  const encoded = examples.map((e) => model.encode(e.text, {}));
  const tEncode = Date.now() - t0;
  // Bucket by length like the inference pipeline does, then restore input order.
  const order = encoded.map((_, i) => i).sort((a, b) => encoded[a]!.length - encoded[b]!.length);
  const results = new Array<ClassificationResult>(examples.length);
  const t1 = Date.now();
  for (let i = 0; i < order.length; i += BATCH) {
    const idx = order.slice(i, i + BATCH);
    const out = (await model.runBatch(
      idx.map((j) => encoded[j]!),
      {},
    )) as ClassificationResult[];
    idx.forEach((j, k) => (results[j] = out[k]!));
  }
  const tRun = Date.now() - t1;

  const truth = examples.map((e) => e.label);
  const predicted = results.map((r) => (r.label === 'spam' ? 1 : 0));
  const m = binaryMetrics(truth, predicted);
  console.log(`accuracy  ${m.accuracy.toFixed(4)}`);
  console.log(
    `spam precision ${m.precision.toFixed(4)}  recall ${m.recall.toFixed(4)}  F1 ${m.f1.toFixed(4)}`,
  );
  console.log(`confusion: spam->spam ${m.tp}, ham->spam ${m.fp}, ham->ham ${m.tn}, spam->ham ${m.fn}`);
  const groups = [...new Set(examples.map((e) => e.group))].sort();
  for (const g of groups) {
    const idx = examples.map((e, i) => (e.group === g ? i : -1)).filter((i) => i >= 0);
    const correct = idx.filter((i) => predicted[i] === truth[i]).length;
    console.log(`  ${g.padEnd(11)} accuracy ${(correct / idx.length).toFixed(4)} (${correct}/${idx.length})`);
  }
  console.log(
    `timing: encode ${((tEncode / examples.length) * 1000).toFixed(0)} us/doc, runBatch ${((tRun / examples.length) * 1000).toFixed(0)} us/doc (batches of ${BATCH}, ${(examples.length / ((tEncode + tRun) / 1000)).toFixed(0)} docs/s)`,
  );
  await registry.disposeAll();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
