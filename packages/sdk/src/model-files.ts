import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The files of a model for `uploadModel` (POST /v1/models): config.json plus the files it names,
 * by path relative to the model's version directory (`/` separated), and the tar archive they are
 * sent as (ustar; a pax header carries a path longer than 100 bytes).
 */

/** Files by relative path: a Map or a plain object; contents as bytes or text. */
export type ModelFiles = Map<string, Uint8Array | string> | Record<string, Uint8Array | string>;

/**
 * Reads every regular file under `dir` (recursively; names starting with `.` are left out) as
 * model files, by path relative to `dir`.
 */
export async function readModelDirectory(dir: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  const walk = async (sub: string): Promise<void> => {
    const entries = await readdir(path.join(dir, sub), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const rel = sub ? `${sub}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(rel);
      else if (e.isFile()) files.set(rel, await readFile(path.join(dir, rel)));
    }
  };
  await walk('');
  return files;
}

const encoder = new TextEncoder();
const BLOCK = 512;

function entries(files: ModelFiles): [string, Uint8Array][] {
  const list = files instanceof Map ? [...files.entries()] : Object.entries(files);
  return list.map(([p, v]) => [p, typeof v === 'string' ? encoder.encode(v) : v]);
}

function writeString(block: Uint8Array, offset: number, length: number, value: string): void {
  const bytes = encoder.encode(value);
  block.set(bytes.subarray(0, length), offset);
}

function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  writeString(block, offset, length, value.toString(8).padStart(length - 1, '0') + '\0');
}

function header(name: string, size: number, type: '0' | 'x'): Uint8Array {
  const block = new Uint8Array(BLOCK);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, 0o644);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, 0);
  block.fill(0x20, 148, 156);
  writeString(block, 156, 1, type);
  writeString(block, 257, 6, 'ustar\0');
  writeString(block, 263, 2, '00');
  let sum = 0;
  for (const b of block) sum += b;
  writeString(block, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return block;
}

function padded(data: Uint8Array): Uint8Array[] {
  const rest = data.length % BLOCK;
  return rest === 0 ? [data] : [data, new Uint8Array(BLOCK - rest)];
}

/** A pax record `<length> path=<value>\n` (the length counts itself). */
function paxPath(p: string): Uint8Array {
  const body = ` path=${p}\n`;
  const bodyBytes = encoder.encode(body).length;
  let length = bodyBytes + 1;
  while (String(length).length + bodyBytes !== length) length = String(length).length + bodyBytes;
  return encoder.encode(`${length}${body}`);
}

/** The files as one tar archive (regular files only, in the given order). */
export function tarModelFiles(files: ModelFiles): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [p, data] of entries(files)) {
    if (encoder.encode(p).length > 100) {
      const pax = paxPath(p);
      parts.push(header('PaxHeader', pax.length, 'x'), ...padded(pax));
    }
    parts.push(header(p, data.length, '0'), ...padded(data));
  }
  parts.push(new Uint8Array(2 * BLOCK));
  const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let at = 0;
  for (const x of parts) {
    out.set(x, at);
    at += x.length;
  }
  return out;
}
