/**
 * A streaming CSV parser (RFC 4180): fields separated by `delimiter`, records by CRLF, LF or CR;
 * a field in double quotes may contain delimiters, newlines and doubled quotes (`""`). A quote
 * inside an unquoted field is kept literally. A leading UTF-8 BOM is dropped; blank lines are
 * skipped. Input arrives in chunks of any size (a record may span chunks).
 */

export class CsvError extends Error {
  constructor(
    message: string,
    /** 1-based physical line where the problem starts. */
    readonly line: number,
  ) {
    super(`${message} (line ${line})`);
    this.name = 'CsvError';
  }
}

export interface CsvRecord {
  fields: string[];
  /** 1-based physical line the record starts on. */
  line: number;
}

export async function* parseCsv(
  chunks: AsyncIterable<string | Buffer>,
  delimiter = ',',
): AsyncGenerator<CsvRecord, void, undefined> {
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new TypeError('the CSV delimiter must be one character other than a quote or newline');
  }
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  /** The current quoted field just saw a quote: either the end of the field or the first of `""`. */
  let quotePending = false;
  /** Last char was CR outside quotes: a following LF belongs to the same line break. */
  let afterCr = false;
  let fieldStarted = false;
  let line = 1;
  let recordLine = 1;
  let first = true;
  const out: CsvRecord[] = [];
  const decoder = new TextDecoder('utf-8');

  const endField = (): void => {
    fields.push(field);
    field = '';
    fieldStarted = false;
  };
  const endRecord = (): void => {
    endField();
    if (!(fields.length === 1 && fields[0] === '')) out.push({ fields, line: recordLine });
    fields = [];
  };

  for await (const raw of chunks) {
    let text = typeof raw === 'string' ? raw : decoder.decode(raw, { stream: true });
    if (first) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let i = 0;
    const n = text.length;
    while (i < n) {
      const ch = text[i] as string;
      if (inQuotes) {
        if (quotePending) {
          quotePending = false;
          if (ch === '"') {
            field += '"';
            i++;
            continue;
          }
          inQuotes = false; // the quote closed the field; fall through to handle ch unquoted
          continue;
        }
        // Fast path: copy up to the next quote.
        const q = text.indexOf('"', i);
        const end = q === -1 ? n : q;
        const part = text.slice(i, end);
        for (let k = part.indexOf('\n'); k !== -1; k = part.indexOf('\n', k + 1)) line++;
        field += part;
        i = end;
        if (q !== -1) {
          quotePending = true;
          i++;
        }
        continue;
      }
      if (afterCr) {
        afterCr = false;
        if (ch === '\n') {
          i++;
          continue;
        }
      }
      if (ch === '"' && !fieldStarted) {
        inQuotes = true;
        fieldStarted = true;
        i++;
      } else if (ch === delimiter) {
        endField();
        i++;
      } else if (ch === '\n' || ch === '\r') {
        endRecord();
        line++;
        recordLine = line;
        afterCr = ch === '\r';
        i++;
      } else {
        // Copy a run of ordinary characters at once.
        let j = i + 1;
        while (j < n) {
          const c = text[j];
          if (c === delimiter || c === '\n' || c === '\r') break;
          j++;
        }
        field += text.slice(i, j);
        fieldStarted = true;
        i = j;
      }
    }
    if (out.length > 0) {
      yield* out;
      out.length = 0;
    }
  }
  if (inQuotes && !quotePending) throw new CsvError('unterminated quoted field', recordLine);
  if (fieldStarted || fields.length > 0 || quotePending) endRecord();
  yield* out;
}
