/**
 * Jane Austen's six novels from Debian's `r-cran-janeaustenr` (the R data set `austen_books()`), split
 * into chapters: held-out novel text for the extractive summarizer, whose IDF table is built from State
 * of the Union addresses only.
 *
 * The package stores its data as an R lazy-load database, so the first call exports it once with
 * `Rscript` to `$TMPDIR/docbatch-janeaustenr.tsv` (book, tab, line); later calls read that file. When
 * the package or R is missing, {@link loadAustenBooks} throws with the install command.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Chapter {
  book: string;
  /** Heading as printed, e.g. `CHAPTER XII` or `Chapter 3`. */
  heading: string;
  /** Chapter text: the book's lines joined with `\n` (a blank line between paragraphs). */
  text: string;
}

const PACKAGE_DIR = '/usr/lib/R/site-library/janeaustenr';
const CACHE = path.join(os.tmpdir(), 'docbatch-janeaustenr.tsv');
const HEADING = /^\s*(?:CHAPTER|Chapter)\s+(?:[0-9]+|[IVXLC]+)\b\.?\s*$/;

/** Lines of the six novels as `{ book, line }`, in the package's order. */
export function loadAustenBooks(): { book: string; line: string }[] {
  if (!existsSync(CACHE)) {
    if (!existsSync(PACKAGE_DIR)) {
      throw new Error(
        `Jane Austen's novels are missing: install them with \`apt-get install -y r-cran-janeaustenr\` (looked in ${PACKAGE_DIR})`,
      );
    }
    const tmp = `${CACHE}.${process.pid}`;
    const script = `d <- janeaustenr::austen_books(); writeLines(paste(as.character(d$book), gsub("\\t", " ", d$text), sep = "\\t"), "${tmp}", useBytes = TRUE)`;
    try {
      execFileSync('Rscript', ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      throw new Error(
        `exporting janeaustenr with Rscript failed (is r-base-core installed?): ${String(err)}`,
      );
    }
    renameSync(tmp, CACHE);
  }
  return readFileSync(CACHE, 'utf8')
    .split('\n')
    .filter((l) => l.includes('\t'))
    .map((l) => {
      const tab = l.indexOf('\t');
      return { book: l.slice(0, tab), line: l.slice(tab + 1) };
    });
}

/** Every chapter of the six novels, in book order (text before a book's first heading is dropped). */
export function austenChapters(lines = loadAustenBooks()): Chapter[] {
  const out: Chapter[] = [];
  let current: { book: string; heading: string; lines: string[] } | undefined;
  const flush = (): void => {
    if (current)
      out.push({ book: current.book, heading: current.heading, text: current.lines.join('\n').trim() });
    current = undefined;
  };
  for (const { book, line } of lines) {
    if (current && current.book !== book) flush();
    if (HEADING.test(line)) {
      flush();
      current = { book, heading: line.trim(), lines: [] };
    } else if (current) current.lines.push(line);
  }
  flush();
  return out.filter((c) => c.text.length > 0);
}

/**
 * The 20 held-out evaluation chapters: evenly spaced over all chapters of the six novels (every
 * `floor(n / 20)`-th, starting at the middle of the first step), so every novel contributes.
 */
export function evaluationChapters(all = austenChapters(), count = 20): Chapter[] {
  const step = Math.floor(all.length / count);
  return Array.from({ length: count }, (_, i) => all[Math.floor(step / 2) + i * step]!);
}
