/**
 * Learns the joint English/Spanish BPE vocabulary from the training corpus and encodes the corpus to ids
 * for the trainer (scripts/models/translation/train.py).
 *
 * Usage:
 *   node scripts/run-ts.js scripts/models/translation/learn-bpe.ts \
 *     [--corpus tmp/translation-corpus] [--vocab-size 6000] [--out models/en-es-translator/1]
 *
 * Writes <out>/vocab.json and <corpus>/{train,dev}.ids.txt (one pair per line: `src ids<TAB>tgt ids`).
 * Deterministic: ties between equally frequent pairs are broken by the pair's symbol ids.
 *
 * en-es-translator@2 (corpus with placeholders, see build-corpus-v2.ts):
 *   node scripts/run-ts.js scripts/models/translation/learn-bpe.ts --corpus tmp/translation-corpus-v2 \
 *     --vocab-size 12000 --placeholders 16 --out scripts/models/translation/v2
 * `--vocab FILE` encodes the corpus with an existing vocabulary instead of learning one (v2's committed
 * scripts/models/translation/v2/vocab.json: see scripts/models/translation/README.md).
 * `--placeholders N` puts the N placeholder characters (U+E000...) and `¿ ¡` in the alphabet whatever their
 * count, and renumbers the placeholder slots of each TRAINING pair by a seeded random permutation (the same
 * permutation on both sides), so every slot is trained although most sentences only use slots 0-2; dev keeps
 * the serving numbering (0, 1, 2 ... in order of appearance).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import {
  BpeTokenizer,
  normalizeText,
  preTokenize,
  SPECIAL_TOKENS,
  type BpeVocabFile,
} from '../../../src/core/models/translation/bpe-tokenizer';
import { placeholderChar, placeholderSlot } from '../../../src/core/models/translation/placeholders';

interface Args {
  corpus: string;
  vocabSize: number;
  out: string;
  /** Encode with this existing vocab.json instead of learning one. */
  vocab?: string;
  minCharCount: number;
  placeholders: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    corpus: resolve('tmp/translation-corpus'),
    vocabSize: 6000,
    out: resolve('models/en-es-translator/1'),
    minCharCount: 3,
    placeholders: 0,
  };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const v = argv[i + 1] ?? '';
    if (a === '--corpus') args.corpus = resolve(v);
    else if (a === '--vocab-size') args.vocabSize = Number(v);
    else if (a === '--out') args.out = resolve(v);
    else if (a === '--vocab') args.vocab = resolve(v);
    else if (a === '--min-char-count') args.minCharCount = Number(v);
    else if (a === '--placeholders') args.placeholders = Number(v);
    else throw new Error(`unknown argument ${a}`);
    i += 1;
  }
  return args;
}

function readPairs(file: string): Array<[string, string]> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const [src, tgt] = l.split('\t');
      return [src ?? '', tgt ?? ''];
    });
}

/** Max-heap of candidate pairs with lazy invalidation. */
class PairHeap {
  private readonly items: Array<{ count: number; key: number }> = [];

  push(count: number, key: number): void {
    const items = this.items;
    items.push({ count, key });
    let i = items.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(items[i]!, items[p]!)) break;
      [items[i], items[p]] = [items[p]!, items[i]!];
      i = p;
    }
  }

  pop(): { count: number; key: number } | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.before(items[l]!, items[m]!)) m = l;
        if (r < items.length && this.before(items[r]!, items[m]!)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }

  private before(a: { count: number; key: number }, b: { count: number; key: number }): boolean {
    return a.count > b.count || (a.count === b.count && a.key < b.key);
  }
}

const PAIR_BASE = 1 << 20;

