#!/usr/bin/env bash
# The 100-article ConSeq run of docs/conseq.md: reproduce/conseq_cnndm.sh with its defaults (80
# training / 20 held-out articles of ../shared/data/train/cnndm_train_sample100.jsonl, seed 0).
#
#   reproduce/conseq_cnndm100.sh [WORK_DIR]
set -euo pipefail
exec "$(dirname "$0")/conseq_cnndm.sh" "${1:-${TMPDIR:-/tmp}/quals-conseq-cnndm100}"
