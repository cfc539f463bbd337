#!/usr/bin/env bash
# Trains (or continues) en-es-translator@2: the fixed architecture and hyper-parameters of the run started
# in issue 14, resumable across sessions. See scripts/models/translation/README.md.
#
#   scripts/models/translation/train-v2.sh [--resume CHECKPOINT] [extra train.py arguments, e.g. --minutes 100]
#
# Without --resume it continues from tmp/en-es-v2/last.pt when that exists (same machine, exact), else from the
# committed compact checkpoint scripts/models/translation/v2/checkpoint.pt, else starts from scratch. It writes
# tmp/en-es-v2/last.pt and scripts/models/translation/v2/checkpoint.pt every 15 minutes and on SIGTERM/SIGINT,
# and appends dev loss / dev BLEU lines to scripts/models/translation/v2/training-log.jsonl.
# Run it in the background at low priority: `setsid nohup nice -n 10 scripts/models/translation/train-v2.sh > tmp/en-es-v2/train.out 2>&1 &`
set -euo pipefail
cd "$(dirname "$0")/../../.."
mkdir -p tmp/en-es-v2
resume=()
if [[ " $* " != *" --resume "* ]]; then
  if [[ -f tmp/en-es-v2/last.pt ]]; then resume=(--resume tmp/en-es-v2/last.pt)
  elif [[ -f scripts/models/translation/v2/checkpoint.pt ]]; then resume=(--resume scripts/models/translation/v2/checkpoint.pt)
  fi
fi
exec scripts/models/translation/train.sh --corpus tmp/translation-corpus-v2f --model-dir scripts/models/translation/v2 \
  --schedule inverse-sqrt --d-model 256 --heads 4 --ff 768 --enc-layers 4 --dec-layers 1 --embedding-dim 128 \
  --dropout 0.05 --label-smoothing 0.1 --batch-tokens 6000 --lr 1.5e-3 --warmup 400 --max-len 96 \
  --eval-every 300 --bleu-sentences 100 --minutes 100000 --threads 1 --no-export \
  --checkpoint tmp/en-es-v2/last.pt --compact-checkpoint scripts/models/translation/v2/checkpoint.pt --checkpoint-minutes 15 \
  --log scripts/models/translation/v2/training-log.jsonl "${resume[@]}" "$@"