function learnBpe(
  wordCounts: Map<string, number>,
  vocabSize: number,
  minCharCount: number,
  forced: readonly string[] = [],
): BpeVocabFile {
  const charCounts = new Map<string, number>();
  for (const [word, n] of wordCounts)
    for (const ch of word) charCounts.set(ch, (charCounts.get(ch) ?? 0) + n);
  const alphabet = [
    ...new Set([
      ...[...charCounts.entries()].filter(([, n]) => n >= minCharCount).map(([ch]) => ch),
      ...forced,
    ]),
  ].sort();
  const symbols: string[] = [...alphabet];
  const symbolId = new Map<string, number>(symbols.map((s, i) => [s, i]));

  // Words as symbol-id arrays; words with characters outside the alphabet are split at those characters.
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [word, n] of [...wordCounts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    let cur: number[] = [];
    for (const ch of word) {
      const id = symbolId.get(ch);
      if (id === undefined) {
        if (cur.length > 1) {
          words.push(cur);
          freqs.push(n);
        }
        cur = [];
      } else cur.push(id);
    }
    if (cur.length > 1) {
      words.push(cur);
      freqs.push(n);
    }
  }

  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPair = (key: number, wi: number, n: number): void => {
    pairCounts.set(key, (pairCounts.get(key) ?? 0) + n);
    let set = pairWords.get(key);
    if (!set) pairWords.set(key, (set = new Set()));
    set.add(wi);
  };
  words.forEach((w, wi) => {
    for (let i = 0; i < w.length - 1; i += 1) addPair(w[i]! * PAIR_BASE + w[i + 1]!, wi, freqs[wi]!);
  });
  const heap = new PairHeap();
  for (const [key, count] of pairCounts) heap.push(count, key);

  const merges: string[] = [];
  const target = vocabSize - SPECIAL_TOKENS.length;
  while (symbols.length < target) {
    const top = heap.pop();
    if (!top) break;
    const current = pairCounts.get(top.key) ?? 0;
    if (current !== top.count) continue; // stale heap entry
    if (current < 2) break;
    const a = Math.floor(top.key / PAIR_BASE);
    const b = top.key % PAIR_BASE;
    const merged = symbols[a]! + symbols[b]!;
    let newId = symbolId.get(merged);
    if (newId === undefined) {
      newId = symbols.length;
      symbols.push(merged);
      symbolId.set(merged, newId);
    }
    merges.push(`${symbols[a]} ${symbols[b]}`);
    const touched = new Set<number>();
    for (const wi of [...(pairWords.get(top.key) ?? [])].sort((x, y) => x - y)) {
      const w = words[wi]!;
      const n = freqs[wi]!;
      for (let i = 0; i < w.length - 1; i += 1) {
        const key = w[i]! * PAIR_BASE + w[i + 1]!;
        pairCounts.set(key, (pairCounts.get(key) ?? 0) - n);
        touched.add(key);
      }
      const next: number[] = [];
      for (let i = 0; i < w.length; i += 1) {
        if (i < w.length - 1 && w[i] === a && w[i + 1] === b) {
          next.push(newId);
          i += 1;
        } else next.push(w[i]!);
      }
      words[wi] = next;
      for (let i = 0; i < next.length - 1; i += 1) {
        const key = next[i]! * PAIR_BASE + next[i + 1]!;
        addPair(key, wi, n);
        touched.add(key);
      }
    }
    for (const key of touched) {
      const c = pairCounts.get(key) ?? 0;
      if (c > 0) heap.push(c, key);
    }
  }
  return { format: 'docbatch-bpe/1', tokens: [...SPECIAL_TOKENS, ...symbols], merges };
}

/** Renumbers each pair's placeholder slots by a seeded random permutation (both sides alike). */
function permutePlaceholderSlots(pairs: Array<[string, string]>, slots: number): void {
  let seed = 20261205;
  const random = (): number => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const scheme = { first: 0xe000, slots };
  pairs.forEach((pair, k) => {
    if (!/[\uE000-\uF8FF]/u.test(pair[0])) return;
    const perm = Array.from({ length: slots }, (_, i) => i);
    for (let i = slots - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    }
    const map = (s: string): string =>
      Array.from(s, (ch) => {
        const slot = placeholderSlot(ch, scheme);
        return slot < 0 ? ch : placeholderChar(perm[slot]!, scheme);
      }).join('');
    pairs[k] = [map(pair[0]), map(pair[1])];
  });
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const train = readPairs(join(args.corpus, 'train.tsv'));
  if (args.placeholders > 0) permutePlaceholderSlots(train, args.placeholders);
  const dev = readPairs(join(args.corpus, 'dev.tsv'));
  const wordCounts = new Map<string, number>();
  for (const [src, tgt] of train) {
    for (const side of [src, tgt]) {
      for (const w of preTokenize(normalizeText(side))) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
    }
  }
  const started = Date.now();
  const forced =
    args.placeholders > 0
      ? ['¿', '¡', ...Array.from({ length: args.placeholders }, (_, i) => placeholderChar(i))]
      : [];
  let vocab: BpeVocabFile;
  if (args.vocab) {
    vocab = JSON.parse(readFileSync(args.vocab, 'utf8')) as BpeVocabFile;
    const missing = forced.filter((ch) => !vocab.tokens.includes(ch));
    if (missing.length > 0) throw new Error(`${args.vocab} lacks ${missing.length} forced characters`);
    console.log(`encoding with ${args.vocab}: vocabulary ${vocab.tokens.length} (not learned)`);
  } else {
    vocab = learnBpe(wordCounts, args.vocabSize, args.minCharCount, forced);
    console.log(
      `learned ${vocab.merges.length} merges, vocabulary ${vocab.tokens.length} in ${(Date.now() - started) / 1000}s`,
    );
    mkdirSync(args.out, { recursive: true });
    writeFileSync(join(args.out, 'vocab.json'), JSON.stringify(vocab));
  }
  const tok = new BpeTokenizer(vocab);
  for (const [name, pairs] of [
    ['train', train],
    ['dev', dev],
  ] as const) {
    let srcTokens = 0;
    let tgtTokens = 0;
    let unk = 0;
    const lines = pairs.map(([src, tgt]) => {
      const s = tok.encode(src);
      const t = tok.encode(tgt);
      srcTokens += s.length;
      tgtTokens += t.length;
      unk += s.filter((x) => x === 3).length + t.filter((x) => x === 3).length;
      return `${s.join(' ')}\t${t.join(' ')}`;
    });
    writeFileSync(join(args.corpus, `${name}.ids.txt`), lines.join('\n') + '\n');
    console.log(
      `${name}: ${pairs.length} pairs, ${srcTokens} source / ${tgtTokens} target tokens, ${unk} <unk>`,
    );
  }
}

main();
