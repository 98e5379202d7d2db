#!/usr/bin/env bash
# ConSeq on CNN/DM with the packaged SmolLM2-135M (LoRA): MLE, candidates and selection, then
# ConSeq-QUALS and ConSeq-ROUGE, evaluated on held-out articles. Documented in docs/conseq.md.
#
#   reproduce/conseq_cnndm.sh [WORK_DIR]
#
# The defaults are the 100-article run of docs/conseq.md (reproduce/conseq_cnndm100.sh runs them).
# At scale (issue 21; docs/conseq.md "At scale", the run in progress):
#   DATA=../shared/data/train/cnndm_train.jsonl.gz TEST_DATA=../shared/data/train/cnndm_test.jsonl.gz \
#   N_TRAIN=800 N_SELECT=500 N_TEST=300 EPOCHS=1 SAVE_STEPS=25 NPROC=2 OMP_NUM_THREADS=1 LORA_R=8 \
#   METRICS=rouge,rougelsum,entities,abstractiveness,quals,factcc PAPER_QUALS=1 QAGS_N=100 STUDY_N=100 \
#   STATE=docs/results/conseq-cnndm/state reproduce/conseq_cnndm.sh /work/runs/conseq-cnndm
#
# Every stage resumes when the script runs again (and a finished stage returns at once), so an
# interrupted run is continued by re-running the same command.
#
# Environment (defaults in brackets):
#   DATA          training articles with reference highlights, JSONL or .jsonl.gz
#                 [../shared/data/train/cnndm_train_sample100.jsonl]
#   TEST_DATA     held-out articles, JSONL or .jsonl.gz [none: N_TEST articles of DATA are held out]
#   N_TEST        held-out articles, a seeded subset [20]
#   N_TRAIN       training articles used, a seeded subset (0 = all the rest) [0]
#   N_SELECT      training articles that get candidates and selection (0 = all of N_TRAIN) [0]
#   EPOCHS        MLE epochs [3]
#   SAVE_STEPS    MLE and ConSeq checkpoint interval, the resume points [10]
#   NPROC         processes of the QUALS selection, one shard each (torchrun) [1]
#   SEED          seed of split, training, sampling and bootstrap [0]
#   LORA_R        LoRA rank of the MLE adapter [16]; 8 keeps it under the 5 MB a committed file may have
#   BASE          summarizer base model [packaged:smollm2-135m-instruct]
#   QAGEN         QAGen for QUALS in selection and evaluation [packaged:smollm2-135m-qagen, the
#                 shipped adapter]
#   QUALS_FLAGS   extra QUALS settings [none: the defaults, 60 groups and the span constraint]
#   SELECT_FLAGS  extra selection settings (default: the paper's 30% / 30%)
#   METRICS       evaluation metrics [rouge,entities,quals]; at scale also rougelsum, abstractiveness, factcc
#   PAPER_QUALS   1: also QUALS with --preset paper on every test article [0]
#   QAGS_N        QAGS (trained) on a seeded subset of this many test articles (0: none) [0]
#   QAGS_QG, QAGS_QA  QAGS's question generator and answerer [the trained packaged adapters]
#   STUDY_N       a human study of this many test articles, MLE vs ConSeq-QUALS (0: none) [0]
#   STUDY_OUT     the study file; it holds the summaries and only the hashes of the documents, so it
#                 can be committed (serve and export take --documents WORK/test.jsonl) [WORK/study.jsonl]
#   QUALS_BIN     the quals command [.venv/bin/quals]
#   STATE         a directory of reproduce/conseq_state.py save: restored into WORK after the split
#                 [none]. A run longer than a session: `conseq_state.py save WORK STATE`, commit
#                 STATE, and on the next machine rerun this script with STATE set.
set -euo pipefail

WORK=${1:-${TMPDIR:-/tmp}/quals-conseq-cnndm100}
DATA=${DATA:-../shared/data/train/cnndm_train_sample100.jsonl}
TEST_DATA=${TEST_DATA:-}
N_TEST=${N_TEST:-20}
N_TRAIN=${N_TRAIN:-0}
N_SELECT=${N_SELECT:-0}
EPOCHS=${EPOCHS:-3}
SAVE_STEPS=${SAVE_STEPS:-10}
NPROC=${NPROC:-1}
SEED=${SEED:-0}
LORA_R=${LORA_R:-16}
BASE=${BASE:-packaged:smollm2-135m-instruct}
QAGEN=${QAGEN:-packaged:smollm2-135m-qagen}
QUALS_FLAGS=${QUALS_FLAGS:-}
SELECT_FLAGS=${SELECT_FLAGS:-}
METRICS=${METRICS:-rouge,entities,quals}
PAPER_QUALS=${PAPER_QUALS:-0}
QAGS_N=${QAGS_N:-0}
STUDY_N=${STUDY_N:-0}
QAGS_QG=${QAGS_QG:-packaged:smollm2-135m-qags-qg}
QAGS_QA=${QAGS_QA:-packaged:smollm2-135m-qags-qa}
QUALS_BIN=${QUALS_BIN:-.venv/bin/quals}
PYTHON=${PYTHON:-.venv/bin/python}
LAUNCH=()  # a launcher in front of quals (torchrun for the sharded selection)
Q() { echo "+ ${LAUNCH[*]} quals $*" >&2; local start=$SECONDS; "${LAUNCH[@]}" "$QUALS_BIN" "$@"; echo "  [$((SECONDS - start)) s]" >&2; }

