#!/usr/bin/env bash
# Trains models/en-es-translator/1 from tmp/translation-corpus (see card.md).
# System packages: apt-get install -y python3-torch libopenblas0-pthread libjemalloc2
# jemalloc with page retention avoids the page-fault cost of glibc's mmap'd large tensors (~3x on
# elementwise ops); one intra-op thread and one BLAS thread are fastest on a shared 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
export MALLOC_CONF="dirty_decay_ms:-1,muzzy_decay_ms:-1"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
exec /usr/bin/python3 scripts/models/translation/train.py "$@"
