#!/usr/bin/env bash
# The published packages as a user gets them: `npm pack` of @docbatch/sdk and @docbatch/cli (their
# prepack builds them), checks of the tarballs (the SDK under 200 KB with no runtime dependency, the
# CLI depending on the SDK alone), both installed offline into an empty scratch project under /tmp
# that sees nothing of this repository but the two .tgz files, then run there against a live
# docbatch server started from this repository (`node dist/main.js`: migrations, API and a worker
# on a scratch database and queue prefix, a key from the server's CLI):
#   - the SDK from an ES module (.mjs) and from CommonJS (.cjs): create a batch, wait, read the
#     results, check the counts, the ids and a typed error;
#   - `npx docbatch --version` and `npx docbatch submit FILE --wait --out` on a small NDJSON file.
# Usage: bash scripts/pack-check.sh (Postgres and Redis up: npm run services). Exit 0 when all of
# that holds; otherwise 1 with a message saying what failed. Keeps nothing: the scratch project,
# the tarballs and the database are removed on exit (KEEP=1 keeps the scratch directory).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SDK_MAX_BYTES=$((200 * 1024))
scratch=$(mktemp -d /tmp/docbatch-pack-check.XXXXXX)
log=$scratch/server.log
server=
db_base=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/docbatch}
db_name=docbatch_pack_check_$$

cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  psql "${db_base%/*}/postgres" -qc "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" >/dev/null 2>&1 || true
  if [ "${KEEP:-}" = 1 ]; then echo "pack-check: kept $scratch"; else rm -rf "$scratch"; fi
}
trap cleanup EXIT
fail() {
  echo "pack-check: FAIL: $*" >&2
  if [ -n "$server" ] && [ -s "$log" ]; then
    echo "pack-check: the server's last log lines:" >&2
    tail -n 15 "$log" >&2
  fi
  exit 1
}
say() { echo "pack-check: $*"; }

# 1. Pack (prepack builds each package).
mkdir -p "$scratch/packs"
npm pack --silent -w @docbatch/sdk -w @docbatch/cli --pack-destination "$scratch/packs" --json \
  >"$scratch/pack.json" 2>"$scratch/pack.err" || {
  cat "$scratch/pack.err" >&2
  fail "npm pack of the workspace packages failed"
}

# 2. The tarballs: sizes, dependencies, contents.
node - "$scratch/pack.json" "$scratch/packs" "$SDK_MAX_BYTES" <<'EOF' || fail "the tarballs do not hold what they must (above)"
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const [packJson, dir, maxBytes] = process.argv.slice(2);
const packs = JSON.parse(fs.readFileSync(packJson, 'utf8'));
const byName = Object.fromEntries(packs.map((p) => [p.name, p]));
const problems = [];
const manifest = (p) =>
  JSON.parse(execFileSync('tar', ['-xOzf', path.join(dir, p.filename), 'package/package.json'], { encoding: 'utf8' }));
const runtimeDeps = (m) =>
  Object.assign({}, m.dependencies, m.optionalDependencies, m.peerDependencies, m.bundleDependencies && {});
const sdk = byName['@docbatch/sdk'];
const cli = byName['@docbatch/cli'];
if (!sdk || !cli) throw new Error(`npm pack made ${packs.map((p) => p.name).join(', ')}`);
for (const p of [sdk, cli]) {
  const bytes = fs.statSync(path.join(dir, p.filename)).size;
  console.log(`pack-check: ${p.filename}: ${bytes} bytes packed, ${p.unpackedSize} unpacked, ${p.entryCount} files`);
  const files = p.files.map((f) => f.path);
  const stray = files.filter((f) => !/^(dist\/.*\.(js|mjs|d\.ts|d\.mts)|README\.md|CHANGELOG\.md|LICENSE|package\.json)$/.test(f));
  if (stray.length) problems.push(`${p.name} ships files it must not: ${stray.join(', ')}`);
  for (const f of ['README.md', 'CHANGELOG.md', 'dist/index.js', 'dist/index.d.ts'])
    if (!files.includes(f)) problems.push(`${p.name} lacks ${f}`);
}
const sdkBytes = fs.statSync(path.join(dir, sdk.filename)).size;
if (sdkBytes >= Number(maxBytes)) problems.push(`the SDK tarball is ${sdkBytes} bytes, not under ${maxBytes}`);
for (const f of ['dist/index.mjs', 'dist/index.d.mts'])
  if (!sdk.files.some((x) => x.path === f)) problems.push(`@docbatch/sdk lacks ${f}`);
