import { z } from 'zod';
import { AppError } from '../errors';
import type { ErrorDetail } from '../errors';
import type { DocumentItem } from './document-source';
import { IdHashSet } from './id-hash-set';
import { badString, findBadString } from './string-checks';

/**
 * Validates the documents of one upload and encodes the valid ones as rows of Postgres
 * `COPY documents (batch_id, seq, client_id, text, metadata) FROM STDIN` (text format).
 *
 * Rules: `text` a non-empty string of at most `maxDocChars` characters (Unicode code points);
 * `id` optional, a non-empty string of at most 128 characters, unique within the batch (defaults to
 * the line number); `metadata` optional object (or null). Unknown fields are refused. NUL characters
 * (which Postgres text cannot hold) and lone UTF-16 surrogates (which UTF-8 cannot encode) are refused in
 * text, id and metadata keys and values; metadata is stored as parsed (a `__proto__` key included). The first 100 problems are kept, with 1-based lines.
 *
 * Duplicate ids are found without keeping every id in memory: explicit ids go into an IdHashSet
 * (96-bit digests in typed arrays, 24 MB per million ids), documents without an id only set a bit,
 * and an explicit id that looks like a line number is checked against that bitmap.
 */

export const MAX_ERROR_DETAILS = 100;
export const MAX_CLIENT_ID_CHARS = 128;
/** Longest per-document metadata, as serialized JSON (issue 16: 100,000 keys were accepted). */
export const MAX_DOC_METADATA_CHARS = 65_536;

const documentSchema = (maxDocChars: number) =>
  z.strictObject({
    id: z
      .string({ error: 'must be a string' })
      .min(1, 'must be a non-empty string')
      .max(MAX_CLIENT_ID_CHARS, `must be at most ${MAX_CLIENT_ID_CHARS} characters`)
      .optional(),
    text: z
      .string({ error: 'must be a non-empty string' })
      .min(1, 'must be a non-empty string')
      .refine(
        (t) => t.length <= maxDocChars || codePoints(t) <= maxDocChars,
        `must be at most ${maxDocChars} characters`,
      ),
    metadata: z
      .record(z.string(), z.unknown(), { error: 'must be an object' })
      .refine((m) => !jsonDeeperThan(m, MAX_METADATA_DEPTH), {
        message: `must be nested at most ${MAX_METADATA_DEPTH} levels deep`,
        abort: true,
      })
      .nullable()
      .optional(),
  });

/** Deepest nesting of metadata objects/arrays accepted (deeper JSON overflows JSON.stringify). */
export const MAX_METADATA_DEPTH = 64;

/** True when `value` nests objects/arrays more than `max` levels deep (iterative: safe on any depth). */
export function jsonDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(v as Record<string, unknown>)) stack.push([child, depth + 1]);
  }
  return false;
}

function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}

const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_SPECIAL_G = /[\\\n\r\t]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Escapes a value for the COPY text format. */
export function copyEscape(s: string): string {
  return COPY_SPECIAL.test(s) ? s.replace(COPY_SPECIAL_G, (c) => COPY_ESCAPES[c] as string) : s;
}

/** Key under which an explicit id is remembered: short ids as they are, long ones as a 96-bit hash. */

const CANONICAL_LINE = /^[1-9][0-9]{0,9}$/;

/** Valid documents as column arrays, for one `INSERT ... SELECT FROM unnest(...)` (small batches). */
export interface DocumentColumns {
  seq: number[];
  clientId: string[];
  text: string[];
  /** Metadata as JSON text, or null. */
  metadata: (string | null)[];
}

export interface DocumentValidatorOptions {
  batchId: string;
  maxDocChars: number;
  /** More documents than this -> 413 PAYLOAD_TOO_LARGE, thrown at once. */
  maxDocs: number;
}

export class DocumentValidator {
  /** Documents accepted so far (their `seq` equals their line). */
  count = 0;
  /** Highest line seen (valid or not). */
  lines = 0;
  errorCount = 0;
  duplicateCount = 0;
  readonly errors: ErrorDetail[] = [];
  private readonly schema: ReturnType<typeof documentSchema>;
  private readonly batchCol: string;
  private readonly explicitIds = new IdHashSet();
  /** Bit per line: 1 when that line is a valid document that took its line number as id. */
  private defaultIdLines = new Uint8Array(1 << 14);
  // The fields of the last document `check` accepted (not an object per document: a million-line
  // upload allocates nothing per line beyond its parsed value).
  private clientId = '';
  private text = '';
  private metadataJson: string | null = null;

  constructor(private readonly opts: DocumentValidatorOptions) {
    this.schema = documentSchema(opts.maxDocChars);
    this.batchCol = copyEscape(opts.batchId);
  }

  get ok(): boolean {
    return this.errorCount === 0;
  }

  private fail(detail: ErrorDetail, duplicate = false): void {
    this.errorCount++;
    if (duplicate) this.duplicateCount++;
    if (this.errors.length < MAX_ERROR_DETAILS) this.errors.push(detail);
  }

  private markDefault(line: number): void {
    if (line >= this.defaultIdLines.length * 8) {
      const next = new Uint8Array(Math.max(this.defaultIdLines.length * 2, (line >> 3) + 1));
      next.set(this.defaultIdLines);
      this.defaultIdLines = next;
    }
    this.defaultIdLines[line >> 3]! |= 1 << (line & 7);
  }

