import type {
  EncodedDocument,
  ModelInfo,
  TaskModel,
  TaskOptions,
  TranslationOptions,
  TranslationResult,
} from '../types';
import { DocumentInputError } from '../types';
import type { BpeTokenizer } from './bpe-tokenizer';
import { normalizeText } from './bpe-tokenizer';
import {
  maskPlaceholders,
  placeholderSlots,
  restorePlaceholders,
  type PlaceholderScheme,
} from './placeholders';
import { segmentSentences } from './sentence-segmenter';
import type { WordConstraintFactory } from './target-words';
import type { DecodeRow, TransformerTranslator } from './transformer';

/** Tuning of the translator runtime; the defaults suit the bundled en-es model. */
export interface TranslatorSettings {
  /**
   * Longest source segment in tokens (default 64). The model was trained on sentences of at most 30 words
   * (~45 tokens); a longer sentence is cut at word boundaries into pieces of at most this many tokens.
   */
  maxSegmentTokens: number;
  /** Generated tokens allowed per source token (default 2, plus `extraTargetTokens`). */
  targetLengthRatio: number;
  /** Constant added to the generated-token cap of each segment (default 10). */
  extraTargetTokens: number;
  /** Segments decoded together in one tensor batch inside `runBatch` (default 64). */
  maxRowsPerDecode: number;
  /**
   * Placeholder scheme (config.json `placeholders`; placeholders.ts): URLs, e-mail addresses, numbers, non-ASCII
   * words and symbols are replaced by placeholder tokens before translation and restored verbatim after it.
   * Undefined (the default, and en-es-translator@1): text is tokenized as it is.
   */
  placeholders?: PlaceholderScheme;
  /**
   * Word-constrained decoding (config.json `target_words`; target-words.ts): the decoder writes only words of the
   * model's target word list or of the source segment. Undefined: unconstrained greedy decoding.
   */
  targetWords?: WordConstraintFactory;
}

export const DEFAULT_TRANSLATOR_SETTINGS: TranslatorSettings = {
  maxSegmentTokens: 64,
  targetLengthRatio: 2,
  extraTargetTokens: 10,
  maxRowsPerDecode: 64,
};

/** What `encode` keeps next to the ids: where each segment's tokens end and what follows its translation. */
export interface TranslationPayload {
  /** Token count of each segment; they partition `ids`. */
  segmentLengths: number[];
  /** Separator after each segment's translation (`' '` or a paragraph break). */
  separators: string[];
  /** Whether the document was cut at the model's max length. */
  truncated: boolean;
  /** With placeholders: the original text of each placeholder slot, per segment (pieces of one sentence share it). */
  placeholders?: string[][];
}

function isPayload(p: unknown): p is TranslationPayload {
  const x = p as Partial<TranslationPayload> | undefined;
  return !!x && Array.isArray(x.segmentLengths) && Array.isArray(x.separators);
}

/**
 * English -> Spanish translator: sentence segmentation + BPE on the way in, batched greedy decoding of every
 * segment of every document of a tensor batch at once, detokenisation and re-assembly on the way out.
 */
export class Translator implements TaskModel {
  private readonly sourceLang: string;
  private readonly targetLang: string;

  constructor(
    readonly info: ModelInfo,
    private readonly tokenizer: BpeTokenizer,
    private readonly network: TransformerTranslator,
    private readonly settings: TranslatorSettings = DEFAULT_TRANSLATOR_SETTINGS,
  ) {
    if (!info.source_lang || !info.target_lang)
      throw new Error(`${info.id}: source_lang and target_lang are required`);
    this.sourceLang = info.source_lang;
    this.targetLang = info.target_lang;
  }

  encode(text: string, options: TaskOptions): EncodedDocument {
    this.checkPair(options);
    const maxLength = this.info.maxLength;
    const ids: number[] = [];
    const segmentLengths: number[] = [];
    const separators: string[] = [];
    const scheme = this.settings.placeholders;
    const placeholders: string[][] | undefined = scheme ? [] : undefined;
    let truncated = false;
    outer: for (const segment of segmentSentences(text)) {
      const masked = scheme ? maskPlaceholders(normalizeText(segment.text), scheme) : undefined;
      for (const piece of this.splitLong(this.tokenizer.encode(masked ? masked.text : segment.text))) {
        // Each segment also costs one `</s>` in the tensor batch.
        const room = maxLength - ids.length - segmentLengths.length - 1;
        if (room <= 0) {
          truncated = true;
          break outer;
        }
        const kept = piece.length > room ? piece.slice(0, room) : piece;
        if (kept.length < piece.length) truncated = true;
        ids.push(...kept);
        segmentLengths.push(kept.length);
        separators.push(' ');
        placeholders?.push(masked?.originals ?? []);
        if (truncated) break outer;
      }
      if (separators.length > 0) separators[separators.length - 1] = segment.separator;
    }
    if (ids.length === 0) {
      const reason =
        normalizeText(text).length === 0 ? 'text is empty after cleaning' : 'text has no translatable tokens';
      throw new DocumentInputError('EMPTY_TEXT', reason);
    }
    const payload: TranslationPayload = {
      segmentLengths,
      separators,
      truncated,
      ...(placeholders ? { placeholders } : {}),
    };
    return { ids: Int32Array.from(ids), length: ids.length + segmentLengths.length, payload };
  }

