import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { transformSync } from '@swc/core';
import { runCli } from '@docbatch/cli';
import { DocBatchClient, SDK_VERSION } from '@docbatch/sdk';
import type { FetchLike } from '@docbatch/sdk';

/**
 * The workspace packages' manifests (what `npm pack` publishes; scripts/pack-check.sh checks the
 * tarballs themselves and runs them) and the SDK's version in its user-agent, taken from its
 * package.json rather than written in the code.
 */

const ROOT = path.resolve(__dirname, '../..');
type Manifest = {
  name: string;
  version: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  exports?: Record<string, unknown>;
  files?: string[];
  bin?: Record<string, string>;
  workspaces?: string[];
};
const manifest = (rel: string): Manifest =>
  JSON.parse(readFileSync(path.join(ROOT, rel, 'package.json'), 'utf8')) as Manifest;
const sdk = manifest('packages/sdk');
const cli = manifest('packages/cli');

describe('the SDK version', () => {
  it('is the package version, sent as docbatch-sdk/<version> in the user-agent', async () => {
    expect(SDK_VERSION).toBe(sdk.version);
    const seen: string[] = [];
    const fetch: FetchLike = async (_url, init) => {
      seen.push((init.headers as Record<string, string>)['user-agent'] ?? '');
      return new Response(JSON.stringify({ object: 'list', data: [], has_more: false }), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    };
    await new DocBatchClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'dbk_test', fetch }).listModels();
    expect(seen).toEqual([`docbatch-sdk/${sdk.version} node/${process.versions.node}`]);
  });

  it('is read from the package.json next to the code, not written in it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'docbatch-sdk-version-'));
    try {
      mkdirSync(path.join(dir, 'dist'));
      const source = readFileSync(path.join(ROOT, 'packages/sdk/src/version.ts'), 'utf8');
      const { code } = transformSync(source, {
        filename: 'version.ts',
        module: { type: 'commonjs' },
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      });
      writeFileSync(path.join(dir, 'dist', 'version.js'), code);
      // A fresh node process per package.json (jest's module registry would keep the first load).
      const load = (pkg: object): { status: number | null; stdout: string; stderr: string } => {
        writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg));
        const file = path.join(dir, 'dist', 'version.js');
        const res = spawnSync(process.execPath, ['-p', `require(${JSON.stringify(file)}).SDK_VERSION`], {
          encoding: 'utf8',
        });
        return { status: res.status, stdout: res.stdout.trim(), stderr: res.stderr };
      };
      expect(load({ name: '@docbatch/sdk', version: '9.8.7-rc.1' })).toMatchObject({
        status: 0,
        stdout: '9.8.7-rc.1',
      });
      const other = load({ name: 'something-else', version: '1.0.0' });
      expect(other.status).toBe(1);
      expect(other.stderr).toMatch(/is not its package.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('package manifests', () => {
  it('@docbatch/sdk: public, no runtime dependencies, an exports map with types for import and require', () => {
    expect(sdk.private).toBeUndefined();
    expect([sdk.dependencies, sdk.optionalDependencies, sdk.peerDependencies]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(sdk.exports?.['.']).toEqual({
      import: { types: './dist/index.d.mts', default: './dist/index.mjs' },
      require: { types: './dist/index.d.ts', default: './dist/index.js' },
    });
    expect(sdk.files).toEqual(expect.arrayContaining(['README.md', 'CHANGELOG.md']));
  });

  it('@docbatch/cli: public, the docbatch bin, depending on @docbatch/sdk (this version) alone', () => {
    expect(cli.private).toBeUndefined();
    expect(cli.dependencies).toEqual({ '@docbatch/sdk': sdk.version });
    expect([cli.optionalDependencies, cli.peerDependencies]).toEqual([undefined, undefined]);
    expect(cli.bin).toEqual({ docbatch: 'dist/bin.js' });
    expect(readFileSync(path.join(ROOT, 'packages/cli/src/bin.ts'), 'utf8')).toMatch(
      /^#!\/usr\/bin\/env node\n/,
    );
    expect(cli.files).toEqual(expect.arrayContaining(['README.md', 'CHANGELOG.md']));
  });

  it('the server stays private, lists both workspaces and depends on their versions', () => {
    const root = manifest('.');
    expect(root.private).toBe(true);
    expect(root.workspaces).toEqual(['packages/sdk', 'packages/cli']);
    expect(root.dependencies).toMatchObject({ '@docbatch/sdk': sdk.version, '@docbatch/cli': cli.version });
  });

  it.each([
    ['packages/sdk', sdk],
    ['packages/cli', cli],
  ])('%s/CHANGELOG.md has an entry for its version', (dir, m) => {
    expect(readFileSync(path.join(ROOT, dir, 'CHANGELOG.md'), 'utf8')).toContain(`## [${m.version}]`);
  });
});

describe('@docbatch/cli alone (no server extensions)', () => {
  const run = async (argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    let stdout = '';
    let stderr = '';
    const sink = (add: (s: string) => void): Writable =>
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          add(chunk.toString());
          cb();
        },
      });
    const code = await runCli(argv, {
      stdout: sink((t) => (stdout += t)),
      stderr: sink((t) => (stderr += t)),
      env: {},
    });
    return { code, stdout, stderr };
  };

  it('prints its own version', async () => {
    expect(await run(['--version'])).toEqual({ code: 0, stdout: `${cli.version}\n`, stderr: '' });
  });

  it('refuses the operator commands without an admin token, and models check, as usage errors', async () => {
    const keys = await run(['keys', 'list', '--tenant', 'acme']);
    expect(keys.code).toBe(2);
    expect(keys.stderr).toMatch(/need an admin token: pass --admin-token or set DOCBATCH_ADMIN_TOKEN/);
    const check = await run(['models', 'check']);
    expect(check.code).toBe(2);
    expect(check.stderr).toMatch(/use the server's CLI/);
  });
});
