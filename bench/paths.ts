import path from 'node:path';

/**
 * What every benchmark needs from bench/scratch.ts without its database and Redis clients: a
 * benchmark child that only runs models (backends.ts) imports this, not scratch.ts. In a process that
 * has loaded ioredis, the classifier's tokenizer measured 1.1-1.3x the regex encoder's speed instead
 * of 2.1-2.5x (bench/tokenizer.ts; cause not found), and the worker's tokenizer and inference
 * threads load neither ioredis nor pg.
 */
export const ROOT = path.resolve(__dirname, '..');

/** True when `filename` is the script this process was started with (not imported by run-all). */
export function isMain(filename: string): boolean {
  return path.resolve(process.argv[1] ?? '') === filename;
}
