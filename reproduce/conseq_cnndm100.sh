#!/usr/bin/env bash
# ConSeq on the 100 CNN/DM training articles of ../shared/data with the packaged SmolLM2-135M
# (LoRA): MLE, then ConSeq-QUALS and ConSeq-ROUGE, evaluated on held-out articles.
# Documented in docs/conseq.md.
#
#   reproduce/conseq_cnndm100.sh [WORK_DIR]
#
# Every stage resumes when the script runs again (and a finished stage returns at once), so an
# interrupted run is continued by re-running the same command.
#
# Environment (defaults in brackets):
#   DATA          training articles with reference highlights [../shared/data/train/cnndm_train_sample100.jsonl]
#   N_TEST        held-out articles, a seeded split [20]; the rest train
#   N_TRAIN       training articles used (0 = all the rest) [0]
#   SEED          seed of split, training, sampling and bootstrap [0]
#   BASE          summarizer base model [packaged:smollm2-135m-instruct]
#   QAGEN         QAGen for QUALS in selection and evaluation [packaged:smollm2-135m-qagen, the
#                 shipped adapter]
#   QUALS_FLAGS   extra QUALS settings [none: the defaults, 10 groups and the span constraint]
#   SELECT_FLAGS  extra selection settings (default: the paper's 30% / 30%)
#   METRICS       evaluation metrics [rouge,entities,quals]; add qags for the slow QAGS column
#   QUALS_BIN     the quals command [.venv/bin/quals]
set -euo pipefail

WORK=${1:-${TMPDIR:-/tmp}/quals-conseq-cnndm100}
DATA=${DATA:-../shared/data/train/cnndm_train_sample100.jsonl}
N_TEST=${N_TEST:-20}
N_TRAIN=${N_TRAIN:-0}
SEED=${SEED:-0}
BASE=${BASE:-packaged:smollm2-135m-instruct}
QAGEN=${QAGEN:-packaged:smollm2-135m-qagen}
QUALS_FLAGS=${QUALS_FLAGS:-}
SELECT_FLAGS=${SELECT_FLAGS:-}
METRICS=${METRICS:-rouge,entities,quals}
QUALS_BIN=${QUALS_BIN:-.venv/bin/quals}
PYTHON=${PYTHON:-.venv/bin/python}
Q() { echo "+ quals $*" >&2; local start=$SECONDS; "$QUALS_BIN" "$@"; echo "  [$((SECONDS - start)) s]" >&2; }

mkdir -p "$WORK"

# 0. Seeded split into train / held-out test, written to WORK (never into the repository).
"$PYTHON" - "$DATA" "$WORK" "$N_TEST" "$N_TRAIN" "$SEED" <<'EOF'
import json, sys
from pathlib import Path
import numpy as np
data, work, n_test, n_train, seed = Path(sys.argv[1]), Path(sys.argv[2]), *map(int, sys.argv[3:])
rows = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
order = np.random.default_rng(seed).permutation(len(rows)).tolist()
test, train = sorted(order[:n_test]), sorted(order[n_test:])
train = train[:n_train] if n_train else train
for name, idx in (("test", test), ("train", train)):
    text = "".join(json.dumps(rows[i]) + "\n" for i in idx)
    path = work / f"{name}.jsonl"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
print(f"{len(train)} train / {len(test)} held-out articles in {work}", file=sys.stderr)
EOF

# 1. MLE baseline: LoRA r=16 on all linear projections; label smoothing 0.1 (paper). LoRA takes a
#    larger learning rate than the paper's full fine-tuning (3e-5): 2e-4.
Q train-summarizer "$WORK/train.jsonl" -o "$WORK/mle" --model "$BASE" --lora \
  --learning-rate 2e-4 --num-train-epochs 3 --batch-size 4 --gradient-accumulation-steps 2 \
  --max-source-tokens 512 --max-summary-tokens 128 --eval-fraction 0.1 --save-steps 10 --logging-steps 5 \
  --seed "$SEED" --no-progress

# 2. Candidates: 6 samples per training article, top-k 50 (paper); lengths of CNN/DM highlights
#    (the paper's 60/10 are XSum's).
Q conseq candidates "$WORK/train.jsonl" -o "$WORK/candidates.jsonl" --model "$WORK/mle" \
  --num-candidates 6 --top-k 50 --max-new-tokens 140 --min-new-tokens 55 --seed "$SEED" \
  --batch-size 4 --chunk-size 4 --no-progress

# 3. Selection: QUALS (ConSeq) and ROUGE (the ConSeq-ROUGE baseline).
# shellcheck disable=SC2086
Q conseq select "$WORK/candidates.jsonl" -o "$WORK/triples-quals.jsonl" --by quals --model "$QAGEN" \
  --chunk-size 7 --no-progress $QUALS_FLAGS $SELECT_FLAGS
# shellcheck disable=SC2086
Q conseq select "$WORK/candidates.jsonl" -o "$WORK/triples-rouge.jsonl" --by rouge --no-progress $SELECT_FLAGS

# 4. ConSeq training from the MLE adapter (trained further). Paper: lr 3e-6, 2 epochs, no warm-up,
#    weight decay 0.01, clip 0.1, label smoothing 0.1; LoRA: 10x the learning rate, as for MLE.
for BY in quals rouge; do
  Q conseq train "$WORK/triples-$BY.jsonl" -o "$WORK/conseq-$BY" --model "$WORK/mle" \
    --learning-rate 2e-5 --num-train-epochs 2 --batch-size 2 --save-steps 10 --logging-steps 1 \
    --seed "$SEED" --no-progress
done

# 5. Test summaries, the paper's CNN/DM decoding (beam 4, max 140, min 55).
for SYSTEM in mle conseq-rouge conseq-quals; do
  Q summarize "$WORK/test.jsonl" -o "$WORK/summaries/$SYSTEM.jsonl" --model "$WORK/$SYSTEM" --preset cnndm \
    --batch-size 4 --chunk-size 4 --no-progress
done

# 6. Evaluation against documents and references, paired bootstrap against MLE.
# shellcheck disable=SC2086
Q evaluate-summaries "$WORK/summaries/mle.jsonl" "$WORK/summaries/conseq-rouge.jsonl" \
  "$WORK/summaries/conseq-quals.jsonl" --test "$WORK/test.jsonl" -o "$WORK/eval" --metrics "$METRICS" \
  --model "$QAGEN" --bootstrap-seed "$SEED" --no-progress $QUALS_FLAGS
echo "table: $WORK/eval/table.md" >&2