const sdkManifest = manifest(sdk);
const sdkDeps = Object.keys(runtimeDeps(sdkManifest));
if (sdkDeps.length) problems.push(`@docbatch/sdk has runtime dependencies: ${sdkDeps.join(', ')}`);
const exp = sdkManifest.exports?.['.'];
if (!exp?.import?.types || !exp?.import?.default || !exp?.require?.types || !exp?.require?.default)
  problems.push(`@docbatch/sdk's exports map lacks import/require with types: ${JSON.stringify(exp)}`);
const cliManifest = manifest(cli);
const cliDeps = runtimeDeps(cliManifest);
if (JSON.stringify(Object.keys(cliDeps)) !== JSON.stringify(['@docbatch/sdk']))
  problems.push(`@docbatch/cli must depend on @docbatch/sdk alone, depends on ${JSON.stringify(cliDeps)}`);
else if (cliDeps['@docbatch/sdk'] !== sdkManifest.version)
  problems.push(`@docbatch/cli depends on @docbatch/sdk ${cliDeps['@docbatch/sdk']}, the SDK packed is ${sdkManifest.version}`);
if (cliManifest.bin?.docbatch !== 'dist/bin.js') problems.push(`@docbatch/cli's bin: ${JSON.stringify(cliManifest.bin)}`);
if (cliManifest.private || sdkManifest.private) problems.push('a package to publish is private');
for (const p of problems) console.error(`pack-check: ${p}`);
process.exit(problems.length ? 1 : 0);
EOF

# 3. An empty project under /tmp with only the tarballs; installed offline (nothing to download).
app=$scratch/app
mkdir -p "$app"
cp "$scratch"/packs/docbatch-sdk-*.tgz "$app/sdk.tgz"
cp "$scratch"/packs/docbatch-cli-*.tgz "$app/cli.tgz"
printf '{ "name": "pack-check-app", "version": "1.0.0", "private": true }\n' >"$app/package.json"
(cd "$app" && npm install --offline --no-audit --no-fund --silent ./sdk.tgz ./cli.tgz) ||
  fail "npm install ./sdk.tgz ./cli.tgz (offline) failed in an empty project"
installed=$(cd "$app/node_modules" && find . -mindepth 1 -maxdepth 2 -name package.json -prune -o -mindepth 1 -maxdepth 2 -type d -print |
  sed 's#^\./##' | grep -v '^\.bin$' | grep -v '^@docbatch$' | sort | tr '\n' ' ')
[ "$installed" = "@docbatch/cli @docbatch/sdk " ] || fail "the scratch project's node_modules holds more than the two packages: $installed"
say "installed offline into an empty project: $installed"

# 4. A live server from this repository, a key from its CLI.
npm run --silent build
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
base=http://127.0.0.1:$port
DATABASE_URL="${db_base%/*}/$db_name" QUEUE_PREFIX=pack-check-$$ PORT=$port HOST=127.0.0.1 LOG_LEVEL=info \
  WORKER_TASKS=classification node dist/main.js >"$log" 2>&1 &
server=$!
for _ in $(seq 1 180); do
  curl -sf "$base/readyz" >/dev/null && grep -q '"worker started"' "$log" && break
  kill -0 "$server" 2>/dev/null || fail "the server exited"
  sleep 1
