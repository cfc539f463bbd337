import { z } from 'zod';
import { AppError } from '../errors';
import type { ErrorDetail } from '../errors';
import type { DocumentItem } from '../batches/document-source';
import { copyEscape, MAX_ERROR_DETAILS } from '../batches/document-validator';
import { badString } from '../batches/string-checks';

/**
 * Validates the labelled examples of a training upload (`{"text": "...", "label": "..."}` per NDJSON
 * line, from the same line splitter as batch uploads: `ndjsonSource`) and encodes the valid ones as
 * rows of `COPY training_examples (job_id, seq, text, label) FROM STDIN`. Line errors are reported
 * exactly like a batch upload's: `INVALID_DOCUMENT` with 1-based `line` (and `field`) per bad line,
 * the first 100 kept. Only the count per label is kept in memory, never the examples.
 */

/** Longest label, characters. */
export const MAX_LABEL_CHARS = 100;
/** Distinct labels a training upload may have at most. */
export const MAX_LABELS = 1_000;

const exampleSchema = (maxTextChars: number) =>
  z.strictObject({
    text: z
      .string({ error: 'must be a non-empty string' })
      .min(1, 'must be a non-empty string')
      .refine(
        (t) => t.length <= maxTextChars || [...t].length <= maxTextChars,
        `must be at most ${maxTextChars} characters`,
      ),
    label: z
      .string({ error: 'must be a non-empty string' })
      .min(1, 'must be a non-empty string')
      .max(MAX_LABEL_CHARS, `must be at most ${MAX_LABEL_CHARS} characters`),
  });

export interface ExampleValidatorOptions {
  jobId: string;
  /** `MAX_DOC_CHARS`: longest example text, characters. */
  maxTextChars: number;
  /** `MAX_TRAINING_EXAMPLES`: more examples than this -> 413 PAYLOAD_TOO_LARGE, thrown at once. */
  maxExamples: number;
}

export class ExampleValidator {
  /** Valid examples so far. */
  count = 0;
  errorCount = 0;
  readonly errors: ErrorDetail[] = [];
  /** Examples per label (insertion order: first seen first). */
  readonly labelCounts = new Map<string, number>();
  private readonly schema: ReturnType<typeof exampleSchema>;
  private readonly jobCol: string;

  constructor(private readonly opts: ExampleValidatorOptions) {
    this.schema = exampleSchema(opts.maxTextChars);
    this.jobCol = copyEscape(opts.jobId);
  }

  get ok(): boolean {
    return this.errorCount === 0;
  }

  private fail(detail: ErrorDetail): void {
    this.errorCount++;
    if (this.errors.length < MAX_ERROR_DETAILS) this.errors.push(detail);
  }

  /** Validates items; returns the COPY rows of the valid ones (empty once any error was seen). */
  accept(items: DocumentItem[]): string {
    let rows = '';
    for (const item of items) {
      const ex = this.check(item);
      if (!ex || this.errorCount > 0) continue;
      rows += `${this.jobCol}\t${item.line}\t${copyEscape(ex.text)}\t${copyEscape(ex.label)}\n`;
    }
    return this.errorCount === 0 ? rows : '';
  }

  private check(item: DocumentItem): { text: string; label: string } | null {
    const line = item.line;
    if (line > this.opts.maxExamples) {
      throw new AppError(
        'PAYLOAD_TOO_LARGE',
        `A training upload may have at most ${this.opts.maxExamples} examples (MAX_TRAINING_EXAMPLES).`,
      );
    }
    if ('error' in item) {
      this.fail({ line, ...(item.field ? { field: item.field } : {}), message: item.error });
      return null;
    }
    let value: unknown;
    if ('json' in item) {
      try {
        value = JSON.parse(item.json);
      } catch {
        this.fail({ line, message: 'is not valid JSON' });
        return null;
      }
    } else {
      value = item.value;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail({ line, message: 'must be a JSON object with "text" and "label" fields' });
      return null;
    }
    const res = this.schema.safeParse(value);
    if (!res.success) {
      for (const issue of res.error.issues) {
        if (issue.code === 'unrecognized_keys') {
          this.fail({ line, message: `unknown field(s): ${issue.keys.join(', ')}` });
        } else {
          this.fail({ line, field: issue.path.map(String).join('.') || undefined, message: issue.message });
        }
      }
      return null;
    }
    const { text, label } = res.data;
    for (const [field, v] of [
      ['text', text],
      ['label', label],
    ] as const) {
      const problem = badString(v);
      if (problem) {
        this.fail({ line, field, message: problem });
        return null;
      }
    }
    if (text.trim() === '') {
      this.fail({ line, field: 'text', message: 'must contain a non-whitespace character' });
      return null;
    }
    if (label.trim() !== label) {
      this.fail({ line, field: 'label', message: 'must not start or end with whitespace' });
      return null;
    }
    const n = this.labelCounts.get(label);
    if (n === undefined && this.labelCounts.size >= MAX_LABELS) {
      this.fail({ line, field: 'label', message: `a training upload may have at most ${MAX_LABELS} labels` });
      return null;
    }
    this.labelCounts.set(label, (n ?? 0) + 1);
    this.count++;
    return { text, label };
  }

  /** The line error to answer with once all items were seen, or null when every line is valid. */
  result(): AppError | null {
    if (this.errorCount === 0) return null;
    const more = this.errorCount > this.errors.length ? ` (first ${this.errors.length} shown)` : '';
    return new AppError(
      'INVALID_DOCUMENT',
      `${this.errorCount} invalid example line(s)${more}; nothing was stored.`,
      this.errors,
    );
  }

  /**
   * The data-level error once every line is valid: fewer than 2 labels, or a label with fewer than
   * `minPerLabel` examples (`INSUFFICIENT_TRAINING_DATA`, the labels named in `details`); else null.
   */
  dataProblem(minPerLabel: number): AppError | null {
    if (this.count === 0) {
      return new AppError('INSUFFICIENT_TRAINING_DATA', 'The upload has no examples.');
    }
    if (this.labelCounts.size < 2) {
      return new AppError(
        'INSUFFICIENT_TRAINING_DATA',
        `A classifier needs at least 2 labels; the upload has ${this.labelCounts.size} (${[...this.labelCounts.keys()].map((l) => JSON.stringify(l)).join(', ')}).`,
        [{ field: 'label', message: 'at least 2 distinct labels are needed' }],
      );
    }
    const few = [...this.labelCounts].filter(([, n]) => n < minPerLabel);
    if (few.length > 0) {
      return new AppError(
        'INSUFFICIENT_TRAINING_DATA',
        `Every label needs at least ${minPerLabel} examples; ${few.length} label(s) have fewer.`,
        few.slice(0, MAX_ERROR_DETAILS).map(([label, n]) => ({
          field: 'label',
          message: `label ${JSON.stringify(label)} has ${n} example(s), fewer than ${minPerLabel}`,
        })),
      );
    }
    return null;
  }
}
