#!/usr/bin/env bash
# FactCC-style synthetic training data (Kryscinski et al., EMNLP 2020; issue 18, item 1): claims
# from CNN/DM training articles (train) and validation articles (dev), made by
# src/quals/training/factcc/claims.py. Never reads ../shared/data/bench/.
#
#   reproduce/factcc_data.sh [OUT_DIR]
#
# Writes OUT_DIR/train.jsonl.gz and OUT_DIR/dev.jsonl.gz, each with a .stats.json of counts
# (claims per transformation, eligible sentences each applies to, documents where it applies to
# none). An interrupted build continues from its last finished document when run again; a finished
# one returns at once.
#
# Cost, measured on this project's 2-core CPU (one thread, nice 10, next to a training job):
# spaCy en_core_web_sm parsing dominates; 200 training documents (142,532 tokens) took 30 s at
# 6.6 documents/s (about 4,500 tokens/s), 50 dev documents 9 s at 5.4/s, the whole script with
# N_TRAIN=200 N_DEV=50 46 s wall. So the defaults (10,000 + 1,000 documents) take about 30
# minutes and all 38,588 training articles about 1 h 40 min. With the default settings a
# document gives about 6.5 claims (2 positives, 2 negatives, their noisy copies), about 0.3 KB
# each gzipped (every record carries its document; gzip absorbs the repeats): 200 documents,
# 1,310 claims, 380 KB.
#
# Environment (defaults in brackets):
#   N_TRAIN   training documents, the first N of cnndm_train (0 = all 38,588) [10000]
#   N_DEV     dev documents, the first N of cnndm_val (0 = all 4,368) [1000]
#   SEED      seed; each document's stream is derived from (SEED, document id) [0]
#   FLAGS     extra settings of ClaimConfig, e.g. "--claims-per-document 3 --no-noisy-copies" [none]
#   DATA      data directory [../shared/data/train]
#   NLI       NLI pool split into nli_train/nli_dev.jsonl.gz [$DATA/../nli/nli_pool.jsonl.gz]
#   QUALS     the quals command [.venv/bin/quals]
set -euo pipefail

OUT=${1:-${TMPDIR:-/tmp}/quals-factcc-data}
N_TRAIN=${N_TRAIN:-10000}
N_DEV=${N_DEV:-1000}
SEED=${SEED:-0}
FLAGS=${FLAGS:-}
DATA=${DATA:-../shared/data/train}
QUALS=${QUALS:-.venv/bin/quals}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

limit() { if [ "$1" -gt 0 ]; then echo "--limit $1"; fi; }

mkdir -p "$OUT"
# shellcheck disable=SC2046,SC2086
"$QUALS" factcc-claims "$DATA/cnndm_train.jsonl.gz" -o "$OUT/train.jsonl.gz" \
    $(limit "$N_TRAIN") --seed "$SEED" $FLAGS
# shellcheck disable=SC2046,SC2086
"$QUALS" factcc-claims "$DATA/cnndm_val.jsonl.gz" -o "$OUT/dev.jsonl.gz" \
    $(limit "$N_DEV") --seed "$SEED" $FLAGS
# NLI pairs for an optional first training stage (reproduce/train_factcc.sh NLI_EXAMPLES): held-out
# pairs chosen by a hash of their id (reproduce/nli_split.py), a few seconds.
if [ ! -f "$OUT/nli_dev.jsonl.gz" ]; then
  "${PYTHON:-.venv/bin/python}" reproduce/nli_split.py "${NLI:-$DATA/../nli/nli_pool.jsonl.gz}" "$OUT" >&2
fi
echo "claims in $OUT: train.jsonl.gz, dev.jsonl.gz (counts in *.stats.json), nli_train.jsonl.gz, nli_dev.jsonl.gz" >&2