done
curl -sf "$base/readyz" >/dev/null && grep -q '"worker started"' "$log" || fail "the server was not ready after 180 s"
key=$(DATABASE_URL="${db_base%/*}/$db_name" node bin/docbatch.js keys create --tenant pack-check --json |
  node -pe 'JSON.parse(require("fs").readFileSync(0)).api_key') || fail "could not create an API key"
say "server up at $base"

# 5. Everything below runs in the scratch project, with no path into the repository.
cd "$app"
head -n 12 "$ROOT/examples/spam-sample.ndjson" >emails.ndjson
export DOCBATCH_URL=$base DOCBATCH_API_KEY=$key NODE_PATH=

cat >checks.cjs <<'EOF'
// The SDK checks, given the SDK module as the caller loaded it (import or require).
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

module.exports = async function checks(sdk, how, entry) {
  const { DocBatchClient, DocBatchError, NotFoundError, SDK_VERSION } = sdk;
  const here = fs.realpathSync(__dirname);
  assert.ok(fs.realpathSync(entry).startsWith(here + path.sep), `${how}: @docbatch/sdk resolved outside the project: ${entry}`);
  const pkg = JSON.parse(fs.readFileSync(path.join(here, 'node_modules/@docbatch/sdk/package.json'), 'utf8'));
  assert.equal(SDK_VERSION, pkg.version, `${how}: SDK_VERSION is not the package's version`);
  const client = new DocBatchClient();
  const texts = [
    'Congratulations! You won a free cruise. Click here now to claim your prize!!!',
    'Hi team, the meeting moved to Thursday at 10am. Agenda attached.',
    'Cheap meds online, no prescription needed, limited offer, buy now',
    'Can you review my pull request before the release tomorrow?',
  ];
  const docs = texts.map((text, i) => ({ id: `${how}-${i + 1}`, text }));
  const created = await client.createBatch({ task: 'classification', documents: docs, metadata: { via: how } });
  const done = await client.waitForBatch(created.id, { minIntervalMs: 250, maxIntervalMs: 1000, timeoutMs: 120000 });
  assert.equal(done.status, 'completed', `${how}: batch ${created.id} ended ${done.status}`);
  assert.deepEqual(
    { total: done.counts.total, completed: done.counts.completed, failed: done.counts.failed },
    { total: docs.length, completed: docs.length, failed: 0 },
    `${how}: counts`,
  );
  const results = [];
  for await (const r of client.results(created.id)) results.push(r);
  assert.deepEqual(results.map((r) => r.id), docs.map((d) => d.id), `${how}: result ids`);
  for (const r of results) {
    assert.equal(r.status, 'completed');
    assert.equal(typeof r.result.label, 'string', `${how}: ${r.id} has no label`);
  }
  await assert.rejects(client.getBatch('bat_doesnotexist'), (err) => {
    assert.ok(err instanceof NotFoundError && err instanceof DocBatchError, `${how}: not a NotFoundError: ${err}`);
    assert.equal(err.code, 'NOT_FOUND');
    return true;
  });
  console.log(`pack-check: SDK from ${how} (${path.relative(here, entry)}): batch ${created.id} ${done.status} ` +
    `${done.counts.completed}/${done.counts.total}, ${results.length} results: ${results.map((r) => r.result.label).join(' ')}`);
};
EOF
cat >esm.mjs <<'EOF'
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as sdk from '@docbatch/sdk';
import { DocBatchClient, DocBatchError } from '@docbatch/sdk';

