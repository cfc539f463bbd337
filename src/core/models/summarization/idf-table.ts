import { readFileSync } from 'node:fs';

/**
 * Inverse document frequencies for TF-IDF: `idf.tsv`, one `term<TAB>idf` per line, line order = term
 * id. Terms outside the table get ids from a hash (stable across processes) above the table's range
 * and the table's `oovIdf`.
 */
export class IdfTable {
  private readonly ids = new Map<string, number>();
  private readonly weights: Float32Array;

  constructor(
    terms: readonly string[],
    idf: ArrayLike<number>,
    /** IDF of a term not in the table (a rare term: at least the table's largest IDF). */
    readonly oovIdf: number,
  ) {
    if (terms.length !== idf.length) throw new Error('terms and idf differ in length');
    terms.forEach((t, i) => this.ids.set(t, i));
    this.weights = Float32Array.from(idf);
  }

  static fromFile(file: string, oovIdf?: number): IdfTable {
    const terms: string[] = [];
    const idf: number[] = [];
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line) continue;
      const tab = line.lastIndexOf('\t');
      const value = Number(line.slice(tab + 1));
      if (tab <= 0 || !Number.isFinite(value)) throw new Error(`${file}: bad line '${line.slice(0, 80)}'`);
      terms.push(line.slice(0, tab));
      idf.push(value);
    }
    return new IdfTable(terms, idf, oovIdf ?? Math.max(1, ...idf));
  }

  get size(): number {
    return this.weights.length;
  }

  /** Id of `term`: its table row, or `size + hash(term) mod 2^24` for a term outside the table. */
  idOf(term: string): number {
    const id = this.ids.get(term);
    if (id !== undefined) return id;
    let h = 0x811c9dc5;
    for (let i = 0; i < term.length; i++) {
      h ^= term.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    return this.weights.length + ((h >>> 0) & 0xffffff);
  }

  /** IDF of the term with id `id` (from {@link idOf}). */
  idfOf(id: number): number {
    return id < this.weights.length ? this.weights[id]! : this.oovIdf;
  }
}
