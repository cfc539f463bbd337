/**
 * Evaluates the extractive summarizer on 20 held-out chapters of Jane Austen's novels (Debian's
 * `r-cran-janeaustenr`, see novel-data.ts; the IDF table never saw novel text), k = 3 sentences each.
 *
 *   node scripts/run-ts.js scripts/models/eval-summarizer-novels.ts [--model extractive-summarizer] [--backend auto]
 *
 * Summary quality checks, per method (the model and the lead-3 baseline; counts over all 60 summary
 * sentences):
 * - unbalanced quotes: sentences with an odd number of `"` (or unequal `“`/`”`), i.e. a piece of speech;
 * - cut after an abbreviation: sentences ending on a title or Latin abbreviation (`--Mr.`, `Mrs.`, `e.g.`);
 * - exclamation fragments: sentences of fewer than 10 words ending in `!` or `?` (`"Oh! dear!"`).
 * Content figures, reference-free against the chapter itself on content words (as in
 * eval-extractive-summarizer.ts): keyword recall@20 and Jensen-Shannon divergence (lower is better).
 * Splitter checks over the whole of the six novels: sentences ending on an abbreviation and sentences
 * with unbalanced quotes.
 */
import { initTfBackend, type TfBackendChoice } from '../../src/core/models/backend';
import { ModelRegistry } from '../../src/core/models/registry';
import type { SummaryPayload } from '../../src/core/models/summarization/extractive-summarizer';
import { splitSentences } from '../../src/core/models/text/sentence-splitter';
import { tokenizeWords } from '../../src/core/models/tokenizers/word-tokenizer';
import type { SummarizationResult } from '../../src/core/models/types';
import { austenChapters, evaluationChapters } from './novel-data';
import { STOPWORDS } from './stopwords';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');

const K = 3;

const ABBREVIATION_AT_END =
  /(?:^|[^\p{L}])(?:Mr|Mrs|Ms|Messrs|Mme|Dr|Prof|Rev|Hon|Gen|Col|Lt|Capt|Sgt|Maj|Adm|Gov|St|Sen|Rep|e\.g|i\.e|cf|viz|vs)\.["”'’)]*$/u;

export function unbalancedQuotes(s: string): boolean {
  return (
    (s.match(/"/g) ?? []).length % 2 === 1 || (s.match(/“/g) ?? []).length !== (s.match(/”/g) ?? []).length
  );
}

export function cutAfterAbbreviation(s: string): boolean {
  return ABBREVIATION_AT_END.test(s.trimEnd());
}

function exclamationFragment(s: string): boolean {
  return /[!?]["”'’)\]]*$/.test(s.trimEnd()) && tokenizeWords(s).length < 10;
}

function content(text: string): string[] {
  return tokenizeWords(text).filter((w) => !STOPWORDS.has(w));
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

interface Totals {
  sentences: number;
  unbalanced: number;
  abbreviation: number;
  exclamation: number;
  keywords: number;
  jsd: number;
  words: number;
}

async function main(): Promise<void> {
  const all = austenChapters();
  const chapters = evaluationChapters(all);
  const backend = await initTfBackend((args.get('backend') ?? 'auto') as TfBackendChoice);
  const registry = new ModelRegistry();
  const info = await registry.resolve('summarization', args.get('model'));
  const model = await registry.load(info);
  console.log(
    `model ${info.id} on backend ${backend}; ${chapters.length} held-out Austen chapters of ${all.length}, k = ${K}`,
  );
  const totals = new Map<string, Totals>(
    ['model', 'lead-3'].map((m) => [
      m,
      { sentences: 0, unbalanced: 0, abbreviation: 0, exclamation: 0, keywords: 0, jsd: 0, words: 0 },
    ]),
  );
  const examples: string[] = [];
  for (const chapter of chapters) {
    const encoded = model.encode(chapter.text, { max_sentences: K });
    const [result] = (await model.runBatch([encoded], { max_sentences: K })) as SummarizationResult[];
    const sentences = (encoded.payload as SummaryPayload).sentences;
    const all = content(chapter.text);
    const dist = distribution(all);
    const keywords = topKeywords(all, 20);
    const picks: [string, string[]][] = [
      ['model', result!.sentence_indices.map((j) => sentences[j]!)],
      ['lead-3', sentences.slice(0, K)],
    ];
    for (const [method, chosen] of picks) {
      const t = totals.get(method)!;
      const tokens = content(chosen.join(' '));
      const present = new Set(tokens);
      t.sentences += chosen.length;
      t.unbalanced += chosen.filter(unbalancedQuotes).length;
      t.abbreviation += chosen.filter(cutAfterAbbreviation).length;
      t.exclamation += chosen.filter(exclamationFragment).length;
      t.keywords += keywords.filter((k) => present.has(k)).length / keywords.length;
      t.jsd += jsDivergence(distribution(tokens), dist);
      t.words += tokenizeWords(chosen.join(' ')).length;
      if (method === 'model') {
        for (const s of chosen) {
          if (unbalancedQuotes(s) || cutAfterAbbreviation(s) || exclamationFragment(s))
            examples.push(`  ${chapter.book}, ${chapter.heading}: ${s.slice(0, 110)}`);
        }
      }
    }
  }
  const n = chapters.length;
  console.log(
    'method   sentences  unbalanced-quote  cut-after-abbrev  exclamation-fragment  keyword-recall@20  JS-divergence  words',
  );
  for (const [method, t] of totals) {
    console.log(
      `${method.padEnd(8)} ${String(t.sentences).padStart(9)}  ${String(t.unbalanced).padStart(16)}  ${String(t.abbreviation).padStart(16)}  ${String(t.exclamation).padStart(20)}  ${(t.keywords / n).toFixed(4).padStart(17)}  ${(t.jsd / n).toFixed(4).padStart(13)}  ${(t.words / n).toFixed(1).padStart(5)}`,
    );
  }
  if (examples.length > 0) console.log(`model sentences failing a check:\n${examples.join('\n')}`);

  // Splitter over the whole of the six novels.
  let sentences = 0;
  let abbreviation = 0;
  let unbalanced = 0;
  const abbreviationExamples: string[] = [];
  for (const chapter of all) {
    for (const span of splitSentences(chapter.text)) {
      const s = chapter.text.slice(span.start, span.end).replace(/\s+/g, ' ');
      sentences++;
      if (unbalancedQuotes(s)) unbalanced++;
      if (cutAfterAbbreviation(s)) {
        abbreviation++;
        if (abbreviationExamples.length < 3) abbreviationExamples.push(`  ...${s.slice(-60)}`);
      }
    }
  }
  console.log(
    `splitter on all ${all.length} chapters: ${sentences} sentences, ${abbreviation} end on an abbreviation, ${unbalanced} (${((100 * unbalanced) / sentences).toFixed(1)}%) have unbalanced quotes`,
  );
  if (abbreviationExamples.length > 0) console.log(abbreviationExamples.join('\n'));
  await registry.disposeAll();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
