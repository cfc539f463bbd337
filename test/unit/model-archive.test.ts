import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { readTarArchive, stripCommonDirectory } from '../../src/core/models/model-archive';
import { modelPathProblem } from '../../src/core/models/tenant-models';
import { tarModelFiles } from '@docbatch/sdk';

/** Tar archives of model uploads (POST /v1/models): the SDK's writer, GNU tar's, and refusals. */

const limits = { maxBytes: 1_000_000, maxFiles: 100 };
const LONG = `${'deep/'.repeat(25)}group1-shard1of1.bin`;

function systemTar(build: (dir: string) => void, args: string[] = []): Buffer {
  const root = mkdtempSync(path.join(os.tmpdir(), 'archive-test-'));
  try {
    mkdirSync(path.join(root, 'm'));
    build(path.join(root, 'm'));
    const out = path.join(root, 'out.tar');
    execFileSync('tar', ['-cf', out, ...args, '-C', path.join(root, 'm'), '.']);
    return readFileSync(out);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('the SDK writer and GNU tar (long names, ./ prefixes, gzip) read back byte for byte', () => {
  const files = new Map<string, Buffer>([
    ['config.json', Buffer.from('{"name":"m"}')],
    [LONG, Buffer.alloc(1500, 7)],
    ['empty.txt', Buffer.alloc(0)],
  ]);
  const fromSdk = readTarArchive(Buffer.from(tarModelFiles(files)), limits);
  const fromGnu = readTarArchive(
    gzipSync(
      systemTar((dir) => {
        for (const [p, data] of files) {
          mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
          writeFileSync(path.join(dir, p), data);
        }
      }),
    ),
    limits,
  );
  for (const got of [fromSdk, fromGnu]) {
    expect([...got.keys()].sort()).toEqual([...files.keys()].sort());
    for (const [p, data] of files) expect(got.get(p)!.equals(data)).toBe(true);
  }
});

test('links, traversal and oversize are refused with the entry named', () => {
  const withLink = systemTar((dir) => {
    writeFileSync(path.join(dir, 'config.json'), '{}');
    symlinkSync('/etc/passwd', path.join(dir, 'tokenizer.json'));
  });
  expect(() => readTarArchive(withLink, limits)).toThrow(/tokenizer\.json: is a link/);
  const escaping = readTarArchive(Buffer.from(tarModelFiles({ '../x': 'x', 'config.json': '{}' })), limits);
  expect(modelPathProblem([...escaping.keys()][0]!)).toMatch(/leaves the model directory/);
  expect(modelPathProblem('/etc/passwd')).toMatch(/absolute/);
  expect(modelPathProblem('a\\b')).toMatch(/backslash/);
  expect(modelPathProblem('shards/group1-shard1of2.bin')).toBeUndefined();
  expect(() => readTarArchive(Buffer.from(tarModelFiles({ big: Buffer.alloc(1_000_001) })), limits)).toThrow(
    /MODEL_UPLOAD_MAX_BYTES/,
  );
  expect(() => readTarArchive(Buffer.alloc(1024, 1), limits)).toThrow(/Invalid tar archive/);
});

test('a model inside one top directory is taken from there', () => {
  const files = new Map([
    ['export/config.json', Buffer.from('{}')],
    ['export/model.h5', Buffer.from('x')],
  ]);
  expect([...stripCommonDirectory(files).keys()]).toEqual(['config.json', 'model.h5']);
  files.set('other.txt', Buffer.from(''));
  expect(stripCommonDirectory(files)).toBe(files);
});