mkdir -p "$WORK"

# 0. Seeded split into train / held-out test (and the selection pool), written to WORK (never into
#    the repository). Without TEST_DATA the held-out articles come out of DATA.
"$PYTHON" - "$DATA" "$WORK" "$N_TEST" "$N_TRAIN" "$SEED" "$N_SELECT" "$TEST_DATA" <<'EOF'
import gzip, json, sys
from pathlib import Path
import numpy as np
data, work = Path(sys.argv[1]), Path(sys.argv[2])
n_test, n_train, seed, n_select = map(int, sys.argv[3:7])
test_data = Path(sys.argv[7]) if sys.argv[7] else None
def read(path):
    text = gzip.open(path, "rt", encoding="utf-8").read() if path.suffix == ".gz" else path.read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]
rows = read(data)
order = np.random.default_rng(seed).permutation(len(rows)).tolist()
if test_data is None:
    test_rows = rows
    test, train = sorted(order[:n_test]), sorted(order[n_test:])
    train = train[:n_train] if n_train else train
else:
    test_rows = read(test_data)
    train = sorted(order[:n_train]) if n_train else sorted(order)
    test = sorted(np.random.default_rng(seed).permutation(len(test_rows))[:n_test].tolist())
chosen = {"test": [test_rows[i] for i in test], "train": [rows[i] for i in train]}
chosen["pool"] = chosen["train"][:n_select] if n_select else chosen["train"]
for name, picked in chosen.items():
    text = "".join(json.dumps(row) + "\n" for row in picked)
    path = work / f"{name}.jsonl"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
print(f"{len(train)} train ({len(chosen['pool'])} in the selection pool) / {len(test)} held-out articles "
      f"in {work}", file=sys.stderr)
EOF
# Carried from an earlier session or machine: its finished models and partial outputs, then resumed.
if [ -n "${STATE:-}" ] && [ -f "$STATE/manifest.json" ]; then "$PYTHON" reproduce/conseq_state.py restore "$STATE" "$WORK"; fi

# 1. MLE baseline: LoRA r=16 on all linear projections; label smoothing 0.1 (paper). LoRA takes a
#    larger learning rate than the paper's full fine-tuning (3e-5): 2e-4. Adapters are stored in
#    float16 (10 MB), small enough to commit between sessions; every later stage loads that copy.
Q train-summarizer "$WORK/train.jsonl" -o "$WORK/mle" --model "$BASE" --lora --lora-r "$LORA_R" \
  --learning-rate 2e-4 --num-train-epochs "$EPOCHS" --batch-size 4 --gradient-accumulation-steps 2 \
  --max-source-tokens 512 --max-summary-tokens 128 --eval-fraction 0.1 --save-steps "$SAVE_STEPS" --logging-steps 5 \
  --seed "$SEED" --adapter-dtype float16 --no-progress

# 2. Candidates: 6 samples per training article, top-k 50 (paper); lengths of CNN/DM highlights
#    (the paper's 60/10 are XSum's).
Q conseq candidates "$WORK/pool.jsonl" -o "$WORK/candidates.jsonl" --model "$WORK/mle" \
  --num-candidates 6 --top-k 50 --max-new-tokens 140 --min-new-tokens 55 --seed "$SEED" \
  --batch-size 4 --chunk-size 4 --no-progress

# 3. Selection: QUALS (ConSeq) and ROUGE (the ConSeq-ROUGE baseline). NPROC > 1: one shard per
#    process, merged in input order by the first (the same file one process writes).
if [ "$NPROC" -gt 1 ]; then LAUNCH=("$PYTHON" -m torch.distributed.run --standalone --nproc-per-node "$NPROC" --no-python); fi
# shellcheck disable=SC2086
Q conseq select "$WORK/candidates.jsonl" -o "$WORK/triples-quals.jsonl" --by quals --model "$QAGEN" \
  --chunk-size 7 --no-progress $QUALS_FLAGS $SELECT_FLAGS