const require = createRequire(import.meta.url);
const entry = fileURLToPath(import.meta.resolve('@docbatch/sdk'));
if (!entry.endsWith('index.mjs')) throw new Error(`import resolved to ${entry}, not the ES module entry`);
if (typeof DocBatchClient !== 'function') throw new Error('no named export DocBatchClient');
// One implementation behind both entries: an error class is the same class either way.
if (require('@docbatch/sdk').DocBatchError !== DocBatchError) throw new Error('import and require give two DocBatchError classes');
await require('./checks.cjs')(sdk, 'esm', entry);
EOF
cat >cjs.cjs <<'EOF'
const sdk = require('@docbatch/sdk');
const entry = require.resolve('@docbatch/sdk');
if (!entry.endsWith('index.js')) throw new Error(`require resolved to ${entry}, not the CommonJS entry`);
require('./checks.cjs')(sdk, 'cjs', entry).catch((err) => {
  console.error(err);
  process.exit(1);
});
EOF
# The types as TypeScript sees them from an ES module and from CommonJS (node16 resolution: the
# exports map's import -> index.d.mts, require -> index.d.ts); only tsc and @types/node come from
# the repository, @docbatch/sdk resolves in the scratch project.
cat >types.mts <<'EOF'
import { DocBatchClient, NotFoundError, SDK_VERSION } from '@docbatch/sdk';
import type { Batch, ClassificationResult, ResultLine, Task } from '@docbatch/sdk';
const client = new DocBatchClient({ apiKey: 'dbk_x' });
const task: Task = 'classification';
export const created: Promise<Batch> = client.createBatch({ task, documents: [{ id: '1', text: 'x' }] });
export const label = (r: ResultLine<ClassificationResult>): string | undefined => r.result?.label;
export const version: string = SDK_VERSION;
export const isNotFound = (e: unknown): boolean => e instanceof NotFoundError;
EOF
cat >types.cts <<'EOF'
import sdk = require('@docbatch/sdk');
const client = new sdk.DocBatchClient({ apiKey: 'dbk_x' });
const batch: Promise<sdk.Batch> = client.getBatch('bat_x');
export = batch;
EOF
node "$ROOT/node_modules/typescript/bin/tsc" --noEmit --strict --target es2022 --module nodenext \
  --moduleResolution nodenext --types node --typeRoots "$ROOT/node_modules/@types" --explainFiles \
  types.mts types.cts >tsc.out 2>&1 || {
  grep -i 'error' tsc.out >&2 || tail -n 20 tsc.out >&2
  fail "the SDK's types do not check from an .mts and a .cts file"
}
for f in index.d.mts index.d.ts; do
  grep -q "^node_modules/@docbatch/sdk/dist/$f" tsc.out || fail "tsc did not use node_modules/@docbatch/sdk/dist/$f"
done
say "types: tsc (node16 resolution) checks an .mts user (dist/index.d.mts) and a .cts user (dist/index.d.ts)"

node esm.mjs || fail "the SDK from an ES module (esm.mjs) failed"
node cjs.cjs || fail "the SDK from CommonJS (cjs.cjs) failed"

# npm_config_offline: npx runs the installed bin or fails; it never fetches a docbatch from a registry.
cli_version=$(node -p 'require("./node_modules/@docbatch/cli/package.json").version')
got=$(npm_config_offline=true npx docbatch --version) || fail "npx docbatch --version failed"
[ "$got" = "$cli_version" ] || fail "npx docbatch --version printed '$got', the package is $cli_version"
say "npx docbatch --version: $got"

rc=0
npm_config_offline=true npx docbatch submit emails.ndjson --task classification --wait --out results.ndjson >submit.out 2>submit.err || rc=$?
[ "$rc" = 0 ] || {
  cat submit.err >&2
  fail "npx docbatch submit --wait exited $rc"
}
batch=$(cat submit.out)
[[ $batch =~ ^bat_ ]] || fail "submit printed '$batch', not a batch id"
node -e '
  const fs = require("fs");
  const ids = (f) => fs.readFileSync(f, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const input = ids("emails.ndjson"), out = ids("results.ndjson");
  if (out.length !== input.length) throw new Error(`${out.length} results for ${input.length} documents`);
  out.forEach((r, i) => {
    if (r.id !== input[i].id || r.status !== "completed" || typeof r.result?.label !== "string")
      throw new Error(`result ${i + 1}: ${JSON.stringify(r).slice(0, 200)}`);
  });' || fail "the results of npx docbatch submit --wait --out are not one completed result per document"
say "npx docbatch submit emails.ndjson --wait --out: batch $batch, $(wc -l <results.ndjson) results"
say "passed"