  private hasDefault(line: number): boolean {
    return (
      line < this.defaultIdLines.length * 8 &&
      ((this.defaultIdLines[line >> 3] ?? 0) & (1 << (line & 7))) !== 0
    );
  }

  /**
   * Validates a batch of items; returns the COPY rows of the valid ones (empty once any error was
   * seen: nothing more will be stored). Throws PAYLOAD_TOO_LARGE past `maxDocs`.
   */
  accept(items: DocumentItem[]): string {
    let rows = '';
    for (const item of items) {
      if (!this.check(item) || this.errorCount > 0) continue;
      const meta = this.metadataJson === null ? '\\N' : copyEscape(this.metadataJson);
      rows += `${this.batchCol}\t${item.line}\t${copyEscape(this.clientId)}\t${copyEscape(this.text)}\t${meta}\n`;
    }
    return this.errorCount === 0 ? rows : '';
  }

  /**
   * Validates a batch of items like {@link accept}, appending the valid ones to `columns` (which
   * hold nothing worth storing once any error was seen). Throws PAYLOAD_TOO_LARGE past `maxDocs`.
   */
  acceptColumns(items: DocumentItem[], columns: DocumentColumns): void {
    for (const item of items) {
      if (!this.check(item) || this.errorCount > 0) continue;
      columns.seq.push(item.line);
      columns.clientId.push(this.clientId);
      columns.text.push(this.text);
      columns.metadata.push(this.metadataJson);
    }
  }

  /** Validates one item; true (and the fields above set) for a valid document, else the error is recorded. */
  private check(item: DocumentItem): boolean {
    const line = item.line;
    this.lines = line;
    if (line > this.opts.maxDocs) {
      throw new AppError(
        'PAYLOAD_TOO_LARGE',
        `A batch may have at most ${this.opts.maxDocs} documents (MAX_DOCS_PER_BATCH).`,
      );
    }
    if ('error' in item) {
      this.fail({ line, ...(item.field ? { field: item.field } : {}), message: item.error });
      return false;
    }
    let value: unknown;
    if ('json' in item) {
      try {
        value = JSON.parse(item.json);
      } catch {
        this.fail({ line, message: 'is not valid JSON' });
        return false;
      }
    } else {
      value = item.value;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail({ line, message: 'must be a JSON object with a "text" field' });
      return false;
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
      return false;
    }
    const doc = res.data;
    // NUL and lone surrogates cannot be stored as sent: refused, never altered (issue 16).
    const textProblem = badString(doc.text);
    if (textProblem) {
      this.fail({ line, field: 'text', message: textProblem });
      return false;
    }
    const idProblem = doc.id === undefined ? null : badString(doc.id);
    if (idProblem) {
      this.fail({ line, field: 'id', message: idProblem });
      return false;
    }
    let metadataJson: string | null = null;
    // The parsed value, not zod's copy: zod rebuilds records by assignment, which drops a `__proto__` key.
    const metadata = (value as { metadata?: Record<string, unknown> | null }).metadata;
    if (metadata) {
      const bad = findBadString(metadata, 'metadata');
      if (bad) {
        this.fail({ line, ...bad });
        return false;
      }
      metadataJson = JSON.stringify(metadata);
      if (metadataJson.length > MAX_DOC_METADATA_CHARS) {
        this.fail({
          line,
          field: 'metadata',
          message: `must serialize to at most ${MAX_DOC_METADATA_CHARS} characters of JSON`,
        });
        return false;
      }
    }
    let clientId: string;
    if (doc.id !== undefined) {
      clientId = doc.id;
      if (this.explicitIds.has(clientId)) {
        this.fail({ line, field: 'id', message: `duplicate id ${JSON.stringify(clientId)}` }, true);
        return false;
      }
      if (CANONICAL_LINE.test(clientId)) {
        const n = Number(clientId);
        if (n < line && this.hasDefault(n)) {
          this.fail(
            {
              line,
              field: 'id',
              message: `duplicate id ${JSON.stringify(clientId)} (the default id of line ${n})`,
            },
            true,
          );
          return false;
        }
      }
      this.explicitIds.add(clientId);
    } else {
      clientId = String(line);
      if (this.explicitIds.has(clientId)) {
        this.fail(
          {
            line,
            field: 'id',
            message: `duplicate id ${JSON.stringify(clientId)} (its default id, the line number, is used by an earlier document)`,
          },
          true,
        );
        return false;
      }
      this.markDefault(line);
    }
    this.count++;
    this.clientId = clientId;
    this.text = doc.text;
    this.metadataJson = metadataJson;
    return true;
  }

  /** The error to answer with once all items were seen, or null when every document is valid. */
  result(): AppError | null {
    return validationError(this);
  }
}

/** What {@link validationError} needs of a validator (also what an ingest thread reports). */
export interface ValidationTally {
  errorCount: number;
  duplicateCount: number;
  errors: ErrorDetail[];
}

/** The error to answer an upload with, or null when every document was valid. */
export function validationError(t: ValidationTally): AppError | null {
  if (t.errorCount === 0) return null;
  const more = t.errorCount > t.errors.length ? ` (first ${t.errors.length} shown)` : '';
  if (t.duplicateCount === t.errorCount) {
    return new AppError(
      'DUPLICATE_DOCUMENT_ID',
      `${t.errorCount} document(s) reuse an id already used in this batch${more}; nothing was stored.`,
      t.errors,
    );
  }
  return new AppError(
    'INVALID_DOCUMENT',
    `${t.errorCount} invalid document line(s)${more}; nothing was stored.`,
    t.errors,
  );
}
