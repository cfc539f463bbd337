/**
 * Exit codes of the CLI (docs/cli.md). `--wait` ends with OK only when every document completed.
 */
export const EXIT = {
  /** The command succeeded; with `--wait`: the batch completed and every document completed. */
  OK: 0,
  /** The command failed (API error, bad input); with `--wait`: the batch ended `failed`, `cancelled` or `expired`. */
  FAILED: 1,
  /** Usage error. */
  USAGE: 2,
  /** With `--wait`: the batch completed, but some of its documents failed. */
  DOCUMENTS_FAILED: 3,
  /** Interrupted while waiting (the batch keeps running). */
  INTERRUPTED: 130,
} as const;
