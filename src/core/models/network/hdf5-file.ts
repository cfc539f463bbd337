import * as jsfive from 'jsfive';
import { loadFailed } from '../model-errors';
import { unreadableModelFile } from './artefact-file';

/**
 * Read-only access to an HDF5 file held in memory (Keras `.h5` files and the `model.weights.h5`
 * inside `.keras` archives), over the pure-JavaScript reader jsfive: synchronous, no WebAssembly,
 * no temporary files, so it behaves the same in worker threads and under jest.
 */

/** A dataset read as float32 (the dtype tfjs computes in). */
export interface Hdf5Array {
  shape: number[];
  values: Float32Array;
}

/** A group of an HDF5 file; paths are relative to it (`a/b/c`). */
export interface Hdf5Group {
  /** Path of the group inside the file (`/` for the root), for messages. */
  readonly path: string;
  /** Names of the members (groups and datasets), in the file's order. */
  keys(): string[];
  /** An attribute: strings decoded, arrays as arrays; undefined when absent. */
  attr(name: string): unknown;
  /** The sub-group at `path`, or undefined when absent or not a group. */
  group(path: string): Hdf5Group | undefined;
  /** The float dataset at `path`, or undefined when absent; throws a ModelError for other dtypes. */
  dataset(path: string): Hdf5Array | undefined;
}

interface JsfiveNode {
  keys?: string[];
  attrs: Record<string, unknown>;
  shape?: number[];
  dtype?: unknown;
  value?: unknown;
  get(path: string): JsfiveNode;
}

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const decoder = new TextDecoder();

/** Whether the HDF5 signature is at offset 0 (or a power-of-two user-block offset). */
export function isHdf5(bytes: Uint8Array): boolean {
  for (let offset = 0; offset + SIGNATURE.length <= bytes.byteLength; offset = offset ? offset * 2 : 512) {
    if (SIGNATURE.every((b, i) => bytes[offset + i] === b)) return true;
    if (offset > 1 << 20) break;
  }
  return false;
}

function decode(value: unknown): unknown {
  if (value instanceof Uint8Array) return decoder.decode(value).replace(/\0+$/, '');
  if (Array.isArray(value)) return value.map(decode);
  return value;
}

function cause(err: unknown): string {
  if (err instanceof RangeError) return 'the file is cut short';
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.slice(0, 200);
}

/** jsfive internals the fast path reads (absent in another version: the fast path is skipped). */
interface DataObjects {
  fh?: ArrayBuffer;
  _filter_pipeline?: unknown;
  find_msg_type?(type: number): { get(key: string): number }[];
  _get_data_message_properties?(offset: number): [number, number, number, number];
}

const DATA_LAYOUT_MESSAGE = 8;
const UNDEFINED_ADDRESS = 0xffffffffffffffffn;

/**
 * A contiguous, unfiltered little-endian float32 dataset copied straight from the file's bytes
 * (jsfive reads element by element into a JavaScript array: about 1 s per 10 M values); undefined
 * when the dataset is stored otherwise, so that jsfive reads it.
 */
function contiguousFloat32(node: JsfiveNode): Float32Array | undefined {
  const data = (node as { _dataobjects?: DataObjects })._dataobjects;
  if (node.dtype !== '<f4' || !data?.fh || !data.find_msg_type || !data._get_data_message_properties)
    return undefined;
  if (data._filter_pipeline) return undefined;
  const layout = data.find_msg_type(DATA_LAYOUT_MESSAGE)[0];
  if (!layout) return undefined;
  const [, , layoutClass, property] = data._get_data_message_properties(layout.get('offset_to_message'));
  if (layoutClass !== 1) return undefined;
  const address = new DataView(data.fh).getBigUint64(property, true);
  if (address === UNDEFINED_ADDRESS) return undefined;
  const start = Number(address);
  const count = (node.shape ?? []).reduce((a, b) => a * b, 1);
  if (start + count * 4 > data.fh.byteLength) throw new Error('dataset runs past the end of the file');
  return new Float32Array(data.fh.slice(start, start + count * 4));
}

class JsfiveGroup implements Hdf5Group {
  constructor(
    private readonly node: JsfiveNode,
    readonly path: string,
    private readonly file: string,
    private readonly field?: string,
  ) {}

  keys(): string[] {
    return this.node.keys ?? [];
  }

  attr(name: string): unknown {
    try {
      return decode(this.node.attrs[name]);
    } catch (err) {
      throw loadFailed(
        this.file,
        `cannot read attribute ${name} of ${this.path} (${cause(err)})`,
        this.field,
      );
    }
  }

  private child(path: string): JsfiveNode | undefined {
    let node: JsfiveNode = this.node;
    for (const part of path.split('/').filter(Boolean)) {
      if (!node.keys?.includes(part)) return undefined;
      try {
        node = node.get(part);
      } catch (err) {
        throw loadFailed(this.file, `cannot read ${this.join(path)} (${cause(err)}; truncated?)`, this.field);
      }
    }
    return node;
  }

  private join(path: string): string {
    return `${this.path === '/' ? '' : this.path}/${path}`;
  }

  group(path: string): Hdf5Group | undefined {
    const node = this.child(path);
    return node && node.keys !== undefined && node.shape === undefined
      ? new JsfiveGroup(node, this.join(path), this.file, this.field)
      : undefined;
  }

  dataset(path: string): Hdf5Array | undefined {
    const node = this.child(path);
    if (!node || node.shape === undefined) return undefined;
    const dtype = String(node.dtype);
    if (!/^[<>]f[48]$/.test(dtype)) {
      throw loadFailed(
        this.file,
        `${this.join(path)} has dtype ${dtype}; weights must be float32 or float64`,
        this.field,
      );
    }
    let value: unknown;
    try {
      value = contiguousFloat32(node) ?? node.value;
    } catch (err) {
      throw loadFailed(this.file, `cannot read ${this.join(path)} (${cause(err)}; truncated?)`, this.field);
    }
    const values = Float32Array.from(value as ArrayLike<number>);
    const shape = node.shape.map(Number);
    if (values.length !== shape.reduce((a, b) => a * b, 1)) {
      throw loadFailed(
        this.file,
        `${this.join(path)} holds ${values.length} values for shape [${shape.join(', ')}]`,
        this.field,
      );
    }
    return { shape, values };
  }
}

/**
 * Opens an HDF5 file from its bytes; `file` names it in errors (`model.h5`), with `field` when the
 * HDF5 file is a member of it (`model.weights.h5` inside `model.keras`).
 */
export function openHdf5(bytes: Uint8Array, file: string, field?: string): Hdf5Group {
  const fail = (why: string) => (field ? loadFailed(file, why, field) : unreadableModelFile(file, why));
  if (!isHdf5(bytes)) throw fail('not an HDF5 file (truncated?)');
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  try {
    const root = new jsfive.File(buffer, file) as unknown as JsfiveNode;
    return new JsfiveGroup(root, '/', file, field);
  } catch (err) {
    throw fail(
      err instanceof RangeError ? 'HDF5 file cut short (truncated?)' : `damaged HDF5 file (${cause(err)})`,
    );
  }
}
