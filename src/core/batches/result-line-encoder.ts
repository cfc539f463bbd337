/**
 * NDJSON result lines written straight into bytes from the text of the documents' columns, without
 * parsing the `jsonb` values into objects and serializing them again.
 *
 * The read selects `result::text`, `error::text` and `metadata::text`. Postgres renders jsonb with a
 * space after every `:` and `,` outside strings (`{"label": "ham", "score": 0.9}`); the encoder
 * copies that text as UTF-8 and drops those spaces, which gives the same bytes as
 * `JSON.stringify(JSON.parse(text))` (the lines the API has always sent) as long as the stored
 * value was written by `JSON.stringify`, as every jsonb value of the documents table is (ingest,
 * write-back). Where the two could still differ, the encoder falls back to that round trip for the
 * value: numbers below 1e-6 or with more than 21 digits in a row (Postgres writes them in full,
 * JavaScript with an exponent) and objects with a key that starts with a digit (JavaScript puts
 * integer-like keys first).
 *
 * Everything happens on bytes (Buffer writes and typed-array loops), never through per-character
 * `String.prototype` calls: those are several times slower in a process that has loaded ioredis,
 * whose `class VerbatimString extends String` takes V8 off its fast path for string methods.
 */

/** A result row as read for the NDJSON stream: jsonb columns as their text. */
export interface ResultTextRow {
  seq: number;
  client_id: string;
  status: string;
  result: string | null;
  error: string | null;
  metadata: string | null;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SPACE = 0x20;
const COLON = 0x3a;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const ID_KEY = ascii('{"id":');
const STATUS_KEY = ascii(',"status":"');
const RESULT_KEY = ascii('","result":');
const ERROR_KEY = ascii(',"error":');
const METADATA_KEY = ascii(',"metadata":');
const END = ascii('}\n');
const NULL = ascii('null');
/** Bytes of the line around its values: the keys above, quotes, `null`s and a status. */
const LINE_OVERHEAD = 96;

/** Upper bound of the encoded size of one row, in bytes. */
function rowBound(r: ResultTextRow): number {
  // A client id is at most 6 bytes per UTF-16 unit once escaped (\u001f), a jsonb text at most 3
  // bytes per unit as UTF-8 (its round trip is never longer than the text).
  return (
    6 * r.client_id.length +
    3 * ((r.result?.length ?? 0) + (r.error?.length ?? 0) + (r.metadata?.length ?? 0)) +
    LINE_OVERHEAD
  );
}

/** Size of a row whose text is ASCII and needs no escape (the usual case), in bytes. */
function rowGuess(r: ResultTextRow): number {
  return (
    r.client_id.length +
    (r.result?.length ?? 0) +
    (r.error?.length ?? 0) +
    (r.metadata?.length ?? 0) +
    LINE_OVERHEAD
  );
}

/** Writes into one buffer, sized for the usual case and grown when a row might not fit. */
class LineWriter {
  buf: Buffer;
  pos = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  bytes(src: Uint8Array): void {
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < src.length; i++) b[p++] = src[i] as number;
    this.pos = p;
  }

  /** A string known to need no escaping (a status). */
  plain(s: string): void {
    this.pos += this.buf.write(s, this.pos);
  }

  /** A JSON string literal: the bytes of `JSON.stringify(s)`. */
  jsonString(s: string): void {
    const b = this.buf;
    const start = this.pos;
    b[start] = QUOTE;
    const end = start + 1 + b.write(s, start + 1);
    for (let i = start + 1; i < end; i++) {
      const c = b[i] as number;
      if (c < SPACE || c === QUOTE || c === BACKSLASH) {
        // Something to escape: rare in client ids; let JSON.stringify do it.
        this.pos = start + b.write(JSON.stringify(s), start);
        return;
      }
    }
    b[end] = QUOTE;
    this.pos = end + 1;
  }

  /** A jsonb value from its Postgres text, or `null`. */
  jsonb(text: string | null): void {
    if (text === null) this.bytes(NULL);
    else if (!this.compactJsonb(text)) {
      this.pos += this.buf.write(JSON.stringify(JSON.parse(text)), this.pos);
    }
  }

  /**
   * Copies Postgres jsonb text without the spaces outside strings. Returns false, having written
   * nothing that counts, when the result could differ from the JavaScript round trip.
   */
  private compactJsonb(text: string): boolean {
    const b = this.buf;
    const start = this.pos;
    const end = start + b.write(text, start);
    // Compacted in place: w never passes r. UTF-8 continuation bytes are >= 0x80, so the ASCII
    // tests below never match inside a multi-byte character.
    let r = start;
    let w = start;
    while (r < end) {
      const c = b[r] as number;
      if (c === QUOTE) {
        const first = b[r + 1] as number;
        b[w++] = c;
        r++;
        for (;;) {
          if (r >= end) return false;
          const d = b[r++] as number;
          b[w++] = d;
          if (d === QUOTE) break;
          if (d === BACKSLASH) b[w++] = b[r++] as number;
        }
        // A key such as "10": JavaScript orders integer-like keys before the others.
        if (first >= ZERO && first <= NINE && b[r] === COLON) return false;
      } else if (c === SPACE) {
        r++;
      } else if (c >= ZERO && c <= NINE) {
        const digits = r;
        let d = c;
        do {
          b[w++] = d;
          d = b[++r] as number;
        } while (r < end && d >= ZERO && d <= NINE);
        const n = r - digits;
        // 1e21 and above: JavaScript writes an exponent.
        if (n > 21) return false;
        // 0.000000...: below 1e-6, JavaScript writes an exponent.
        if (
          n === 1 &&
          c === ZERO &&
          d === DOT &&
          r + 6 < end &&
          b[r + 1] === ZERO &&
          b[r + 2] === ZERO &&
          b[r + 3] === ZERO &&
          b[r + 4] === ZERO &&
          b[r + 5] === ZERO &&
          b[r + 6] === ZERO
        ) {
          return false;
        }
      } else {
        b[w++] = c;
        r++;
      }
    }
    this.pos = w;
    return true;
  }
}

/**
 * Encodes `rows[from..to)` as NDJSON lines `{"id","status","result","error","metadata"}`, each
 * ending with `\n`: the same bytes as `JSON.stringify` of the parsed line.
 */
export function encodeResultLines(rows: readonly ResultTextRow[], from = 0, to = rows.length): Buffer {
  // Room for every row at its usual size plus the largest row at its worst: the buffer grows only
  // for pages of escapes or non-ASCII text.
  let guess = 0;
  let largest = 0;
  for (let i = from; i < to; i++) {
    const r = rows[i] as ResultTextRow;
    guess += rowGuess(r);
    largest = Math.max(largest, rowBound(r));
  }
  const w = new LineWriter(guess + largest);
  for (let i = from; i < to; i++) {
    const r = rows[i] as ResultTextRow;
    w.reserve(rowBound(r));
    w.bytes(ID_KEY);
    w.jsonString(r.client_id);
    w.bytes(STATUS_KEY);
    w.plain(r.status);
    w.bytes(RESULT_KEY);
    w.jsonb(r.result);
    w.bytes(ERROR_KEY);
    w.jsonb(r.error);
    w.bytes(METADATA_KEY);
    w.jsonb(r.metadata);
    w.bytes(END);
  }
  return w.buf.subarray(0, w.pos);
}
