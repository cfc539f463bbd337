import { createReadStream, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import type { DocumentInput } from '@docbatch/sdk';
import { UsageError } from '../usage-error';
import { parseCsv } from './csv-parser';

/**
 * Input files of `docbatch submit`, converted to documents on the fly. NDJSON is sent as is (or
 * re-mapped line by line when --text-column/--id-column name other fields); CSV, TSV and plain text
 * are parsed while streaming; only a JSON array is read whole (JSON.parse needs it).
 */

export const INPUT_FORMATS = ['ndjson', 'json', 'csv', 'tsv', 'text'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

const EXTENSIONS: Record<string, InputFormat> = {
  '.ndjson': 'ndjson',
  '.jsonl': 'ndjson',
  '.json': 'json',
  '.csv': 'csv',
  '.tsv': 'tsv',
  '.txt': 'text',
  '.text': 'text',
};

export interface InputOptions {
  format?: string;
  /** Field/column holding the text. Default `text`. */
  textColumn?: string;
  /** Field/column holding the document id. Default `id` when present. */
  idColumn?: string;
  /** Columns copied into each document's metadata (CSV/TSV). */
  metadataColumns?: string[];
}

/** The format of `file`: `--format` when given, else from its extension. */
export function detectFormat(file: string, explicit?: string): InputFormat {
  if (explicit !== undefined) {
    if (!(INPUT_FORMATS as readonly string[]).includes(explicit)) {
      throw new UsageError(
        `unknown --format ${JSON.stringify(explicit)} (expected ${INPUT_FORMATS.join(', ')})`,
      );
    }
    return explicit as InputFormat;
  }
  if (file === '-') return 'ndjson';
  const ext = path.extname(file).toLowerCase();
  const format = EXTENSIONS[ext];
  if (!format) {
    throw new UsageError(
      `cannot tell the format of ${file} from its extension: pass --format (${INPUT_FORMATS.join(', ')})`,
    );
  }
  return format;
}

export interface OpenedInput {
  format: InputFormat;
  /** Size of the file in bytes (undefined for stdin). */
  size: number | undefined;
  /** Bytes of the input read so far (by the latest attempt). */
  bytesRead(): number;
  /** A fresh source per upload attempt: raw NDJSON bytes or documents. */
  open(): Readable | AsyncIterable<DocumentInput>;
  /** False for stdin: it cannot be read twice. */
  replayable: boolean;
}

class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}
export { InputError };

function nonEmptyString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return undefined;
}

/** Maps one parsed JSON value (an object, or a bare string) to a document. */
function mapObject(value: unknown, where: string, opts: InputOptions): DocumentInput {
  if (typeof value === 'string') return { text: value };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError(
      `${where}: expected an object with a "${opts.textColumn ?? 'text'}" field or a string`,
    );
  }
  const obj = value as Record<string, unknown>;
  const textKey = opts.textColumn ?? 'text';
  const text = obj[textKey];
  if (typeof text !== 'string') throw new InputError(`${where}: "${textKey}" must be a string`);
  const doc: DocumentInput = { text };
  const id = nonEmptyString(obj[opts.idColumn ?? 'id']);
  if (id !== undefined) doc.id = id;
  if (typeof obj.metadata === 'object' && obj.metadata !== null && !Array.isArray(obj.metadata)) {
    doc.metadata = obj.metadata as Record<string, unknown>;
  }
  return doc;
}

/** Opens `file` (or `-` for stdin) as a source of documents for `createBatch`. */
export function openInput(file: string, opts: InputOptions, stdin: Readable = process.stdin): OpenedInput {
  const format = detectFormat(file, opts.format);
  const isStdin = file === '-';
  let size: number | undefined;
  if (!isStdin) {
    // A file that is missing or unreadable is a failed command (exit 1), not a usage error.
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
  const remap = opts.textColumn !== undefined || opts.idColumn !== undefined;

  let open: () => Readable | AsyncIterable<DocumentInput>;
  switch (format) {
    case 'ndjson':
      open = remap ? () => mapNdjson(rawStream(), opts) : rawStream;
      break;
    case 'json':
      open = () => jsonArray(isStdin ? readAll(rawStream()) : readJsonFile(file, (n) => (read = n)), opts);
      break;
    case 'csv':
    case 'tsv':
      open = () => csvDocuments(rawStream(), format === 'tsv' ? '\t' : ',', opts);
      break;
    case 'text':
      open = () => textLines(rawStream());
      break;
  }
  return { format, size, bytesRead: () => read, open, replayable: !isStdin };
}

async function* mapNdjson(stream: Readable, opts: InputOptions): AsyncGenerator<DocumentInput> {
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new InputError(`line ${line}: not valid JSON`);
    }
    yield mapObject(value, `line ${line}`, opts);
  }
}

function readJsonFile(file: string, onRead: (n: number) => void): Promise<string> {
  const text = readFileSync(file, 'utf8');
  onRead(Buffer.byteLength(text));
  return Promise.resolve(text);
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

async function* jsonArray(textPromise: Promise<string>, opts: InputOptions): AsyncGenerator<DocumentInput> {
  let value: unknown;
  try {
    value = JSON.parse(await textPromise);
  } catch (err) {
    throw new InputError(`not valid JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(value)
    ? value
    : Array.isArray((value as { documents?: unknown } | null)?.documents)
      ? (value as { documents: unknown[] }).documents
      : undefined;
  if (!list) throw new InputError('a JSON input must be an array of documents (or {"documents": [...]})');
  for (let i = 0; i < list.length; i++) yield mapObject(list[i], `element ${i + 1}`, opts);
}

async function* csvDocuments(
  stream: Readable,
  delimiter: string,
  opts: InputOptions,
): AsyncGenerator<DocumentInput> {
  stream.setEncoding('utf8');
  let header: string[] | undefined;
  let textIdx = -1;
  let idIdx = -1;
  let metaIdx: [string, number][] = [];
  for await (const record of parseCsv(stream as AsyncIterable<string>, delimiter)) {
    if (!header) {
      header = record.fields.map((h) => h.trim());
      const textKey = opts.textColumn ?? 'text';
      textIdx = header.indexOf(textKey);
      if (textIdx === -1) {
        throw new InputError(
          `no "${textKey}" column in the header (columns: ${header.join(', ')}); pass --text-column`,
        );
      }
      idIdx = header.indexOf(opts.idColumn ?? 'id');
      if (opts.idColumn !== undefined && idIdx === -1) {
        throw new InputError(`no "${opts.idColumn}" column in the header (columns: ${header.join(', ')})`);
      }
      metaIdx = (opts.metadataColumns ?? []).map((name) => {
        const idx = header?.indexOf(name) ?? -1;
        if (idx === -1) throw new InputError(`no "${name}" column in the header for --metadata-columns`);
        return [name, idx];
      });
      continue;
    }
    if (record.fields.length !== header.length) {
      throw new InputError(
        `line ${record.line}: ${record.fields.length} fields where the header has ${header.length} (check the quoting)`,
      );
    }
    const doc: DocumentInput = { text: record.fields[textIdx] ?? '' };
    if (idIdx !== -1) doc.id = record.fields[idIdx] ?? '';
    if (metaIdx.length > 0)
      doc.metadata = Object.fromEntries(metaIdx.map(([k, i]) => [k, record.fields[i] ?? '']));
    yield doc;
  }
  if (!header) throw new InputError('the CSV input is empty (a header row is required)');
}

async function* textLines(stream: Readable): AsyncGenerator<DocumentInput> {
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    if (text.trim() === '') continue;
    yield { id: String(line), text };
  }
}
