import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseKeyValues } from '../../packages/cli/src/commands/submit';
import { CsvError, parseCsv } from '../../packages/cli/src/inputs/csv-parser';
import { detectFormat, openInput } from '../../packages/cli/src/inputs/read-documents';
import type { DocumentInput } from '@docbatch/sdk';

async function csv(chunks: string[], delimiter = ','): Promise<string[][]> {
  const out: string[][] = [];
  for await (const r of parseCsv(Readable.from(chunks), delimiter)) out.push(r.fields);
  return out;
}

/** Every way of cutting `text` into two chunks. */
function splits(text: string): string[][] {
  return Array.from({ length: text.length + 1 }, (_, i) => [text.slice(0, i), text.slice(i)]);
}

describe('CSV parser', () => {
  it('parses quoted fields with commas, doubled quotes and newlines, at every chunk boundary', async () => {
    const text = 'id,text\r\n1,"Hello, world"\r\n2,"She said ""hi""\nand left"\n3,plain\n';
    const expected = [
      ['id', 'text'],
      ['1', 'Hello, world'],
      ['2', 'She said "hi"\nand left'],
      ['3', 'plain'],
    ];
    for (const chunks of splits(text)) expect(await csv(chunks)).toEqual(expected);
  });

  it('handles CR-only line ends, a BOM, blank lines, empty fields and a missing final newline', async () => {
    expect(await csv(['\uFEFFa,b\r1,\r\r,2\n\n"",x'])).toEqual([
      ['a', 'b'],
      ['1', ''],
      ['', '2'],
      ['', 'x'],
    ]);
  });

  it('keeps a quote inside an unquoted field and supports another delimiter', async () => {
    expect(await csv(['a\tb\n5" tall\t"x\ty"\n'], '\t')).toEqual([
      ['a', 'b'],
      ['5" tall', 'x\ty'],
    ]);
  });

  it('reports an unterminated quoted field with its line', async () => {
    await expect(csv(['id,text\n1,"never closed\nstill open\n'])).rejects.toThrow(CsvError);
    await expect(csv(['id,text\n1,"never closed\n'])).rejects.toThrow('line 2');
  });

  it('decodes UTF-8 split across byte chunks', async () => {
    const bytes = Buffer.from('t\n"héllo, wörld"\n');
    const chunks = Array.from(bytes).map((b) => Buffer.from([b]));
    const out: string[][] = [];
    for await (const r of parseCsv(Readable.from(chunks))) out.push(r.fields);
    expect(out).toEqual([['t'], ['héllo, wörld']]);
  });
});

describe('input files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'docbatch-inputs-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function docs(file: string, content: string, opts = {}): Promise<DocumentInput[]> {
    const p = path.join(dir, file);
    writeFileSync(p, content);
    const src = openInput(p, opts).open();
    const out: DocumentInput[] = [];
    for await (const d of src as AsyncIterable<DocumentInput>) out.push(d);
    return out;
  }

  it('detects the format from the extension or --format', () => {
    expect(detectFormat('a.ndjson')).toBe('ndjson');
    expect(detectFormat('a.JSONL')).toBe('ndjson');
    expect(detectFormat('a.json')).toBe('json');
    expect(detectFormat('a.csv')).toBe('csv');
    expect(detectFormat('a.tsv')).toBe('tsv');
    expect(detectFormat('a.txt')).toBe('text');
    expect(detectFormat('a.dat', 'csv')).toBe('csv');
    expect(() => detectFormat('a.dat')).toThrow('--format');
    expect(() => detectFormat('a.csv', 'xml')).toThrow('unknown --format');
  });

  it('maps CSV columns to id, text and metadata', async () => {
    expect(
      await docs('a.csv', 'key,body,lang\nk1,"a, b",en\nk2,"multi\nline",fr\n', {
        textColumn: 'body',
        idColumn: 'key',
        metadataColumns: ['lang'],
      }),
    ).toEqual([
      { id: 'k1', text: 'a, b', metadata: { lang: 'en' } },
      { id: 'k2', text: 'multi\nline', metadata: { lang: 'fr' } },
    ]);
  });

  it('refuses a CSV without the text column or with a ragged row', async () => {
    await expect(docs('b.csv', 'id,body\n1,x\n')).rejects.toThrow('no "text" column');
    await expect(docs('c.csv', 'id,text\n1,x,extra\n')).rejects.toThrow('line 2: 3 fields');
  });

  it('reads plain text as one document per non-blank line, id = line number', async () => {
    expect(await docs('a.txt', 'first\n\nthird\r\n')).toEqual([
      { id: '1', text: 'first' },
      { id: '3', text: 'third' },
    ]);
  });

  it('reads JSON arrays of objects or strings', async () => {
    expect(await docs('a.json', '[{"id":"x","text":"t","metadata":{"k":1}},"bare"]')).toEqual([
      { id: 'x', text: 't', metadata: { k: 1 } },
      { text: 'bare' },
    ]);
    await expect(docs('b.json', '{"not":"a list"}')).rejects.toThrow('array');
  });

  it('re-maps NDJSON fields when --text-column is given', async () => {
    expect(
      await docs('a.ndjson', '{"n":1,"body":"x"}\n\n{"n":2,"body":"y"}\n', {
        textColumn: 'body',
        idColumn: 'n',
      }),
    ).toEqual([
      { id: '1', text: 'x' },
      { id: '2', text: 'y' },
    ]);
  });
});

describe('--option k=v', () => {
  it('parses JSON values and keeps other values as strings', () => {
    expect(parseKeyValues('option', ['top_k=2', 'target_lang=es', 'ratio=0.5', 'x={"a":1}'])).toEqual({
      top_k: 2,
      target_lang: 'es',
      ratio: 0.5,
      x: { a: 1 },
    });
    expect(parseKeyValues('option', undefined)).toBeUndefined();
    expect(() => parseKeyValues('option', ['novalue'])).toThrow('key=value');
  });
});
