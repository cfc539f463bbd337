import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { COMMAND_HELP, USAGE } from '../../packages/cli/src/help';
import { COMMAND_OPTIONS } from '../../packages/cli/src/main';
import { inheritedEnv, runCliProcess } from './cli-harness';
import type { CliResult } from './cli-harness';

/**
 * `docbatch --version`, per-command help and the exit codes of docs/cli.md that need no server,
 * each through the real `docbatch` process.
 */

jest.setTimeout(120_000);

const env = inheritedEnv();
const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> =>
  runCliProcess(args, { ...env, ...extra });

/** Runs `f` over `items`, at most 4 processes at a time (a 2-core CI machine). */
async function inBatches<T, R>(items: readonly T[], f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += 4) out.push(...(await Promise.all(items.slice(i, i + 4).map(f))));
  return out;
}

const COMMANDS = Object.keys(COMMAND_HELP) as (keyof typeof COMMAND_HELP)[];
const pkgVersion = (
  JSON.parse(readFileSync(path.join(__dirname, '../../packages/cli/package.json'), 'utf8')) as {
    version: string;
  }
).version;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'docbatch-cli-help-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('docbatch --version', () => {
  it('prints the package version on stdout and exits 0 (--version, -V, after global options)', async () => {
    expect(pkgVersion).toMatch(/^\d+\.\d+\.\d+/);
    const runs = await inBatches(
      [['--version'], ['-V'], ['--url', 'http://127.0.0.1:1', '--version'], ['status', '--version']],
      (args) => cli(args),
    );
    for (const r of runs) {
      expect(r).toEqual({ code: 0, stdout: `${pkgVersion}\n`, stderr: '' });
    }
  });
});

describe('per-command help', () => {
  it('`docbatch COMMAND --help` prints that command usage, every one of its options, and exits 0', async () => {
    const runs = await inBatches(COMMANDS, (c) => cli([c, '--help']));
    runs.forEach((r, i) => {
      const command = COMMANDS[i] as keyof typeof COMMAND_HELP;
      expect([command, r.code, r.stderr]).toEqual([command, 0, '']);
      expect(r.stdout).toBe(COMMAND_HELP[command] + '\n');
      expect(r.stdout.startsWith(`usage: docbatch ${command}`)).toBe(true);
      expect(r.stdout).not.toContain('operator commands');
      // Every option the command's parser accepts is described in its help.
      const options = COMMAND_OPTIONS[command] as Record<string, { short?: string }>;
      for (const [name, spec] of Object.entries(options)) {
        expect([command, r.stdout.includes(`--${name}`)]).toEqual([command, true]);
        if (spec.short)
          expect([command, r.stdout.includes(`-${spec.short}, --${name}`)]).toEqual([command, true]);
      }
      expect(r.stdout).toContain('exit codes:');
    });
  });

  it('`docbatch help COMMAND`, `-h` and a subcommand with --help print the same text', async () => {
    const cases: [string[], keyof typeof COMMAND_HELP][] = [
      [['help', 'submit'], 'submit'],
      [['help', 'keys'], 'keys'],
      [['help', 'delete'], 'delete'],
      [['help', 'usage'], 'usage'],
      [['submit', '-h'], 'submit'],
      [['keys', 'create', '--help'], 'keys'],
      [['models', 'check', '--help'], 'models'],
      [['webhook-secret', 'rotate', '--tenant', 'x', '--help'], 'webhook-secret'],
      [['--json', 'tenants', 'list', '--help'], 'tenants'],
    ];
    const runs = await inBatches(cases, ([args]) => cli(args));
    runs.forEach((r, i) => {
      const [args, command] = cases[i] as [string[], keyof typeof COMMAND_HELP];
      expect([args, r.code, r.stdout]).toEqual([args, 0, COMMAND_HELP[command] + '\n']);
    });
  });

  it('the global usage lists every command and says how to get a command help; `help` prints it', async () => {
    for (const c of COMMANDS) expect([c, USAGE.includes(`\n  ${c} `)]).toEqual([c, true]);
    const [long, short, help] = await inBatches([['--help'], ['-h'], ['help']], (args) => cli(args));
    for (const r of [long, short, help]) {
      expect(r?.code).toBe(0);
      expect(r?.stdout).toBe(USAGE + '\n');
    }
    expect(USAGE).toContain('docbatch <command> --help');
    expect(USAGE).toContain('-V, --version');
  });
});

describe('exit codes (docs/cli.md)', () => {
  it('usage errors exit 2 and point at the command help; no command prints the usage on stderr', async () => {
    const cases: [string[], string][] = [
      [['submit', 'x.ndjson'], 'translation)\n(run docbatch submit --help)'],
      [['keys', 'create'], 'needs --tenant NAME\n(run docbatch keys --help)'],
      [['delete'], 'delete needs a batch id\n(run docbatch delete --help)'],
      [['usage', '--start', 'yesterday'], '--start must be a date YYYY-MM-DD\n(run docbatch usage --help)'],
      [['status', 'bat_x', '--bogus'], "Unknown option '--bogus'"],
      [['frobnicate'], 'unknown command "frobnicate"\n(run docbatch --help)'],
      [['help', 'frobnicate'], 'unknown command "frobnicate"'],
      [['--version', 'frobnicate'], 'unknown command "frobnicate"'],
    ];
    const runs = await inBatches(cases, ([args]) => cli(args, { DOCBATCH_API_KEY: 'dbk_unused' }));
    runs.forEach((r, i) => {
      const [args, message] = cases[i] as [string[], string];
      expect([args, r.code, r.stdout]).toEqual([args, 2, '']);
      expect(r.stderr).toContain(message);
    });
    const none = await cli([]);
    expect(none).toEqual({ code: 2, stdout: '', stderr: USAGE + '\n' });
  });

  it('an input file or model directory that cannot be read fails the command: exit 1', async () => {
    const key = { DOCBATCH_API_KEY: 'dbk_unused' };
    const missing = path.join(dir, 'missing.ndjson');
    const [noFile, notAFile, noDir] = await inBatches(
      [
        ['submit', missing, '--task', 'summarization'],
        ['submit', dir, '--task', 'summarization', '--format', 'ndjson'],
        ['models', 'check', path.join(dir, 'no-such-repo')],
      ],
      (args) => cli(args, key),
    );
    expect(noFile?.code).toBe(1);
    expect(noFile?.stderr).toBe(`docbatch: bad input: cannot read ${missing}: ENOENT\n`);
    expect(notAFile?.code).toBe(1);
    expect(notAFile?.stderr).toBe(`docbatch: bad input: cannot read ${dir}: not a file\n`);
    expect(noDir?.code).toBe(1);
    expect(noDir?.stderr).toContain('cannot read');
    expect(noDir?.stderr).toContain('not a directory');
  });

  it('the server unreachable fails the command: exit 1', async () => {
    const r = await cli(['list'], { DOCBATCH_API_KEY: 'dbk_unused', DOCBATCH_URL: 'http://127.0.0.1:1' });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^docbatch: /);
  });
});
