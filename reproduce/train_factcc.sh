#!/usr/bin/env bash
# Train (or resume) the FactCC-style classifier that `--metric factcc` uses by default, and
# optionally install it as package data (packaged:minilm-l6-factcc). Documented in docs/factcc.md.
#
#   reproduce/train_factcc.sh
#
# Environment (defaults in brackets):
#   DATA_DIR      claims built by reproduce/factcc_data.sh [runs/factcc-data]; built first if missing
#   OUT           output directory [runs/factcc-minilm-l6-s13]
#   MAX_EXAMPLES  seeded subset of the training claims [20000]
#   MAX_EVAL      seeded subset of the held-out claims [2000]
#   MAX_LENGTH    tokens per (chunk, claim) input, scoring uses the same [256]
#   SEED          seed of subsets, order and initialisation [13]
#   LORA=0        fine-tune every weight instead of a LoRA adapter and the head [1]
#   LR, WARMUP    peak learning rate and warm-up steps [2e-4 with LoRA, 5e-5 without; 0]
#   LORA_R        LoRA rank, alpha twice it [8]
#   SAVE_MODULES  modules trained in full beside the adapter and head, e.g. pooler [none]
#   NLI_EXAMPLES  a first stage on this many NLI pairs ($DATA_DIR/nli_*.jsonl.gz) in $OUT.nli, which the
#                 claims stage then continues [0: none]
#   NLI_LR        the first stage's learning rate [LR]
#   NLI_FLAGS     further train-factcc flags of the first stage only, e.g. "--eval-steps 100" [none]
#   EVAL_STEPS    held-out accuracy every this many steps [200]
#   INSTALL=1     copy the trained adapter into src/quals/models/adapters/minilm-l6-factcc/
#
# Re-running the same command resumes from the last checkpoint (every 50 steps).
# Cost on the 2-core CPU, one thread, the other core training: 2 steps of 8 claims at 256 tokens
# took 6.5 s (about 0.4 s a claim; 17 s per step of 16 with test suites also running), so the
# default 20,000 claims (1,250 steps of 16) are about 2 to 4 hours. At MAX_LENGTH=128 with LORA=0,
# 1,000 steps of 16 took 32 minutes (docs/factcc.md: the run that first learnt).
set -euo pipefail

DATA_DIR=${DATA_DIR:-runs/factcc-data}
OUT=${OUT:-runs/factcc-minilm-l6-s13}
QUALS=${QUALS:-.venv/bin/quals}
NLI_FLAGS=${NLI_FLAGS:-}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

if [ ! -f "$DATA_DIR/train.jsonl.gz" ] || [ ! -f "$DATA_DIR/dev.jsonl.gz" ]; then
  reproduce/factcc_data.sh "$DATA_DIR"
fi
if [ "${LORA:-1}" = 0 ]; then TUNE=(--no-lora --learning-rate "${LR:-5e-5}"); else TUNE=(--learning-rate "${LR:-2e-4}"); fi
if [ "${LORA:-1}" = 1 ]; then
  TUNE+=(--lora-r "${LORA_R:-8}" --lora-alpha "$((2 * ${LORA_R:-8}))")
  if [ -n "${SAVE_MODULES:-}" ]; then TUNE+=(--lora-modules-to-save "$SAVE_MODULES"); fi
fi
START=packaged:minilm-l6
# shellcheck disable=SC2086  # NLI_FLAGS: several flags
if [ "${NLI_EXAMPLES:-0}" -gt 0 ]; then  # first stage: NLI pairs; the claims stage continues it
  "$QUALS" -v train-factcc "$DATA_DIR/nli_train.jsonl.gz" --eval-file "$DATA_DIR/nli_dev.jsonl.gz" -o "$OUT.nli" \
    --model "$START" --max-examples "$NLI_EXAMPLES" --max-eval-examples "${MAX_EVAL:-2000}" \
    --max-length "${MAX_LENGTH:-256}" --seed "${SEED:-13}" --batch-size 16 --num-train-epochs 1 \
    "${TUNE[@]}" --learning-rate "${NLI_LR:-${LR:-2e-4}}" --warmup-steps "${WARMUP:-0}" --eval-steps "${EVAL_STEPS:-200}" \
    $NLI_FLAGS
  START=$OUT.nli
fi
"$QUALS" -v train-factcc "$DATA_DIR/train.jsonl.gz" --eval-file "$DATA_DIR/dev.jsonl.gz" -o "$OUT" \
  --model "$START" --max-examples "${MAX_EXAMPLES:-20000}" --max-eval-examples "${MAX_EVAL:-2000}" \
  --max-length "${MAX_LENGTH:-256}" --seed "${SEED:-13}" --batch-size 16 --num-train-epochs 1 \
  "${TUNE[@]}" --warmup-steps "${WARMUP:-0}" --eval-steps "${EVAL_STEPS:-200}"

if [ "${INSTALL:-0}" = 1 ]; then
  DEST=src/quals/models/adapters/minilm-l6-factcc
  mkdir -p "$DEST"
  cp "$OUT"/adapter_config.json "$OUT"/adapter_model.safetensors "$OUT"/quals_classifier.json "$DEST"/
  echo "installed $DEST (packaged:minilm-l6-factcc)" >&2
fi
