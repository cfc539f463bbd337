import { createHash } from 'node:crypto';

/**
 * A set of strings kept as 96-bit digests in typed arrays (12 bytes a slot, open addressing with
 * linear probing, at most half full): about 24 MB for 1,000,000 client ids, where a `Set<string>`
 * of the ids themselves costs hundreds of MB of heap once V8's headroom is counted. Two different
 * ids share a digest with probability about n^2 / 2^97 (1e-17 for a million ids).
 */
export class IdHashSet {
  private slots: Uint32Array;
  private used: Uint8Array;
  private mask: number;
  size = 0;

  constructor(initialCapacity = 1 << 12) {
    let cap = 1;
    while (cap < initialCapacity) cap <<= 1;
    this.slots = new Uint32Array(cap * 3);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
  }

  /** Adds `id`; returns false when it was already present. */
  add(id: string): boolean {
    const [a, b, c] = digest(id);
    if ((this.size + 1) * 2 > this.used.length) this.grow();
    return this.insert(a, b, c);
  }

  has(id: string): boolean {
    const [a, b, c] = digest(id);
    for (let i = a & this.mask; this.used[i]; i = (i + 1) & this.mask) {
      if (this.slots[i * 3] === a && this.slots[i * 3 + 1] === b && this.slots[i * 3 + 2] === c) return true;
    }
    return false;
  }

  private insert(a: number, b: number, c: number): boolean {
    let i = a & this.mask;
    for (; this.used[i]; i = (i + 1) & this.mask) {
      if (this.slots[i * 3] === a && this.slots[i * 3 + 1] === b && this.slots[i * 3 + 2] === c) return false;
    }
    this.used[i] = 1;
    this.slots[i * 3] = a;
    this.slots[i * 3 + 1] = b;
    this.slots[i * 3 + 2] = c;
    this.size++;
    return true;
  }

  private grow(): void {
    const oldSlots = this.slots;
    const oldUsed = this.used;
    const cap = oldUsed.length * 2;
    this.slots = new Uint32Array(cap * 3);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < oldUsed.length; i++) {
      if (oldUsed[i]) this.insert(oldSlots[i * 3]!, oldSlots[i * 3 + 1]!, oldSlots[i * 3 + 2]!);
    }
  }
}

function digest(id: string): [number, number, number] {
  const d = createHash('md5').update(id, 'utf8').digest();
  return [d.readUInt32LE(0), d.readUInt32LE(4), d.readUInt32LE(8)];
}
