/**
 * Byte-pair-encoding (BPE) subword tokenizer shared by the source and target languages.
 *
 * Pre-tokenization splits NFKC-normalised text into letter runs, digit runs and single other characters;
 * a piece that follows whitespace (or starts the text) gets the word-boundary marker `▁` (U+2581) in front,
 * so decoding is lossless up to whitespace normalisation: concatenate the pieces and turn `▁` into spaces.
 * Each piece is then split into characters and merged with the learned merge list, lowest rank first
 * (Sennrich et al., 2016). Characters not in the vocabulary become `<unk>`.
 *
 * The same code encodes the training data (scripts/models/translation/learn-bpe.ts) and serves requests,
 * so training and inference cannot drift apart.
 */

/** Word-boundary marker (U+2581, as in SentencePiece). */
export const WORD_BOUNDARY = '\u2581';
export const PAD_TOKEN = '<pad>';
export const BOS_TOKEN = '<s>';
export const EOS_TOKEN = '</s>';
export const UNK_TOKEN = '<unk>';
/** Special tokens, always the first ids of the vocabulary in this order. */
export const SPECIAL_TOKENS = [PAD_TOKEN, BOS_TOKEN, EOS_TOKEN, UNK_TOKEN] as const;
export const PAD_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
export const UNK_ID = 3;

/** On-disk form (`vocab.json` in a model version directory). */
export interface BpeVocabFile {
  format: 'docbatch-bpe/1';
  /** Token strings; the index is the id. Starts with SPECIAL_TOKENS. */
  tokens: string[];
  /** Merges in rank order, each `"left right"`. */
  merges: string[];
}

const PRETOKEN_RE = /(\s*)([\p{L}\p{M}]+|\p{N}+|[^\s\p{L}\p{M}\p{N}])/gu;

/** Normalises text before tokenization: NFKC, typographic quotes to ASCII, no control characters. */
export function normalizeText(text: string): string {
  return text
    .normalize('NFKC')
    .replace(/[\u2018\u2019\u201A\u2032]/g, "'")
    .replace(/[\u201C\u201D\u201E\u2033]/g, '"')
    .replace(/[\u2013\u2014]/g, ' - ')
    .replace(/[\p{Cc}\u200B-\u200F\uFEFF]/gu, ' ')
    .replace(/\u2581/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Splits normalised text into pre-tokens, each carrying `▁` when it starts a word. */
export function preTokenize(text: string): string[] {
  const out: string[] = [];
  let first = true;
  for (const m of text.matchAll(PRETOKEN_RE)) {
    const space = m[1] ?? '';
    const piece = m[2] ?? '';
    out.push(first || space.length > 0 ? WORD_BOUNDARY + piece : piece);
    first = false;
  }
  return out;
}

/** Joins decoded pieces back into text. */
export function detokenize(pieces: readonly string[]): string {
  return pieces.join('').split(WORD_BOUNDARY).join(' ').replace(/\s+/g, ' ').trim();
}

const CACHE_LIMIT = 50_000;

export class BpeTokenizer {
  private readonly tokenToId = new Map<string, number>();
  private readonly mergeRank = new Map<string, number>();
  private readonly cache = new Map<string, number[]>();

  constructor(readonly vocab: BpeVocabFile) {
    if (vocab.format !== 'docbatch-bpe/1')
      throw new Error(`unsupported BPE vocabulary format ${String(vocab.format)}`);
    SPECIAL_TOKENS.forEach((tok, i) => {
      if (vocab.tokens[i] !== tok)
        throw new Error(`BPE vocabulary must start with ${SPECIAL_TOKENS.join(', ')}`);
    });
    vocab.tokens.forEach((tok, i) => this.tokenToId.set(tok, i));
    vocab.merges.forEach((m, i) => this.mergeRank.set(m, i));
  }

  get size(): number {
    return this.vocab.tokens.length;
  }

  /** Token ids of a text (no BOS/EOS). */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const pre of preTokenize(normalizeText(text))) {
      for (const id of this.encodePiece(pre)) ids.push(id);
    }
    return ids;
  }

  /** Token strings of a text (for inspection and the training scripts). */
  tokenize(text: string): string[] {
    return this.encode(text).map((id) => this.vocab.tokens[id] ?? UNK_TOKEN);
  }

  /** Text of token ids; special tokens are skipped. */
  decode(ids: ArrayLike<number>): string {
    const pieces: string[] = [];
    for (let i = 0; i < ids.length; i += 1) {
      const id = ids[i] ?? UNK_ID;
      if (id < SPECIAL_TOKENS.length) continue;
      const tok = this.vocab.tokens[id];
      if (tok !== undefined) pieces.push(tok);
    }
    return detokenize(pieces);
  }

  /** Whether a token id starts a word (used to cut long inputs at word boundaries). */
  startsWord(id: number): boolean {
    return this.vocab.tokens[id]?.startsWith(WORD_BOUNDARY) ?? false;
  }

  private encodePiece(piece: string): number[] {
    const cached = this.cache.get(piece);
    if (cached) return cached;
    let symbols = Array.from(piece);
    while (symbols.length > 1) {
      let bestRank = Infinity;
      let bestAt = -1;
      for (let i = 0; i < symbols.length - 1; i += 1) {
        const rank = this.mergeRank.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          bestAt = i;
        }
      }
      if (bestAt < 0) break;
      const left = symbols[bestAt] ?? '';
      const right = symbols[bestAt + 1] ?? '';
      const merged: string[] = [];
      // Merge every occurrence of the best pair, left to right.
      for (let i = 0; i < symbols.length; i += 1) {
        if (i < symbols.length - 1 && symbols[i] === left && symbols[i + 1] === right) {
          merged.push(left + right);
          i += 1;
        } else {
          merged.push(symbols[i] ?? '');
        }
      }
      symbols = merged;
    }
    const ids = symbols.map((s) => this.tokenToId.get(s) ?? UNK_ID);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(piece, ids);
    return ids;
  }
}
