/**
 * Extracts the held-out false-positive set of spam-classifier@2 (non-email English from sources that
 * are never used for training, see `spam-prose-data.ts`) into the committed
 * `scripts/models/data/spam-fp-heldout.tsv`, so the evaluation runs without the Debian packages.
 *
 *   node scripts/run-ts.js scripts/models/build-spam-fp-set.ts [--sentiment-dir DIR]
 *
 * Needs (extraction only): `apt-get install -y r-cran-tokenizers r-cran-tm` (Moby Dick, Reuters) and
 * the npm `sentiment@5.0.2` package's test fixtures (`npm pack sentiment@5.0.2 && tar xzf
 * sentiment-5.0.2.tgz`, then `--sentiment-dir package`). Deterministic (seeded samples).
 *
 * Per source: 200 Moby Dick paragraphs; every Reuters article of tm's `crude` and `acq` (70) cut into
 * passages of two paragraphs, the headline on the first; 200 State of the Union passages (15-250 words
 * cut at sentence ends, all years); 200 UCI review sentences (Amazon, IMDb, Yelp, both classes); the 119 handwritten everyday
 * sentences.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { seededRandom, shuffle } from './spam-data';
import {
  clean,
  EVERYDAY_FILE,
  FP_HELDOUT_FILE,
  loadMobyDickParagraphs,
  loadReutersArticles,
  passages,
  wordCount,
  type ProseText,
} from './spam-prose-data';
import { loadAddresses } from './sotu-data';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');

const SEED = 20261207;
const PER_SOURCE = 200;

function main(): void {
  const random = seededRandom(SEED);
  const out: ProseText[] = [];

  const moby = loadMobyDickParagraphs().map((text, i) => ({ i, text }));
  for (const { i, text } of shuffle(moby, random)
    .slice(0, PER_SOURCE)
    .sort((a, b) => a.i - b.i))
    out.push({ source: 'novels:moby-dick', id: `moby-dick:p${i}`, text });

  for (const a of loadReutersArticles()) {
    for (let k = 0; k < a.paragraphs.length; k += 2) {
      const body = a.paragraphs.slice(k, k + 2).join('\n\n');
      out.push({
        source: 'news:reuters',
        id: `reuters:${a.id}:${k / 2}`,
        text: k === 0 ? `${a.title}\n\n${body}` : body,
      });
    }
  }

  const sotu: { id: string; text: string }[] = [];
  // The addresses have no paragraph breaks: cut each into passages of 15-250 words at sentence ends.
  for (const address of loadAddresses())
    passages([address.text], random, 15, 250).forEach((p, k) => {
      if (wordCount(p) >= 15) sotu.push({ id: `sotu:${address.year}:${k}`, text: clean(p) });
    });
  for (const s of shuffle(sotu, random)
    .slice(0, PER_SOURCE)
    .sort((a, b) => (a.id < b.id ? -1 : 1)))
    out.push({ source: 'speeches:sotu', ...s });

  const dir = path.resolve(args.get('sentiment-dir') ?? '/tmp/sent/package');
  const fixtures = path.join(dir, 'test/fixtures');
  if (!existsSync(path.join(fixtures, 'amazon.json')))
    throw new Error(
      `UCI review sentences not found in ${fixtures}: run \`npm pack sentiment@5.0.2 && tar xzf sentiment-5.0.2.tgz\` and pass --sentiment-dir package`,
    );
  const reviews: { id: string; text: string }[] = [];
  for (const name of ['amazon', 'imdb', 'yelp']) {
    const rows = JSON.parse(readFileSync(path.join(fixtures, `${name}.json`), 'utf8')) as { text: string }[];
    rows.forEach((r, i) => reviews.push({ id: `uci:${name}:${i}`, text: clean(r.text) }));
  }
  for (const r of shuffle(reviews, random)
    .slice(0, PER_SOURCE)
    .sort((a, b) => (a.id < b.id ? -1 : 1)))
    out.push({ source: 'reviews:uci', ...r });

  for (const line of readFileSync(EVERYDAY_FILE, 'utf8').split('\n').slice(1)) {
    const [id, text] = line.split('\t');
    if (id && text) out.push({ source: 'everyday', id, text });
  }

  const rows = out.map((t) => `${t.source}\t${t.id}\t${t.text.replace(/\t/g, ' ').replace(/\r?\n/g, '\\n')}`);
  writeFileSync(FP_HELDOUT_FILE, ['source\tid\ttext', ...rows].join('\n') + '\n');
  const counts = new Map<string, number>();
  for (const t of out) counts.set(t.source, (counts.get(t.source) ?? 0) + 1);
  console.log(
    `${out.length} texts -> ${FP_HELDOUT_FILE}: ${[...counts].map(([s, n]) => `${s} ${n}`).join(', ')}`,
  );
}

main();
