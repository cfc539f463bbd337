/**
 * Seeded randomness for training (mulberry32): the split, the initialisers, dropout and the batch
 * order all draw from generators seeded from the job's seed, so the same inputs give the same
 * model. The state is one 32-bit integer, which checkpoints record.
 */
export class SeededRandom {
  constructor(public state: number) {
    this.state = state >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A float in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

/** A generator for one purpose (`stream`) of a job's seed: independent streams, fixed forever. */
export function seededStream(seed: number, stream: number): SeededRandom {
  return new SeededRandom(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(stream + 1, 0xc2b2ae35));
}

export interface StratifiedSplit {
  /** Positions (into the examples) of the training part, ascending. */
  train: number[];
  /** Positions of the held-out part, ascending. */
  validation: number[];
}

/**
 * Stratified, seeded split: for each label (in `labels` order), `max(1, round(n * fraction))`
 * of its n examples (at most n - 1) are held out. Examples with the same text (lower-cased,
 * whitespace collapsed) and label stay on the same side, so a repeated sentence never scores the
 * model on what it trained on.
 */
export function stratifiedSplit(
  examples: readonly { text: string; label: string }[],
  labels: readonly string[],
  fraction: number,
  random: SeededRandom,
): StratifiedSplit {
  const train: number[] = [];
  const validation: number[] = [];
  for (const label of labels) {
    const groups = new Map<string, number[]>();
    examples.forEach((e, i) => {
      if (e.label !== label) return;
      const key = e.text.toLowerCase().replace(/\s+/g, ' ').trim();
      const g = groups.get(key);
      if (g) g.push(i);
      else groups.set(key, [i]);
    });
    const n = [...groups.values()].reduce((s, g) => s + g.length, 0);
    const want = Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
    let held = 0;
    for (const group of random.shuffle([...groups.values()])) {
      if (held < want && held + group.length <= n - 1) {
        validation.push(...group);
        held += group.length;
      } else train.push(...group);
    }
  }
  return { train: train.sort((a, b) => a - b), validation: validation.sort((a, b) => a - b) };
}
