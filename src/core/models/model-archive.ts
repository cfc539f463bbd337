import { gunzipSync } from 'node:zlib';
import { AppError } from '../errors';
import { InvalidModelError, type TenantModelLimits } from './tenant-models';

/**
 * The files of an uploaded model (POST /v1/models): a tar archive (ustar, pax or GNU long names;
 * optionally gzip-compressed), or the parts of a multipart form, become one map of relative paths
 * to contents. Links, devices and other special entries are refused; directories are implied.
 * Paths are checked later (tenant-models.ts `modelPathProblem`), so `..` and absolute paths are
 * refused with the file named.
 */

const BLOCK = 512;

function bad(message: string): InvalidModelError {
  return new InvalidModelError(`Invalid tar archive: ${message}`, undefined, 'archive');
}

function cString(buf: Buffer, start: number, length: number): string {
  const slice = buf.subarray(start, start + length);
  const end = slice.indexOf(0);
  return slice.subarray(0, end === -1 ? slice.length : end).toString('utf8');
}

function octal(buf: Buffer, start: number, length: number, what: string): number {
  const field = buf.subarray(start, start + length);
  if (field[0]! & 0x80) {
    // GNU base-256: big-endian, the top bit of the first byte set.
    let value = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    if (!Number.isSafeInteger(value)) throw bad(`${what} out of range`);
    return value;
  }
  const text = cString(buf, start, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw bad(`${what} is not an octal number`);
  return parseInt(text, 8);
}

/** The pax records of an extended header (`<length> <key>=<value>\n`). */
function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = Number(data.subarray(at, space).toString('ascii'));
    if (!Number.isInteger(length) || length <= 0 || at + length > data.length)
      throw bad('malformed pax header');
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return out;
}

/** True when `body` starts with the gzip magic bytes. */
export function isGzip(body: Buffer): boolean {
  return body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b;
}

/**
 * Reads a tar archive (gzip-compressed when it starts with the gzip magic bytes) into its regular
 * files. The uncompressed archive may be at most `limits.maxBytes` plus its headers.
 * @throws InvalidModelError (field `archive`) for an archive that cannot be read, with links or
 * special files, or a file twice; AppError 413 PAYLOAD_TOO_LARGE past the limits.
 */
export function readTarArchive(body: Buffer, limits: TenantModelLimits): Map<string, Buffer> {
  // Headers and padding: at most two 512-byte blocks of overhead per file, plus the end blocks.
  const maxArchive = limits.maxBytes + (limits.maxFiles + 2) * 4 * BLOCK;
  let tar = body;
  if (isGzip(body)) {
    try {
      tar = gunzipSync(body, { maxOutputLength: maxArchive + 1 });
    } catch (err) {
      const e = err as { code?: string };
      if (e.code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw tooLarge(limits);
      throw bad(`not a readable gzip stream (${(err as Error).message})`);
    }
    if (tar.length > maxArchive) throw tooLarge(limits);
  }
  const files = new Map<string, Buffer>();
  let total = 0;
  let at = 0;
  let longName: string | undefined;
  let pax: Map<string, string> | undefined;
  let sawEnd = false;
  while (at + BLOCK <= tar.length) {
    const header = tar.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) {
      sawEnd = true;
      break;
    }
    const stored = octal(header, 148, 8, 'header checksum');
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
    if (sum !== stored) throw bad(`header checksum mismatch at byte ${at}`);
    const type = String.fromCharCode(header[156]!);
    const size = octal(header, 124, 12, 'entry size');
    const dataStart = at + BLOCK;
    if (dataStart + size > tar.length) throw bad('archive ends inside an entry (truncated?)');
    const data = tar.subarray(dataStart, dataStart + size);
    at = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    const magic = cString(header, 257, 6);
    const prefix = magic.startsWith('ustar') ? cString(header, 345, 155) : '';
    let name = cString(header, 0, 100);
    if (prefix) name = `${prefix}/${name}`;
    if (type === 'L') {
      longName = cString(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      pax = paxRecords(data);
      continue;
    }
    if (type === 'g') continue;
    const path = pax?.get('path') ?? longName ?? name;
    longName = undefined;
    pax = undefined;
    if (type === '5') continue;
    if (type !== '0' && type !== '\0' && type !== '7') {
      const kind = type === '1' || type === '2' ? 'a link' : `an entry of type '${type}'`;
      throw new InvalidModelError(
        `${path.slice(0, 200)}: is ${kind}; a model upload holds regular files only.`,
        path.slice(0, 200),
        'archive',
      );
    }
    const clean = path.replace(/^(\.\/)+/, '');
    if (clean === '' || clean.endsWith('/')) continue;
    if (files.has(clean)) {
      throw new InvalidModelError(
        `${clean.slice(0, 200)}: is in the archive twice.`,
        clean.slice(0, 200),
        'path',
      );
    }
    if (files.size + 1 > limits.maxFiles) throw tooMany(limits);
    total += size;
    if (total > limits.maxBytes) throw tooLarge(limits, clean);
    files.set(clean, Buffer.from(data));
  }
  if (!sawEnd && at < tar.length) throw bad('archive ends inside a header (truncated?)');
  if (!sawEnd && files.size === 0) throw bad('no tar entries found');
  return files;
}

export function tooLarge(limits: TenantModelLimits, file?: string): AppError {
  return new AppError(
    'PAYLOAD_TOO_LARGE',
    `A model's files total at most ${limits.maxBytes} bytes (MODEL_UPLOAD_MAX_BYTES)${file ? `; ${file.slice(0, 200)} goes past it` : ''}.`,
    file ? [{ file: file.slice(0, 200), message: 'past MODEL_UPLOAD_MAX_BYTES' }] : undefined,
  );
}

export function tooMany(limits: TenantModelLimits): AppError {
  return new AppError(
    'PAYLOAD_TOO_LARGE',
    `A model has at most ${limits.maxFiles} files (MODEL_UPLOAD_MAX_FILES).`,
  );
}

/**
 * An archive or form that holds the model inside one directory (`mymodel/config.json`,
 * `mymodel/1/model.h5`, ...): the paths relative to the directory that holds config.json, when
 * every file is inside it. Otherwise the files unchanged.
 */
export function stripCommonDirectory(files: Map<string, Buffer>): Map<string, Buffer> {
  if (files.has('config.json')) return files;
  const configs = [...files.keys()].filter((p) => p.endsWith('/config.json'));
  if (configs.length !== 1) return files;
  const dir = configs[0]!.slice(0, -'config.json'.length);
  if (![...files.keys()].every((p) => p.startsWith(dir))) return files;
  return new Map([...files].map(([p, data]) => [p.slice(dir.length), data]));
}
