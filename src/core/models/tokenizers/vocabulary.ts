import { readFileSync } from 'node:fs';

/** Id of the padding token; tensor batches are right-padded with it. */
export const PAD_ID = 0;
/** Id of the out-of-vocabulary token. */
export const UNK_ID = 1;
export const PAD_TOKEN = '[PAD]';
export const UNK_TOKEN = '[UNK]';

/**
 * A token -> id table read from a `vocab.txt` file: one token per line, the line number (0-based) is
 * the id. Line 0 must be `[PAD]` and line 1 `[UNK]`. Bigram entries are two words joined by one space.
 */
export class Vocabulary {
  private readonly ids = new Map<string, number>();
  /** Bigram ids keyed by `id(w1) * size + id(w2)`, for bigrams whose words are both known. */
  private pairs?: Map<number, number>;
  /** Some bigram has a word that is not in the vocabulary on its own (looked up by string then). */
  private orphanPairs = false;
  private table?: TokenTable;
  private pairTable?: PairTable;

  constructor(readonly tokens: readonly string[]) {
    if (tokens[PAD_ID] !== PAD_TOKEN || tokens[UNK_ID] !== UNK_TOKEN) {
      throw new Error(`vocabulary must start with ${PAD_TOKEN} and ${UNK_TOKEN}`);
    }
    tokens.forEach((t, i) => {
      if (!this.ids.has(t)) this.ids.set(t, i);
    });
  }

  static fromFile(file: string): Vocabulary {
    const lines = readFileSync(file, 'utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return new Vocabulary(lines);
  }

  get size(): number {
    return this.tokens.length;
  }

  /** The id of `token`, or `undefined` when it is not in the vocabulary. */
  lookup(token: string): number | undefined {
    return this.ids.get(token);
  }

  /** The id of `token`, or {@link UNK_ID}. */
  idOf(token: string): number {
    return this.ids.get(token) ?? UNK_ID;
  }

  /**
   * The id of the bigram `"w1 w2"`, or `undefined`; `id1` and `id2` are the words' own ids. Same
   * answer as `lookup(w1 + ' ' + w2)`, without building and hashing the joined string for every
   * pair of known words (a numeric table, built on first use).
   */
  bigramId(w1: string, id1: number, w2: string, id2: number): number | undefined {
    const pairs = this.pairs ?? this.buildPairs();
    if (id1 !== UNK_ID && id2 !== UNK_ID) return pairs.get(id1 * this.tokens.length + id2);
    return this.orphanPairs ? this.ids.get(w1 + ' ' + w2) : undefined;
  }

  /** The tokens in a table that looks words up where they are in a text (built on first use). */
  tokenTable(): TokenTable {
    return (this.table ??= new TokenTable(this.ids));
  }

  /**
   * The id of the bigram of two known words (ids other than {@link UNK_ID}), or -1: the answer of
   * {@link bigramId} for such words, from an open-addressing table of int32 keys.
   */
  knownBigramId(id1: number, id2: number): number {
    return (this.pairTable ??= new PairTable(this.pairs ?? this.buildPairs(), this.tokens.length)).get(
      id1,
      id2,
    );
  }

  /** Some bigram has a word that is not in the vocabulary on its own: see {@link bigramId}. */
  get hasOrphanBigrams(): boolean {
    if (!this.pairs) this.buildPairs();
    return this.orphanPairs;
  }

  private buildPairs(): Map<number, number> {
    const pairs = new Map<number, number>();
    for (const [token, id] of this.ids) {
      const space = token.indexOf(' ');
      if (space < 0) continue;
      const a = this.ids.get(token.slice(0, space));
      const b = this.ids.get(token.slice(space + 1));
      // `[UNK]` written as a word of a bigram is looked up by string, like an unknown word.
      if (
        a === undefined ||
        b === undefined ||
        a === UNK_ID ||
        b === UNK_ID ||
        token.indexOf(' ', space + 1) >= 0
      ) {
        this.orphanPairs = true;
        continue;
      }
      const key = a * this.tokens.length + b;
      if (!pairs.has(key)) pairs.set(key, id);
    }
    this.pairs = pairs;
    return pairs;
  }

  toFileContent(): string {
    return this.tokens.join('\n') + '\n';
  }
}

/** Returned by {@link TokenTable.idOfAsciiRange} for a range with a code unit above 127. */
export const NOT_ASCII = -2;

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/**
 * A vocabulary's tokens in an open-addressing table keyed by their UTF-16 code units, so that an
 * encoder can look a word up where it lies in the text: no substring, no lowercased copy, no
 * string hashing by the engine (the Map lookups of freshly cut strings were a quarter of the
 * classifier's encode time). Same answers as the Map it is built from.
 */
export class TokenTable {
  private readonly mask: number;
  private readonly hashes: Int32Array;
  /** Token id per slot, -1 for an empty slot. */
  private readonly slotIds: Int32Array;
  private readonly starts: Int32Array;
  private readonly lengths: Int32Array;
  private readonly units: Uint16Array;

