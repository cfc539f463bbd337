import { createHash } from 'node:crypto';
import type { PoolingNetwork } from './pooling-network';
import type { SeededRandom } from './random';

/**
 * Per-epoch checkpoints of `embedding-pooling` training: everything that changes during training
 * (parameters, Adam moments and steps, the batch-order and dropout generators), so a run resumed
 * from the checkpoint of epoch e ends with the same bytes as an uninterrupted run. What is fixed
 * by the inputs (split, vocabulary, the starting table of rows never trained) is rebuilt.
 *
 * Layout: "DBCK" + uint32 LE header length + header JSON + the arrays of {@link sections} in order
 * (little-endian float32 / int32), then the trained embedding rows (their ids first).
 */
const MAGIC = 'DBCK';
/** Bump when training changes so that an old checkpoint no longer resumes to the same result. */
export const CHECKPOINT_FORMAT = 1;

/**
 * Running mean of a network's {@link PoolingNetwork.params} over epochs (stochastic weight
 * averaging), float32 like the weights: `mean += (x - mean) / count`.
 */
export class WeightAverage {
  count = 0;
  readonly values: Float32Array[];
  constructor(net: PoolingNetwork) {
    this.values = net.params().map((p) => Float32Array.from(p));
  }
  add(net: PoolingNetwork): void {
    this.count++;
    net.params().forEach((p, i) => {
      const avg = this.values[i]!;
      for (let k = 0; k < p.length; k++) avg[k]! += (p[k]! - avg[k]!) / this.count;
    });
  }
}

interface CheckpointHeader {
  format: number;
  fingerprint: string;
  epoch: number;
  step: number;
  order: number;
  dropout: number;
  rows: number;
  /** Epochs in the weight average (absent: no averaging). */
  averaged?: number;
}

/** Identifies one training run: recipe, hyperparameters and examples (text and label, in order). */
export function trainingFingerprint(
  recipe: string,
  hyperparameters: object,
  examples: readonly { text: string; label: string }[],
): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ format: CHECKPOINT_FORMAT, recipe, hyperparameters }));
  for (const e of examples) h.update(JSON.stringify([e.text, e.label]));
  return h.digest('hex');
}

function sections(net: PoolingNetwork): Float32Array[] {
  return net.denseParams().flatMap((p) => [p.w, p.m, p.v]);
}

const bytesOf = (a: Float32Array | Int32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** The checkpoint after `epoch` epochs. */
export function writeCheckpoint(
  fingerprint: string,
  epoch: number,
  net: PoolingNetwork,
  order: SeededRandom,
  dropout: SeededRandom,
  average?: WeightAverage,
): Buffer {
  const { dim } = net.shape;
  const rows: number[] = [];
  for (let id = 0; id < net.rowSteps.length; id++) if (net.rowSteps[id]! > 0) rows.push(id);
  const header: CheckpointHeader = {
    format: CHECKPOINT_FORMAT,
    fingerprint,
    epoch,
    step: net.step,
    order: order.state,
    dropout: dropout.state,
    rows: rows.length,
    ...(average ? { averaged: average.count } : {}),
  };
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length);
  const tables = [net.emb, net.embM, net.embV, ...(average ? [average.values[0]!] : [])];
  const rowData = tables.map((table) => {
    const out = new Float32Array(rows.length * dim);
    rows.forEach((id, i) => out.set(table.subarray(id * dim, (id + 1) * dim), i * dim));
    return bytesOf(out);
  });
  const steps = Int32Array.from(rows, (id) => net.rowSteps[id]!);
  return Buffer.concat([
    Buffer.from(MAGIC),
    len,
    json,
    ...sections(net).map(bytesOf),
    bytesOf(Int32Array.from(rows)),
    bytesOf(steps),
    ...rowData,
    ...(average ? average.values.slice(1).map(bytesOf) : []),
  ]);
}

/**
 * Restores a checkpoint into a freshly initialised network and generators; returns the epochs it
 * covers, or undefined (nothing restored) when it belongs to another run or format.
 */
export function restoreCheckpoint(
  checkpoint: Buffer,
  fingerprint: string,
  net: PoolingNetwork,
  order: SeededRandom,
  dropout: SeededRandom,
  average?: WeightAverage,
): number | undefined {
  if (checkpoint.length < 8 || checkpoint.toString('latin1', 0, 4) !== MAGIC) return undefined;
  const jsonLength = checkpoint.readUInt32LE(4);
  let header: CheckpointHeader;
  try {
    header = JSON.parse(checkpoint.toString('utf8', 8, 8 + jsonLength)) as CheckpointHeader;
  } catch {
    return undefined;
  }
  if (header.format !== CHECKPOINT_FORMAT || header.fingerprint !== fingerprint) return undefined;
  if ((header.averaged !== undefined) !== (average !== undefined)) return undefined;
  const { dim } = net.shape;
  let offset = 8 + jsonLength;
  const tableCount = average ? 4 : 3;
  const expected =
    sections(net).reduce((n, a) => n + a.byteLength, 0) +
    header.rows * 8 +
    header.rows * dim * 4 * tableCount +
    (average ? average.values.slice(1).reduce((n, a) => n + a.byteLength, 0) : 0);
  if (checkpoint.length - offset !== expected) return undefined;
  // A copy in a fresh ArrayBuffer: aligned for the typed arrays.
  const take = (bytes: number): Uint8Array => {
    const b = new Uint8Array(checkpoint.subarray(offset, offset + bytes));
    offset += bytes;
    return b;
  };
  const floats = (n: number): Float32Array => {
    const b = take(n * 4);
    return new Float32Array(b.buffer, 0, n);
  };
  const ints = (n: number): Int32Array => {
    const b = take(n * 4);
    return new Int32Array(b.buffer, 0, n);
  };
  for (const target of sections(net)) target.set(floats(target.length));
  const rows = ints(header.rows);
  const steps = ints(header.rows);
  for (const table of [net.emb, net.embM, net.embV, ...(average ? [average.values[0]!] : [])]) {
    const data = floats(header.rows * dim);
    rows.forEach((id, i) => table.set(data.subarray(i * dim, (i + 1) * dim), id * dim));
  }
  rows.forEach((id, i) => (net.rowSteps[id] = steps[i]!));
  if (average) {
    for (const target of average.values.slice(1)) target.set(floats(target.length));
    average.count = header.averaged!;
  }
  net.step = header.step;
  order.state = header.order;
  dropout.state = header.dropout;
  return header.epoch;
}
