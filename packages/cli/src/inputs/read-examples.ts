import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import type { TrainingExample } from '@docbatch/sdk';
import { parseCsv } from './csv-parser';
import { detectFormat, InputError } from './read-documents';

/**
 * Opens the labelled examples of `docbatch train FILE`: NDJSON (`{"text", "label"}` per line, sent as
 * is unless other field names are given) or CSV/TSV with a header row, converted to NDJSON while it
 * streams (never read whole). `sourceLine(n)` maps the n-th example sent (the server's `line` in an
 * INVALID_DOCUMENT error) back to the line of FILE it came from.
 */

export interface ExampleInputOptions {
  /** `--format`: ndjson, csv or tsv (default: from the extension). */
  format?: string;
  /** Column (or NDJSON field) holding the text. Default `text`. */
  textColumn?: string;
  /** Column (or NDJSON field) holding the label. Default `label`. */
  labelColumn?: string;
}

export interface OpenedExamples {
  format: 'ndjson' | 'csv' | 'tsv';
  size: number | undefined;
  bytesRead(): number;
  open(): Readable | AsyncIterable<TrainingExample>;
  replayable: boolean;
  /** The 1-based line of FILE the n-th example (1-based) came from, once it was read. */
  sourceLine(n: number): number | undefined;
}

export function openExamples(
  file: string,
  opts: ExampleInputOptions,
  stdin: Readable = process.stdin,
): OpenedExamples {
  const format = detectFormat(file, opts.format);
  if (format !== 'ndjson' && format !== 'csv' && format !== 'tsv') {
    throw new InputError(`training examples must be NDJSON, CSV or TSV, not ${format}`);
  }
  const isStdin = file === '-';
  let size: number | undefined;
  if (!isStdin) {
    let st;
    try {
      st = statSync(file);
    } catch (err) {
      throw new InputError(
        `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    if (!st.isFile()) throw new InputError(`cannot read ${file}: not a file`);
    size = st.size;
  }
  let read = 0;
  let stdinUsed = false;
  const rawStream = (): Readable => {
    read = 0;
    let s: Readable;
    if (isStdin) {
      if (stdinUsed) throw new InputError('standard input cannot be read twice');
      stdinUsed = true;
      s = stdin;
    } else {
      s = createReadStream(file, { highWaterMark: 256 * 1024 });
    }
    s.on('data', (chunk: Buffer | string) => {
      read += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    });
    return s;
  };
  // Source line of each example sent (grown as examples are read; 4 bytes per example).
  let lines = new Int32Array(1024);
  let count = 0;
  const record = (line: number): void => {
    if (count >= lines.length) {
      const next = new Int32Array(lines.length * 2);
      next.set(lines);
      lines = next;
    }
    lines[count++] = line;
  };
  const textKey = opts.textColumn ?? 'text';
  const labelKey = opts.labelColumn ?? 'label';
  const remap = textKey !== 'text' || labelKey !== 'label';
  let open: () => Readable | AsyncIterable<TrainingExample>;
  let identityLines = false;
  if (format === 'ndjson' && !remap) {
    // Sent as is: the server's line numbers are the file's.
    identityLines = true;
    open = rawStream;
  } else if (format === 'ndjson') {
    open = () => {
      count = 0;
      return mapNdjson(rawStream(), textKey, labelKey, record);
    };
  } else {
    open = () => {
      count = 0;
      return csvExamples(rawStream(), format === 'tsv' ? '\t' : ',', textKey, labelKey, record);
    };
  }
  return {
    format,
    size,
    bytesRead: () => read,
    open,
    replayable: !isStdin,
    sourceLine: (n) => (identityLines ? n : n >= 1 && n <= count ? lines[n - 1] : undefined),
  };
}

async function* mapNdjson(
  stream: Readable,
  textKey: string,
  labelKey: string,
  record: (line: number) => void,
): AsyncGenerator<TrainingExample> {
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  for await (const raw of rl) {
    line++;
    if (raw.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new InputError(`line ${line}: not valid JSON`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InputError(`line ${line}: expected an object with "${textKey}" and "${labelKey}" fields`);
    }
    const obj = value as Record<string, unknown>;
    record(line);
    yield { text: obj[textKey] as string, label: labelOf(obj[labelKey]) as string };
  }
}

/** A number label (0/1) is sent as its string; anything else as it is (the server checks it). */
function labelOf(v: unknown): unknown {
  return typeof v === 'number' ? String(v) : v;
}

async function* csvExamples(
  stream: Readable,
  delimiter: string,
  textKey: string,
  labelKey: string,
  record: (line: number) => void,
): AsyncGenerator<TrainingExample> {
  stream.setEncoding('utf8');
  let header: string[] | undefined;
  let textIdx = -1;
  let labelIdx = -1;
  for await (const rec of parseCsv(stream as AsyncIterable<string>, delimiter)) {
    if (!header) {
      header = rec.fields.map((h) => h.trim());
      textIdx = header.indexOf(textKey);
      labelIdx = header.indexOf(labelKey);
      if (textIdx === -1) {
        throw new InputError(
          `no "${textKey}" column in the header (columns: ${header.join(', ')}); pass --text-column`,
        );
      }
      if (labelIdx === -1) {
        throw new InputError(
          `no "${labelKey}" column in the header (columns: ${header.join(', ')}); pass --label-column`,
        );
      }
      continue;
    }
    if (rec.fields.length !== header.length) {
      throw new InputError(
        `line ${rec.line}: ${rec.fields.length} fields where the header has ${header.length} (check the quoting)`,
      );
    }
    record(rec.line);
    yield { text: rec.fields[textIdx] ?? '', label: (rec.fields[labelIdx] ?? '').trim() };
  }
  if (!header) throw new InputError('the CSV input is empty (a header row is required)');
}
