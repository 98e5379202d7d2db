#!/usr/bin/env bash
# Train (or resume) the shipped QAGen adapter, evaluate it on the held-out SQuAD v1.1 dev set, and
# optionally install it as package data. Documented in docs/qagen.md.
#
#   reproduce/train_qagen_default.sh [smollm2|gemma3]
#
# Environment (defaults in brackets):
#   QA_DATA        directory with the SQuAD-format files [../shared/data/qa]
#   MAX_EXAMPLES   seeded training subset size [2000]
#   SEED           seed of subset, split, order and init [13]
#   OUT            output directory [runs/qagen-<backbone>-<MAX_EXAMPLES>-s<SEED>]
#   EVAL_PASSAGES  dev passages for the generation numbers [20]
#   MAX_CONTEXT_TOKENS  passage tokens kept around the answer [384]: QUALS reads summaries of
#                  under 100 tokens; 45 of the 2000 sampled passages are longer and get cut
#   LORA_R, LORA_ALPHA  LoRA rank and scale [8, 16]: r=8 on all 7 projections is 4.9 MB in float16
#   BATCH_SIZE, GRAD_ACCUM  examples per forward pass and passes per step [8, 1]; 4 and 2 make the
#                  8-example steps in less memory (Gemma's 262k-token vocabulary makes its
#                  logits 5x SmolLM2's), though length grouping then orders the examples differently
#   INSTALL=1      copy the trained adapter into src/quals/models/adapters/<backbone>-*-qagen/
#
# Re-running the same command resumes from the last checkpoint (every 25 steps).
# Measured on the 2-core CPU (one thread, SmolLM2): about 12 s per step of 8 examples on average
# (the first, longest batches take up to 30 s), so 2000 examples take about 50 minutes and a
# two-hour run fits about 5000; the process holds about 12 GB (fp32 activations, no gradient
# checkpointing).
set -euo pipefail

BACKBONE=${1:-smollm2}
case "$BACKBONE" in
  smollm2) MODEL=packaged:smollm2-135m-instruct; NAME=smollm2-135m-qagen ;;
  gemma3)  MODEL=packaged:gemma3-270m;           NAME=gemma3-270m-qagen ;;
  *) echo "backbone must be smollm2 or gemma3, got $BACKBONE" >&2; exit 2 ;;
esac
QA_DATA=${QA_DATA:-../shared/data/qa}
MAX_EXAMPLES=${MAX_EXAMPLES:-2000}
SEED=${SEED:-13}
OUT=${OUT:-runs/qagen-$BACKBONE-$MAX_EXAMPLES-s$SEED}
EVAL_PASSAGES=${EVAL_PASSAGES:-20}
QUALS=${QUALS:-.venv/bin/quals}

# Train on the Du et al. split of SQuAD train + SQuAD-shifts (39,503 questions); the official
# dev set is held out (evaluation loss here, eval-qagen below).
if [ ! -f "$OUT/quals_qagen.json" ]; then
  "$QUALS" -v train-qagen \
    "$QA_DATA/squad-v1.1-train-du-split.json.gz" \
    "$QA_DATA/squadshifts-new_wiki.json.gz" \
    "$QA_DATA/squadshifts-reddit.json.gz" \
    "$QA_DATA/squadshifts-amazon_reviews.json.gz" \
    --heldout "$QA_DATA/squad-v1.1-dev.json.gz" \
    -o "$OUT" --model "$MODEL" --lora \
    --lora-r "${LORA_R:-8}" --lora-alpha "${LORA_ALPHA:-16}" --lora-dropout 0.05 --lora-target-modules all-linear \
    --max-examples "$MAX_EXAMPLES" --seed "$SEED" --max-context-tokens "${MAX_CONTEXT_TOKENS:-384}" \
    --num-train-epochs 1 --batch-size "${BATCH_SIZE:-8}" --gradient-accumulation-steps "${GRAD_ACCUM:-1}" --learning-rate 2e-4 \
    --eval-size 100 --eval-steps 50 --save-steps 25 --logging-steps 5 \
    --adapter-dtype float16
fi

"$QUALS" -v eval-qagen "$QA_DATA/squad-v1.1-dev.json.gz" --model "$OUT" -o "$OUT/eval-dev.json" \
  --max-examples 500 --num-passages "$EVAL_PASSAGES" --num-groups 60 --seed "$SEED" --device cpu

if [ "${INSTALL:-0}" = 1 ]; then
  DEST=src/quals/models/adapters/$NAME
  mkdir -p "$DEST"
  cp "$OUT"/adapter_config.json "$OUT"/adapter_model.safetensors "$OUT"/quals_format.json \
     "$OUT"/quals_qagen.json "$DEST"/
  echo "installed $DEST (packaged:$NAME)" >&2
fi
