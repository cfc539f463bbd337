#!/usr/bin/env bash
# One end-to-end batch per bundled model through the HTTP API on the native backend, as a user runs
# it: `TF_BACKEND=tensorflow node dist/main.js` (API and one worker, after `npm run build`) on a
# scratch database and queue prefix, a key from the CLI, batches submitted with curl, their results
# read back; GET /v1/models must report `tensorflow` for every model, and the start log must say
# where the native backend came from. Exit 0 when all of that holds.
set -euo pipefail
cd "$(dirname "$0")/.."

port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
db_base=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/docbatch}
db="${db_base%/*}/docbatch_native_e2e_$$"
export DATABASE_URL=$db QUEUE_PREFIX=native-e2e-$$ PORT=$port HOST=127.0.0.1 TF_BACKEND=tensorflow LOG_LEVEL=info
log=$(mktemp)
base=http://127.0.0.1:$port

node dist/main.js >"$log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  psql "${db_base%/*}/postgres" -qc "DROP DATABASE IF EXISTS docbatch_native_e2e_$$ WITH (FORCE)" >/dev/null 2>&1 || true
  rm -f "$log"
}
trap cleanup EXIT
fail() { echo "native e2e: $*"; tail -n 20 "$log"; exit 1; }

for _ in $(seq 1 120); do
  curl -sf "$base/readyz" >/dev/null && grep -q '"worker started"' "$log" && break
  kill -0 "$server" 2>/dev/null || fail "the server exited"
  sleep 1
done
curl -sf "$base/readyz" >/dev/null || fail "not ready after 120 s"
grep -o '"backendDetail":"[^"]*"' "$log" | head -n 1
grep -q '"backendDetail":"tensorflow (native CPU, from .native/node_modules/@tensorflow/tfjs-node' "$log" ||
  fail "the worker did not start on the native backend from .native/"
! grep -q 'install our node backend' "$log" || fail "the tfjs 'install our node backend' banner reached the log"

key=$(node bin/docbatch.js keys create --tenant native-e2e --json | node -pe 'JSON.parse(require("fs").readFileSync(0)).api_key')
auth=(-H "Authorization: Bearer $key")

submit() { # task file content-type -> batch id
  curl -sf "${auth[@]}" -H "Content-Type: $3" --data-binary @"$2" "$base/v1/batches?task=$1" |
    node -pe 'JSON.parse(require("fs").readFileSync(0)).id'
}
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
node -e '
  const fs = require("fs");
  const docs = (texts) => texts.map((text, i) => JSON.stringify({ id: "d" + (i + 1), text })).join("\n") + "\n";
  fs.writeFileSync(process.argv[1] + "/summarization.ndjson", docs([
    "The council met on Tuesday. It debated the transit budget. Members asked for more buses. The vote passed. Rain fell all day.",
    "The company reported higher sales. Profits rose by ten percent. The chief executive thanked the staff. Shares climbed.",
  ]));
  fs.writeFileSync(process.argv[1] + "/translation.ndjson", docs([
    "The meeting moved to Thursday.", "Thank you for your letter.", "The President spoke to Congress about the economy.",
  ]));' "$tmp"

declare -A batches
batches[classification]=$(submit classification examples/spam-sample.ndjson application/x-ndjson)
batches[summarization]=$(submit summarization "$tmp/summarization.ndjson" application/x-ndjson)
batches[translation]=$(submit translation "$tmp/translation.ndjson" application/x-ndjson)

for task in classification summarization translation; do
  id=${batches[$task]}
  status=
  for _ in $(seq 1 300); do
    status=$(curl -sf "${auth[@]}" "$base/v1/batches/$id" | node -pe '
      const b = JSON.parse(require("fs").readFileSync(0));
      `${b.status} ${b.counts.completed}/${b.counts.total} ${b.model}`')
    [[ $status == completed* || $status == failed* || $status == cancelled* ]] && break
    sleep 1
  done
  echo "native e2e: $task batch $id: $status"
  [[ $status =~ ^completed\ ([0-9]+)/([0-9]+) ]] && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] ||
    fail "$task batch did not complete every document"
  first=$(curl -sf "${auth[@]}" "$base/v1/batches/$id/results?limit=1")
  echo "${first:0:200}"
done

models=$(curl -sf "${auth[@]}" "$base/v1/models")
echo "$models" | node -e '
  const m = JSON.parse(require("fs").readFileSync(0)).data;
  for (const x of m) console.log(`native e2e: GET /v1/models: ${x.id} ${x.task} backend=${x.backend}`);
  if (!m.length || m.some((x) => x.backend !== "tensorflow")) process.exit(1);' ||
  fail "GET /v1/models does not report tensorflow for every model"
echo "native e2e: passed"