LAUNCH=()
# shellcheck disable=SC2086
Q conseq select "$WORK/candidates.jsonl" -o "$WORK/triples-rouge.jsonl" --by rouge --no-progress $SELECT_FLAGS

# 4. ConSeq training from the MLE adapter (trained further). Paper: lr 3e-6, 2 epochs, no warm-up,
#    weight decay 0.01, clip 0.1, label smoothing 0.1; LoRA: 10x the learning rate, as for MLE.
for BY in quals rouge; do
  Q conseq train "$WORK/triples-$BY.jsonl" -o "$WORK/conseq-$BY" --model "$WORK/mle" \
    --learning-rate 2e-5 --num-train-epochs 2 --batch-size 2 --save-steps "$SAVE_STEPS" --logging-steps 1 \
    --seed "$SEED" --adapter-dtype float16 --no-progress
done

# 5. Test summaries, the paper's CNN/DM decoding (beam 4, max 140, min 55).
for SYSTEM in mle conseq-rouge conseq-quals; do
  Q summarize "$WORK/test.jsonl" -o "$WORK/summaries/$SYSTEM.jsonl" --model "$WORK/$SYSTEM" --preset cnndm \
    --batch-size 4 --chunk-size 4 --no-progress
done

# 6. Evaluation against documents and references, paired bootstrap against MLE.
SYSTEMS=("$WORK/summaries/mle.jsonl" "$WORK/summaries/conseq-rouge.jsonl" "$WORK/summaries/conseq-quals.jsonl")
# shellcheck disable=SC2086
Q evaluate-summaries "${SYSTEMS[@]}" --test "$WORK/test.jsonl" -o "$WORK/eval" --metrics "$METRICS" \
  --model "$QAGEN" --bootstrap-seed "$SEED" --no-progress $QUALS_FLAGS
TABLES=("$WORK/eval")
#    QUALS with the paper preset (the published method) next to the default.
if [ "$PAPER_QUALS" = 1 ]; then
  Q evaluate-summaries "${SYSTEMS[@]}" --test "$WORK/test.jsonl" -o "$WORK/eval-paper" --metrics quals \
    --model "$QAGEN" --preset paper --bootstrap-seed "$SEED" --no-progress
  TABLES+=("paper=$WORK/eval-paper")
fi
#    QAGS with the trained question generator and answerer, on a seeded subset of QAGS_N articles
#    (QAGS is the slowest metric).
if [ "$QAGS_N" -gt 0 ]; then
  "$PYTHON" - "$WORK" "$QAGS_N" "$SEED" <<'EOF'
import sys
from pathlib import Path
import numpy as np
work, n, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
out = work / f"qags{n}"
(out / "summaries").mkdir(parents=True, exist_ok=True)
test = (work / "test.jsonl").read_text().splitlines()
keep = sorted(np.random.default_rng(seed).permutation(len(test))[:n].tolist())
for source, target in [(work / "test.jsonl", out / "test.jsonl"),
                       *[(p, out / "summaries" / p.name) for p in sorted((work / "summaries").glob("*.jsonl"))]]:
    lines = source.read_text().splitlines()
    if len(lines) != len(test):
        sys.exit(f"{source} has {len(lines)} rows, {len(test)} expected: finish the summaries first")
    text = "".join(lines[i] + "\n" for i in keep)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
EOF
  Q evaluate-summaries "$WORK/qags$QAGS_N/summaries/mle.jsonl" "$WORK/qags$QAGS_N/summaries/conseq-rouge.jsonl" \
    "$WORK/qags$QAGS_N/summaries/conseq-quals.jsonl" --test "$WORK/qags$QAGS_N/test.jsonl" -o "$WORK/eval-qags" \
    --metrics qags --qg-model "$QAGS_QG" --qa-model "$QAGS_QA" --bootstrap-seed "$SEED" --no-progress
  TABLES+=("qags$QAGS_N=$WORK/eval-qags")
fi
"$PYTHON" reproduce/conseq_table.py "${TABLES[@]}" -o "$WORK/table.md"
echo "table: $WORK/table.md" >&2

# 7. A pairwise human study, MLE (A) vs ConSeq-QUALS (B), on STUDY_N test articles (docs/human-eval.md).
if [ "$STUDY_N" -gt 0 ]; then
  Q annotate build "$WORK/summaries/mle.jsonl" "$WORK/summaries/conseq-quals.jsonl" --documents "$WORK/test.jsonl" \
    -o "${STUDY_OUT:-$WORK/study.jsonl}" --n-items "$STUDY_N" --seed "$SEED" --no-embed-documents --overwrite
fi
