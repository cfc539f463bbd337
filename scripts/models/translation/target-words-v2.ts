/**
 * Writes the word lists of en-es-translator@2's word-constrained decoding (src/core/models/translation/
 * target-words.ts): `target-words.txt` (config.json `target_words`), every word (maximal letter run, lower-cased)
 * of the Spanish side of the training corpus that occurs at least `--min-count` times, and `source-words.txt`
 * (`source_words`), the same of the English side. The decoder then writes only words it was trained to write,
 * or source words it was not trained to translate (and names), never a BPE invention (`insejo`).
 *
 * The list comes from the training targets only (Apertium's Spanish and the Bible's RV1909), not from any word
 * list the evaluation checks against (wspanish, aspell).
 *
 * Usage:
 *   node scripts/run-ts.js scripts/models/translation/target-words-v2.ts \
 *     [--corpus tmp/translation-corpus-v2f] [--min-count 2] [--out-dir models/en-es-translator/2]
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

interface Args {
  corpus: string;
  minCount: number;
  outDir: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    corpus: path.resolve('tmp/translation-corpus-v2f'),
    minCount: 2,
    outDir: path.resolve('models/en-es-translator/2'),
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [a, v = ''] = [argv[i], argv[i + 1]];
    if (a === '--corpus') args.corpus = path.resolve(v);
    else if (a === '--min-count') args.minCount = Number(v);
    else if (a === '--out-dir') args.outDir = path.resolve(v);
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

function countWords(counts: Map<string, number>, text: string): void {
  for (const w of text
    .normalize('NFC')
    .toLowerCase()
    .match(/[\p{L}\p{M}]+/gu) ?? [])
    counts.set(w, (counts.get(w) ?? 0) + 1);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const train = path.join(args.corpus, 'train.tsv');
  const sha = createHash('sha256').update(readFileSync(train)).digest('hex');
  const sides = [new Map<string, number>(), new Map<string, number>()] as const;
  let lines = 0;
  for await (const line of createInterface({ input: createReadStream(train, 'utf8'), crlfDelay: Infinity })) {
    const [source, target] = line.split('\t');
    if (source === undefined || target === undefined) continue;
    lines += 1;
    countWords(sides[0], source);
    countWords(sides[1], target);
  }
  const files = [
    ['source-words.txt', 'English (source)', sides[0]],
    ['target-words.txt', 'Spanish (target)', sides[1]],
  ] as const;
  for (const [file, side, counts] of files) {
    const kept = [...counts].filter(([, n]) => n >= args.minCount).map(([w]) => w);
    kept.sort();
    const header = [
      `# en-es-translator@2 word-constrained decoding (src/core/models/translation/target-words.ts): ${file}.`,
      `# Every lower-cased letter run of the ${side} side of ${path.relative(process.cwd(), train)}`,
      `# (sha256 ${sha}, ${lines} pairs) seen at least ${args.minCount} times: ${kept.length} of ${counts.size} words.`,
      `# Written by scripts/models/translation/target-words-v2.ts.`,
    ];
    const out = path.join(args.outDir, file);
    writeFileSync(out, header.join('\n') + '\n' + kept.join('\n') + '\n');
    console.log(`${file}: ${kept.length} of ${counts.size} words (min count ${args.minCount}) -> ${out}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
