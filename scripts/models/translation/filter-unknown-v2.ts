/**
 * Drops the training pairs of en-es-translator@2 whose Spanish side keeps an English word Apertium does not know.
 *
 *   node scripts/run-ts.js scripts/models/translation/filter-unknown-v2.ts \
 *     [--in tmp/translation-corpus-v2] [--out tmp/translation-corpus-v2f] [--jobs 2] [--marked FILE]
 *
 * The corpus builder (build-corpus-v2.ts) translates with `apertium -u`, which copies an unknown word bare
 * (`uneasiness`, `dlrs`, `whale`): a model trained on it learns to copy English words into its Spanish, and
 * issue 14 bounds non-Spanish output words at 3%. This pass translates the (masked) English of every training
 * pair again, without `-u`, so that Apertium marks what it could not translate (`*word` unknown to the English
 * dictionary, `@word` no bilingual entry: both are English words left in the Spanish), and keeps a pair only
 * when no lower-case word is so marked (capitalised unknowns are names, which the model should copy).
 * `#word` (a Spanish lemma Apertium could not inflect: `#puesto`, `#carácter`) is Spanish and does not drop
 * the pair. The marked translations are kept in <out>/train.marked.txt, so that a changed rule reruns in
 * seconds with --marked. dev.tsv is copied unchanged, so dev losses
 * stay comparable across the switch. Deterministic: same input, same Apertium, same output (sha256 printed).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

interface Args {
  in: string;
  out: string;
  jobs: number;
  /** Apertium's marked translations of a previous run (one per training line), instead of running it again. */
  marked?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { in: 'tmp/translation-corpus-v2', out: 'tmp/translation-corpus-v2f', jobs: 2 };
  for (let i = 0; i < argv.length; i += 2) {
    const [a, v = ''] = [argv[i], argv[i + 1]];
    if (a === '--in') args.in = v;
    else if (a === '--out') args.out = v;
    else if (a === '--jobs') args.jobs = Math.max(1, Number(v));
    else if (a === '--marked') args.marked = v;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

const CHUNK_LINES = 5000;

function apertiumMarked(lines: string[], workDir: string, idx: number): Promise<string[]> {
  const inFile = path.join(workDir, `chunk-${idx}.en.txt`);
  const outFile = path.join(workDir, `chunk-${idx}.es.txt`);
  writeFileSync(inFile, lines.join('\n') + '\n');
  return new Promise((resolve, reject) => {
    const child = spawn('apertium', ['eng-spa', inFile, outFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`apertium exited with ${code}: ${stderr}`));
      const out = readFileSync(outFile, 'utf8').replace(/\n$/, '').split('\n');
      rmSync(inFile);
      rmSync(outFile);
      if (out.length !== lines.length)
        return reject(new Error(`apertium line mismatch ${out.length} != ${lines.length}`));
      return resolve(out);
    });
  });
}

/** A lower-case word Apertium marked unknown (`*`) or without a bilingual entry (`@`). */
export const MARKED_LOWERCASE = /(?:^|[\s"'(¿¡])[*@](\p{Ll}[\p{L}'-]*)/u;

async function markAll(lines: string[], jobs: number): Promise<string[]> {
  const english = lines.map((l) => l.split('\t')[0]!);
  const chunks: string[][] = [];
  for (let i = 0; i < english.length; i += CHUNK_LINES) chunks.push(english.slice(i, i + CHUNK_LINES));
  const marked: string[][] = new Array<string[]>(chunks.length);
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'docbatch-filter-v2-'));
  let next = 0;
  let done = 0;
  const started = Date.now();
  async function worker(): Promise<void> {
    while (next < chunks.length) {
      const idx = next;
      next += 1;
      marked[idx] = await apertiumMarked(chunks[idx]!, workDir, idx);
      done += 1;
      process.stderr.write(
        `\rapertium (marks on): ${done}/${chunks.length} chunks, ${((Date.now() - started) / 1000).toFixed(0)} s`,
      );
    }
  }
  await Promise.all(Array.from({ length: Math.min(jobs, chunks.length) }, () => worker()));
  rmSync(workDir, { recursive: true, force: true });
  process.stderr.write('\n');

  return marked.flat();
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const lines = readFileSync(path.join(args.in, 'train.tsv'), 'utf8').replace(/\n$/, '').split('\n');
  const flat = args.marked
    ? readFileSync(args.marked, 'utf8').replace(/\n$/, '').split('\n')
    : await markAll(lines, args.jobs);
  if (flat.length !== lines.length)
    throw new Error(`${flat.length} marked lines for ${lines.length} training pairs`);
  mkdirSync(args.out, { recursive: true });
  if (!args.marked) writeFileSync(path.join(args.out, 'train.marked.txt'), flat.join('\n') + '\n');
  const kept: string[] = [];
  const unknown = new Map<string, number>();
  for (let i = 0; i < lines.length; i += 1) {
    const m = MARKED_LOWERCASE.exec(flat[i]!);
    if (!m) kept.push(lines[i]!);
    else {
      const w = m[1]!.toLowerCase();
      unknown.set(w, (unknown.get(w) ?? 0) + 1);
    }
  }
  const body = kept.join('\n') + '\n';
  writeFileSync(path.join(args.out, 'train.tsv'), body);
  copyFileSync(path.join(args.in, 'dev.tsv'), path.join(args.out, 'dev.tsv'));
  const sha = createHash('sha256').update(body).digest('hex');
  const top = [...unknown.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 30);
  process.stdout.write(
    `kept ${kept.length} of ${lines.length} pairs (${((100 * kept.length) / lines.length).toFixed(1)}%); ` +
      `dropped ${lines.length - kept.length} with a marked lower-case word\n` +
      `train.tsv sha256 ${sha}\n` +
      `most frequent first marked words: ${top.map(([w, n]) => `${w} ${n}`).join(', ')}\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