  async runBatch(batch: EncodedDocument[], options: TaskOptions): Promise<TranslationResult[]> {
    this.checkPair(options);
    interface Row extends DecodeRow {
      doc: number;
      seg: number;
    }
    const rows: Row[] = [];
    const separators: string[][] = [];
    const originals: Array<string[][] | undefined> = [];
    batch.forEach((doc, d) => {
      const payload: TranslationPayload = isPayload(doc.payload)
        ? doc.payload
        : { segmentLengths: [doc.ids.length], separators: [' '], truncated: false };
      separators.push(payload.separators);
      originals.push(payload.placeholders);
      let offset = 0;
      payload.segmentLengths.forEach((len, s) => {
        const src = doc.ids.subarray(offset, offset + len);
        offset += len;
        const words = this.settings.targetWords;
        rows.push({
          doc: d,
          seg: s,
          src,
          maxTokens: Math.ceil(len * this.settings.targetLengthRatio) + this.settings.extraTargetTokens,
          ...(words ? { constraint: words.forSource(this.tokenizer.decode(src)) } : {}),
        });
      });
    });
    // Sort by length so each decode batch pads little; ties keep input order (stable sort).
    const order = rows.map((_, i) => i).sort((a, b) => rows[a]!.src.length - rows[b]!.src.length);
    const decoded: number[][] = new Array<number[]>(rows.length);
    for (let i = 0; i < order.length; i += this.settings.maxRowsPerDecode) {
      const chunk = order.slice(i, i + this.settings.maxRowsPerDecode);
      const out = await this.network.translate(chunk.map((r) => rows[r]!));
      chunk.forEach((r, j) => (decoded[r] = out[j] ?? []));
    }
    const texts: string[][] = batch.map(() => []);
    const scheme = this.settings.placeholders;
    rows.forEach((row, r) => {
      let text = this.tokenizer.decode(decoded[r] ?? []);
      const slots = scheme ? originals[row.doc]?.[row.seg] : undefined;
      if (scheme && slots && slots.length > 0) {
        // Only the slots in this row's source count as expected (a long sentence is cut into several rows).
        const expected = placeholderSlots(this.tokenizer.decode(row.src), scheme);
        text = restorePlaceholders(text, slots, expected, scheme);
      }
      texts[row.doc]![row.seg] = text;
    });
    return texts.map((parts, d) => ({
      translation: parts
        .map((t, s) => (s < parts.length - 1 ? t + (separators[d]?.[s] ?? ' ') : t))
        .join('')
        .trim(),
      source_lang: this.sourceLang,
      target_lang: this.targetLang,
    }));
  }

  dispose(): void {
    this.network.dispose();
  }

  private checkPair(options: TaskOptions): void {
    const o = options as TranslationOptions;
    // Language codes compare case-insensitively (`EN` = `en`); defaults per the API contract.
    const source = String(o.source_lang ?? 'en')
      .trim()
      .toLowerCase();
    const target = String(o.target_lang ?? 'es')
      .trim()
      .toLowerCase();
    if (source !== this.sourceLang.toLowerCase() || target !== this.targetLang.toLowerCase()) {
      throw new DocumentInputError(
        'UNSUPPORTED_LANGUAGE_PAIR',
        `model ${this.info.id} translates ${this.sourceLang} -> ${this.targetLang}, not ${String(source)} -> ${String(target)}`,
      );
    }
  }

  /** Cuts a too-long segment into pieces of at most maxSegmentTokens, preferring word starts as cut points. */
  private splitLong(ids: number[]): number[][] {
    const max = this.settings.maxSegmentTokens;
    if (ids.length === 0) return [];
    if (ids.length <= max) return [ids];
    const pieces: number[][] = [];
    let start = 0;
    while (ids.length - start > max) {
      let cut = start + max;
      while (cut > start + max / 2 && !this.tokenizer.startsWord(ids[cut] ?? 0)) cut -= 1;
      if (cut <= start + max / 2) cut = start + max;
      pieces.push(ids.slice(start, cut));
      start = cut;
    }
    pieces.push(ids.slice(start));
    return pieces;
  }
}
