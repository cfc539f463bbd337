import { inflateRawSync } from 'node:zlib';
import { loadFailed } from '../model-errors';
import { unreadableModelFile } from './artefact-file';

/**
 * A small reader for zip archives held in memory (Keras 3 `.keras` files): the central directory
 * is read once, members are extracted on demand (stored or deflated). Zip64 and encryption are
 * refused with a ModelError.
 */

interface Entry {
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/** A zip archive in memory: its member names and their bytes. */
export class ZipArchive {
  private constructor(
    private readonly bytes: Buffer,
    private readonly file: string,
    private readonly entries: Map<string, Entry>,
  ) {}

  /** Reads the central directory of `bytes`; `file` names the archive in errors. */
  static open(bytes: Buffer, file: string): ZipArchive {
    const bad = (why: string) => unreadableModelFile(file, `not a zip archive (${why}; truncated?)`);
    let eocd = -1;
    for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
      if (bytes.readUInt32LE(i) === EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw bad('no end of central directory');
    const count = bytes.readUInt16LE(eocd + 10);
    const dirOffset = bytes.readUInt32LE(eocd + 16);
    if (dirOffset === 0xffffffff || count === 0xffff)
      throw loadFailed(file, 'zip64 archives are not supported');
    const entries = new Map<string, Entry>();
    let p = dirOffset;
    for (let n = 0; n < count; n++) {
      if (p + 46 > bytes.length || bytes.readUInt32LE(p) !== CENTRAL) throw bad('damaged central directory');
      const flags = bytes.readUInt16LE(p + 8);
      const nameLength = bytes.readUInt16LE(p + 28);
      const name = bytes.toString('utf8', p + 46, p + 46 + nameLength);
      if (flags & 1) throw loadFailed(file, `${name} is encrypted`);
      entries.set(name, {
        method: bytes.readUInt16LE(p + 10),
        compressedSize: bytes.readUInt32LE(p + 20),
        size: bytes.readUInt32LE(p + 24),
        localOffset: bytes.readUInt32LE(p + 42),
      });
      p += 46 + nameLength + bytes.readUInt16LE(p + 30) + bytes.readUInt16LE(p + 32);
    }
    return new ZipArchive(bytes, file, entries);
  }

  /** Member names, in the archive's order. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** The bytes of member `name`, or undefined when the archive has no such member. */
  read(name: string): Buffer | undefined {
    const e = this.entries.get(name);
    if (!e) return undefined;
    const b = this.bytes;
    const at = e.localOffset;
    if (at + 30 > b.length || b.readUInt32LE(at) !== LOCAL)
      throw loadFailed(this.file, `${name}: damaged entry (truncated?)`);
    const start = at + 30 + b.readUInt16LE(at + 26) + b.readUInt16LE(at + 28);
    if (e.size === 0xffffffff || e.compressedSize === 0xffffffff)
      throw loadFailed(this.file, 'zip64 archives are not supported');
    if (start + e.compressedSize > b.length)
      throw loadFailed(this.file, `${name}: entry runs past the end (truncated?)`);
    const raw = b.subarray(start, start + e.compressedSize);
    let data: Buffer;
    if (e.method === 0) data = raw;
    else if (e.method === 8) {
      try {
        data = inflateRawSync(raw);
      } catch {
        throw loadFailed(this.file, `${name}: damaged deflate data`);
      }
    } else throw loadFailed(this.file, `${name}: compression method ${e.method} is not supported`);
    if (data.length !== e.size)
      throw loadFailed(this.file, `${name}: ${data.length} bytes, the directory says ${e.size}`);
    return data;
  }
}
