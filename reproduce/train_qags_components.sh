#!/usr/bin/env bash
# Train (or resume) QAGS's two trained components on the packaged SmolLM2, as LoRA adapters, with
# the QAGen machinery (quals train-qagen --task qg|qa; issue 19), evaluate the answerer on the
# held-out SQuAD v1.1 dev set, and optionally install both as package data. Documented in docs/qags.md.
#
#   reproduce/train_qags_components.sh [qg|qa|both]
#
#   qg: (passage, answer) -> question, the QAGS paper's answer-conditional QG (BART on NewsQA there),
#       in the same chat prompt that prompted QAGS uses, so QAGS reads it back from the adapter.
#   qa: (passage, question) -> answer, generative: the QAGen layout with the question forced and the
#       loss on the answer only; QAGS decodes it greedily. eval-qa reports SQuAD EM/F1 on dev.
#
# Environment (defaults in brackets):
#   QA_DATA        directory with the SQuAD-format files [../shared/data/qa]
#   MAX_EXAMPLES   seeded training subset size [2000]
#   SEED           seed of subset, order and init [13]
#   OUT_ROOT       runs go to OUT_ROOT/qags-<task>-smollm2-<MAX_EXAMPLES>-s<SEED> [runs]
#   MAX_CONTEXT_TOKENS  passage tokens kept around the answer [384]
#   EVAL_QUESTIONS dev questions for EM/F1 [500, the number docs/qags.md reports]
#   INSTALL=1      copy the trained adapters into src/quals/models/adapters/smollm2-135m-qags-{qg,qa}/
#
# Re-running the same command resumes from the last checkpoint (every 25 steps) and skips finished
# runs. Cost: about the QAGen's (reproduce/train_qagen_default.sh: about 12 s per step of 8 on one
# core), so 2000 examples are about 50 minutes per task on this CPU; see docs/qags.md for measured times.
set -euo pipefail

WHICH=${1:-both}
case "$WHICH" in
  qg|qa) TASKS="$WHICH" ;;
  both)  TASKS="qg qa" ;;
  *) echo "task must be qg, qa or both, got $WHICH" >&2; exit 2 ;;
esac
QA_DATA=${QA_DATA:-../shared/data/qa}
MAX_EXAMPLES=${MAX_EXAMPLES:-2000}
SEED=${SEED:-13}
OUT_ROOT=${OUT_ROOT:-runs}
QUALS=${QUALS:-.venv/bin/quals}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

for TASK in $TASKS; do
  OUT=$OUT_ROOT/qags-$TASK-smollm2-$MAX_EXAMPLES-s$SEED
  # The Du et al. split of SQuAD train + SQuAD-shifts, as the QAGen; the official dev set is held out.
  if [ ! -f "$OUT/quals_qagen.json" ]; then
    "$QUALS" -v train-qagen \
      "$QA_DATA/squad-v1.1-train-du-split.json.gz" \
      "$QA_DATA/squadshifts-new_wiki.json.gz" \
      "$QA_DATA/squadshifts-reddit.json.gz" \
      "$QA_DATA/squadshifts-amazon_reviews.json.gz" \
      --heldout "$QA_DATA/squad-v1.1-dev.json.gz" \
      -o "$OUT" --task "$TASK" --model packaged:smollm2-135m-instruct --lora \
      --lora-r 8 --lora-alpha 16 --lora-dropout 0.05 --lora-target-modules all-linear \
      --max-examples "$MAX_EXAMPLES" --seed "$SEED" --max-context-tokens "${MAX_CONTEXT_TOKENS:-384}" \
      --num-train-epochs 1 --batch-size 8 --learning-rate 2e-4 \
      --eval-size 100 --eval-steps 50 --save-steps 25 --logging-steps 5 \
      --adapter-dtype float16
  fi
  if [ "$TASK" = qa ] && [ ! -f "$OUT/eval-dev.json" ]; then
    "$QUALS" eval-qa "$QA_DATA/squad-v1.1-dev.json.gz" --model "$OUT" -o "$OUT/eval-dev.json" \
      --num-questions "${EVAL_QUESTIONS:-500}" --seed 0 --device cpu
  fi
  if [ "${INSTALL:-0}" = 1 ]; then
    DEST=src/quals/models/adapters/smollm2-135m-qags-$TASK
    mkdir -p "$DEST"
    cp "$OUT"/adapter_config.json "$OUT"/adapter_model.safetensors "$OUT"/quals_format.json \
       "$OUT"/quals_qagen.json "$DEST"/
    echo "installed $DEST (packaged:smollm2-135m-qags-$TASK)" >&2
  fi
done