  constructor(ids: ReadonlyMap<string, number>) {
    let chars = 0;
    for (const t of ids.keys()) chars += t.length;
    let size = 16;
    while (size < ids.size * 2) size *= 2;
    this.mask = size - 1;
    this.hashes = new Int32Array(size);
    this.slotIds = new Int32Array(size).fill(-1);
    this.starts = new Int32Array(size);
    this.lengths = new Int32Array(size);
    this.units = new Uint16Array(chars);
    let at = 0;
    for (const [token, id] of ids) {
      let h = FNV_OFFSET;
      for (let i = 0; i < token.length; i++) h = Math.imul(h ^ token.charCodeAt(i), FNV_PRIME);
      let slot = h & this.mask;
      while (this.slotIds[slot] !== -1) slot = (slot + 1) & this.mask;
      this.hashes[slot] = h;
      this.slotIds[slot] = id;
      this.starts[slot] = at;
      this.lengths[slot] = token.length;
      for (let i = 0; i < token.length; i++) this.units[at++] = token.charCodeAt(i);
    }
  }

  /**
   * The id of `text.slice(start, end)`, with A-Z lowercased when `lowercase` (what
   * `toLowerCase()` does to ASCII), or -1 when it is not a token; {@link NOT_ASCII} when the range
   * has a code unit above 127 (the caller then lowercases and looks the string up itself).
   */
  idOfAsciiRange(text: string, start: number, end: number, lowercase: boolean): number {
    let h = FNV_OFFSET;
    for (let i = start; i < end; i++) {
      let c = text.charCodeAt(i);
      if (c > 127) return NOT_ASCII;
      if (lowercase && c >= 65 && c <= 90) c += 32;
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    const len = end - start;
    for (let slot = h & this.mask; ; slot = (slot + 1) & this.mask) {
      const id = this.slotIds[slot]!;
      if (id < 0) return -1;
      if (this.hashes[slot] !== h || this.lengths[slot] !== len) continue;
      let k = this.starts[slot]!;
      let i = start;
      for (; i < end; i++, k++) {
        let c = text.charCodeAt(i);
        if (lowercase && c >= 65 && c <= 90) c += 32;
        if (this.units[k] !== c) break;
      }
      if (i === end) return id;
    }
  }
}

/** Bigram ids by the ids of their two words, open addressing over int32 arrays (-1: none). */
class PairTable {
  private readonly mask: number;
  private readonly first: Int32Array;
  private readonly second: Int32Array;
  /** Bigram id per slot, -1 for an empty slot. */
  private readonly values: Int32Array;

  /** `pairs` is keyed `id1 * vocabSize + id2`, as Vocabulary builds it. */
  constructor(pairs: ReadonlyMap<number, number>, vocabSize: number) {
    let size = 16;
    while (size < pairs.size * 2) size *= 2;
    this.mask = size - 1;
    this.first = new Int32Array(size);
    this.second = new Int32Array(size);
    this.values = new Int32Array(size).fill(-1);
    for (const [key, id] of pairs) {
      const a = Math.floor(key / vocabSize);
      const b = key - a * vocabSize;
      let slot = PairTable.hash(a, b) & this.mask;
      while (this.values[slot] !== -1) slot = (slot + 1) & this.mask;
      this.first[slot] = a;
      this.second[slot] = b;
      this.values[slot] = id;
    }
  }

  private static hash(a: number, b: number): number {
    const h = Math.imul(a, 0x9e3779b1) ^ b;
    return Math.imul(h ^ (h >>> 15), 0x85ebca6b) ^ (h >>> 13);
  }

  get(a: number, b: number): number {
    for (let slot = PairTable.hash(a, b) & this.mask; ; slot = (slot + 1) & this.mask) {
      const v = this.values[slot]!;
      if (v < 0 || (this.first[slot] === a && this.second[slot] === b)) return v;
    }
  }
}
