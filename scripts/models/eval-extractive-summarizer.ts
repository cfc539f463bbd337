/**
 * Evaluates the bundled extractive summarizer on State of the Union addresses from 1990 on (never
 * seen by its IDF table).
 *
 *   node scripts/run-ts.js scripts/models/eval-extractive-summarizer.ts [--model extractive-summarizer] [--backend auto]
 *
 * There are no human reference summaries for these addresses, so the figures are reference-free
 * and computed against the address itself, on content words (lower-cased, stopwords removed):
 * - JS divergence between the summary's and the address's unigram distributions (Louis & Nenkova,
 *   2013: correlates with human content judgments without a gold summary); lower is better.
 * - keyword recall: share of the address's 20 most frequent content words that the summary contains.
 * - ROUGE-1 / ROUGE-2 F1 of the summary against the address's own 20-keyword "reference" are not
 *   used: plain ROUGE against the full address reduces to summary length / address length for any
 *   extractive summary, so it would only measure length.
 * Baselines select the same number of sentences: lead-k (first k), longest-k (a length-only
 * baseline: centrality methods favour long sentences) and random-k (mean of 5 seeds).
 * A second table compares the model's summary with the lead-k sentences (ROUGE-1/2 F1) to show how
 * different the selections are.
 */
import { initTfBackend, type TfBackendChoice } from '../../src/core/models/backend';
import { ModelRegistry } from '../../src/core/models/registry';
import type { SummaryPayload } from '../../src/core/models/summarization/extractive-summarizer';
import { tokenizeWords } from '../../src/core/models/tokenizers/word-tokenizer';
import type { EncodedDocument, SummarizationResult } from '../../src/core/models/types';
import { rougeN } from './rouge';
import { seededRandom, shuffle } from './spam-data';
import { STOPWORDS } from './stopwords';
import { evaluationAddresses } from './sotu-data';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');

const K = 3;
const BATCH = 4;

function content(text: string): string[] {
  return tokenizeWords(text).filter((w) => !STOPWORDS.has(w));
}

interface Totals {
  jsd: number;
  keywords: number;
  words: number;
}

function distribution(tokens: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of tokens) out.set(t, (out.get(t) ?? 0) + 1 / tokens.length);
  return out;
}

/** Jensen-Shannon divergence (base 2, in [0, 1]) between two unigram distributions. */
function jsDivergence(p: Map<string, number>, q: Map<string, number>): number {
  let d = 0;
  for (const key of new Set([...p.keys(), ...q.keys()])) {
    const a = p.get(key) ?? 0;
    const b = q.get(key) ?? 0;
    const m = (a + b) / 2;
    if (a > 0) d += 0.5 * a * Math.log2(a / m);
    if (b > 0) d += 0.5 * b * Math.log2(b / m);
  }
  return d;
}

function topKeywords(tokens: string[], n: number): string[] {
  const counts = new Map<string, number>();
  for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, n)
    .map(([t]) => t);
}

async function main(): Promise<void> {
  const backend = await initTfBackend((args.get('backend') ?? 'auto') as TfBackendChoice);
  const registry = new ModelRegistry();
  const info = await registry.resolve('summarization', args.get('model'));
  const model = await registry.load(info);
  const addresses = evaluationAddresses();
  console.log(
    `model ${info.id} on backend ${backend}; ${addresses.length} addresses (${addresses[0]!.year}-${addresses[addresses.length - 1]!.year}), k = ${K}`,
  );

  const t0 = Date.now();
  const encoded: EncodedDocument[] = addresses.map((a) => model.encode(a.text, { max_sentences: K }));
  const tEncode = Date.now() - t0;
  const results: SummarizationResult[] = [];
  const t1 = Date.now();
  for (let i = 0; i < encoded.length; i += BATCH) {
    results.push(
      ...((await model.runBatch(encoded.slice(i, i + BATCH), { max_sentences: K })) as SummarizationResult[]),
    );
  }
  const tRun = Date.now() - t1;

  const methods = ['lexrank (model)', 'lead-k', 'longest-k', 'random-k (5 seeds)'] as const;
  const totals = new Map<string, Totals>(methods.map((m) => [m, { jsd: 0, keywords: 0, words: 0 }]));
  let leadR1 = 0;
  let leadR2 = 0;
  let reference = { dist: new Map<string, number>(), keywords: [] as string[] };
  const add = (method: string, sentences: string[], weight = 1): void => {
    const tokens = content(sentences.join(' '));
    const t = totals.get(method)!;
    const present = new Set(tokens);
    t.jsd += jsDivergence(distribution(tokens), reference.dist) * weight;
    t.keywords +=
      (reference.keywords.filter((k) => present.has(k)).length / reference.keywords.length) * weight;
    t.words += tokenizeWords(sentences.join(' ')).length * weight;
  };
  let sentencesSeen = 0;
  addresses.forEach((a, i) => {
    const payload = encoded[i]!.payload as SummaryPayload;
    const sentences = payload.sentences;
    sentencesSeen += sentences.length;
    const all = content(a.text);
    reference = { dist: distribution(all), keywords: topKeywords(all, 20) };
    const result = results[i]!;
    if (result.sentence_indices.length !== Math.min(K, sentences.length))
      throw new Error('wrong summary length');
    const chosen = result.sentence_indices.map((j) => sentences[j]!);
    add(methods[0], chosen);
    add(methods[1], sentences.slice(0, K));
    const lead = content(sentences.slice(0, K).join(' '));
    leadR1 += rougeN(content(chosen.join(' ')), lead, 1).f1;
    leadR2 += rougeN(content(chosen.join(' ')), lead, 2).f1;
    const longest = sentences
      .map((s, j) => ({ j, n: tokenizeWords(s).length }))
      .sort((x, y) => y.n - x.n || x.j - y.j)
      .slice(0, K)
      .sort((x, y) => x.j - y.j);
    add(
      methods[2],
      longest.map((x) => sentences[x.j]!),
    );
    for (let seed = 1; seed <= 5; seed++) {
      const picked = shuffle(
        sentences.map((_, j) => j),
        seededRandom(seed * 7919 + i),
      )
        .slice(0, K)
        .sort((x, y) => x - y);
      add(
        methods[3],
        picked.map((j) => sentences[j]!),
        1 / 5,
      );
    }
  });

  const n = addresses.length;
  console.log(`sentences per address: ${(sentencesSeen / n).toFixed(0)} (mean)`);
  console.log('method               JS divergence (lower=better)  keyword recall@20  summary words');
  for (const m of methods) {
    const t = totals.get(m)!;
    console.log(
      `${m.padEnd(20)} ${(t.jsd / n).toFixed(4).padStart(28)}  ${(t.keywords / n).toFixed(4).padStart(17)}  ${(t.words / n).toFixed(1).padStart(13)}`,
    );
  }
  console.log(
    `model summary vs lead-${K}: ROUGE-1 F1 ${(leadR1 / n).toFixed(4)}, ROUGE-2 F1 ${(leadR2 / n).toFixed(4)}`,
  );
  console.log(
    `timing: encode ${(tEncode / n).toFixed(1)} ms/address, runBatch ${(tRun / n).toFixed(1)} ms/address (batches of ${BATCH})`,
  );
  await registry.disposeAll();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
