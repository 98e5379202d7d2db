#!/usr/bin/env bash
# The meta-evaluation runs of docs/meta-eval.md, split so that two processes share a 2-core CPU
# (one thread each). Every command resumes; re-running a finished one only recomputes statistics.
#
#   reproduce/metaeval_runs.sh qags-quals   # QUALS on full QAGS-C and QAGS-X
#   reproduce/metaeval_runs.sh qags-base    # baselines on them, then QAGS on 100 seeded test rows each
#   reproduce/metaeval_runs.sh frank        # FRANK 400 test + 200 valid: QUALS, baselines; QAGS on 100 test
#   reproduce/metaeval_runs.sh sweep        # QUALS settings on the first 60 seeded rows of each
#   reproduce/metaeval_runs.sh adapter      # QUALS with the trained QAGen adapter ($QAGEN) on all three
#                                           # (ADAPTER_ROWS=60: only the first 60 seeded rows of each split)
#   reproduce/metaeval_runs.sh backbones    # QUALS with the Gemma-3-270m QAGen ($GEMMA_QAGEN) on QAGS-C and
#                                           # QAGS-X, compared with the shipped adapter (run `adapter` first)
#   reproduce/metaeval_runs.sh study        # the aggregation study (docs/agreement.md): the shipped QAGen on
#                                           # QAGS-C, QAGS-X, FRANK valid 200 and test 400 with per-token
#                                           # details, the baselines on the same rows, then the sweep and the
#                                           # confirmation on FRANK test
#   reproduce/metaeval_runs.sh factcc       # the FactCC-style classifier ($FACTCC) on full QAGS-C and QAGS-X
#                                           # and FRANK 400 test + 200 valid, the rows of the study
#   reproduce/metaeval_runs.sh qags-trained # QAGS with its trained components (its default, docs/qags.md) on
#                                           # full QAGS-C and QAGS-X, then FRANK test 400; QAGS_SETS=... or
#                                           # FRANK=0 to split the work over two processes
#   reproduce/metaeval_runs.sh groups       # issue 15 item 3 (docs/agreement.md): the study's dev rows again with
#                                           # NUM_GROUPS groups [60], ANSWER_CONSTRAINT [summary_span], cap
#                                           # MAX_PAIRS [20], in $OUT/g$NUM_GROUPS-$ANSWER_CONSTRAINT; then the
#                                           # sweep and the switch rule against the 10-group run (AGAINST,
#                                           # default $OUT/study; `NUM_GROUPS=10 groups` makes one, in
#                                           # $OUT/g10-summary_span); QAGS_SETS=none / FRANK=0 / SWEEP=0 split the work
#   reproduce/metaeval_runs.sh confirm      # issue 15 step 5: the `groups` run's settings on the held-out FRANK test
#                                           # 400 rows with the baselines, then the confirmation of SETTING
#                                           # [all/mean/mean/10] (docs/results/agreement-g$NUM_GROUPS-.../confirm.md)
#   reproduce/metaeval_runs.sh paper        # QUALS --preset paper (60 groups, free answers, beam-score LL_S) with the
#                                           # shipped QAGen on full QAGS-C and QAGS-X and FRANK test 400, for
#                                           # the README table; QAGS_SETS=none / FRANK=0 split the work
#   reproduce/metaeval_runs.sh report       # all tables, once the runs above are complete
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
B=${BENCH:-../shared/data/bench}
OUT=${OUT:-runs/meta-eval}
Q=${QUALS:-.venv/bin/quals}
# The untrained backbone, named explicitly: the tables compare it with the trained adapter.
BACKBONE=${BACKBONE:-packaged:smollm2-135m-instruct}
QAGEN=${QAGEN:-packaged:smollm2-135m-qagen}
QS="--num-groups 10 --answer-constraint summary_span --model $BACKBONE"
QA="--num-groups 10 --answer-constraint summary_span --model $QAGEN"
BASE="overlap,rouge1,rouge2,rougeL,loglik,pmi"
L="--limit test=400,valid=200 --no-progress"
QAGS_SETS=${QAGS_SETS:-"$B/qags_cnndm.jsonl $B/qags_xsum.jsonl"}
case "${1:-}" in
  qags-quals) $Q meta-eval $QAGS_SETS -o "$OUT/g10" --metrics quals $QS $L ;;
  qags-base)  $Q meta-eval $QAGS_SETS -o "$OUT/g10" --metrics "$BASE" --model $BACKBONE $L
              $Q meta-eval $QAGS_SETS -o "$OUT/g10" --metrics qags --scorer-limit qags.test=100 --model $BACKBONE $L ;;
  frank)      $Q meta-eval "$B/frank.jsonl.gz" -o "$OUT/g10" --metrics quals $QS $L
              $Q meta-eval "$B/frank.jsonl.gz" -o "$OUT/g10" --metrics "$BASE" --model $BACKBONE $L
              $Q meta-eval "$B/frank.jsonl.gz" -o "$OUT/g10" --metrics qags --scorer-limit qags.test=100 --model $BACKBONE $L ;;
  sweep)      S="--metrics quals --scorer-limit quals=60 --no-progress --model $BACKBONE"
              $Q meta-eval $QAGS_SETS -o "$OUT/sweep-none" $S --num-groups 10 --answer-constraint none
              $Q meta-eval $QAGS_SETS -o "$OUT/sweep-g5" $S --num-groups 5 --answer-constraint summary_span
              $Q meta-eval $QAGS_SETS -o "$OUT/sweep-beam" $S $QS --summary-likelihood beam
              $Q meta-eval $QAGS_SETS -o "$OUT/sweep-g20" $S --num-groups 20 --answer-constraint summary_span ;;
  study)      # Cap 20 with 10 groups keeps every kept pair (10 hypotheses at most); smaller caps re-aggregate.
              S="--metrics quals --num-groups 10 --answer-constraint summary_span --max-pairs 20 --model $QAGEN --no-progress"
              BL="--metrics overlap,rouge1,rouge2,rougeL --no-progress"
              $Q meta-eval $QAGS_SETS -o "$OUT/study" $S
              $Q meta-eval "$B/frank.jsonl.gz" -o "$OUT/study" $S $L --scorer-limit quals.valid=200
              $Q meta-eval "$B/frank.jsonl.gz" -o "$OUT/study" $S $L --scorer-limit quals.test=400
              $Q meta-eval $QAGS_SETS -o "$OUT/study" $BL
              $Q meta-eval "$B/frank.jsonl.gz" -o "$OUT/study" $BL $L
              $Q meta-eval "$B/frank.jsonl.gz" -o "$OUT/study" --metrics loglik,pmi $L --scorer-limit likelihood.test=400
              .venv/bin/python reproduce/aggregation_sweep.py "$OUT/study" --bench "$B" -o docs/results/agreement
              .venv/bin/python reproduce/aggregation_sweep.py "$OUT/study" --bench "$B" -o docs/results/agreement \
                  --confirm "${SETTINGS:-all/mean/mean/10,all/mean/mean/5}" ;;
  factcc)     F="--metrics factcc --factcc-model ${FACTCC:-packaged:minilm-l6-factcc} --no-progress"
              $Q meta-eval $QAGS_SETS -o "$OUT/factcc" $F
              $Q meta-eval "$B/frank.jsonl.gz" -o "$OUT/factcc" $F $L ;;
  report)     $Q meta-eval $QAGS_SETS "$B/frank.jsonl.gz" -o "$OUT/g10" --metrics "quals,qags,$BASE" \
                  --scorer-limit qags.test=100 $QS $L
              .venv/bin/python reproduce/metaeval_sweep.py "G10 span rescore=$OUT/g10" "G5 span rescore=$OUT/sweep-g5" \
                  "G20 span rescore=$OUT/sweep-g20" "G10 none rescore=$OUT/sweep-none" \
                  "G10 span beam=$OUT/sweep-beam" --bench "$B" -o "$OUT/sweep.md" ;;
  adapter)    R=${ADAPTER_ROWS:+--scorer-limit quals=$ADAPTER_ROWS}
              $Q meta-eval $QAGS_SETS -o "$OUT/adapter" --metrics quals $R $QA $L
              $Q meta-eval "$B/frank.jsonl.gz" -o "$OUT/adapter" --metrics quals $R $QA $L
              .venv/bin/python reproduce/metaeval_sweep.py "untrained=$OUT/g10" "adapter=$OUT/adapter" \
                  --bench "$B" -o "$OUT/adapter.md" ;;
  backbones)  G="--num-groups 10 --answer-constraint summary_span --model ${GEMMA_QAGEN:-runs/qagen-gemma3-2000-s13}"
              $Q meta-eval $QAGS_SETS -o "$OUT/gemma" --metrics quals $G $L
              .venv/bin/python reproduce/metaeval_sweep.py "smollm2=$OUT/adapter" "gemma=$OUT/gemma" "untrained=$OUT/g10" \
                  --bench "$B" -o "$OUT/backbones.md" ;;
  qags-trained) # No --model: QAGS reads packaged:smollm2-135m-qags-qg and -qags-qa.
              T="--metrics qags --no-progress"
              [ "$QAGS_SETS" = none ] || $Q meta-eval $QAGS_SETS -o "$OUT/qags-trained" $T
              [ "${FRANK:-1}" = 0 ] || $Q meta-eval "$B/frank.jsonl.gz" -o "$OUT/qags-trained" $T \
                  --limit test=400,valid=0 ;;
  groups)     # (GROUPS is a bash builtin array, hence NUM_GROUPS.) Dev rows only: QAGS-C, QAGS-X, FRANK valid 200.
              G=${NUM_GROUPS:-60}; AC=${ANSWER_CONSTRAINT:-summary_span}; D="$OUT/g$G-$AC"
              S="--metrics quals --num-groups $G --answer-constraint $AC --max-pairs ${MAX_PAIRS:-20} --model $QAGEN"
              [ "$QAGS_SETS" = none ] || $Q meta-eval $QAGS_SETS -o "$D" $S --no-progress
              # FRANK valid as in the study: meta-eval needs test rows to report, so the 400 test rows are
              # selected and only the 200 valid ones scored (scores/frank/quals.valid200.jsonl).
              [ "${FRANK:-1}" = 0 ] || $Q meta-eval "$B/frank.jsonl.gz" -o "$D" $S $L --scorer-limit quals.valid=200
              if [ "${SWEEP:-1}" != 0 ]; then
                $Q meta-eval "$B/qags_cnndm.jsonl" "$B/qags_xsum.jsonl" -o "$D" --metrics overlap,rouge1,rouge2,rougeL --no-progress
                $Q meta-eval "$B/frank.jsonl.gz" -o "$D" --metrics overlap,rouge1,rouge2,rougeL $L
                .venv/bin/python reproduce/aggregation_sweep.py "$D" --bench "$B" --caps 5,10,20 --against "${AGAINST:-$OUT/study}" \
                    --against-name "the reference ($(basename "${AGAINST:-$OUT/study}"))" --switch generation --rows -o "docs/results/agreement-g$G-$AC"
              fi ;;
  confirm)    # issue 15 step 5: the run of `groups` (same NUM_GROUPS, ANSWER_CONSTRAINT, MAX_PAIRS) on the held-out
              # FRANK test 400 rows, the baselines on them, then the confirmation of SETTING [all/mean/mean/10]
              G=${NUM_GROUPS:-60}; AC=${ANSWER_CONSTRAINT:-summary_span}; D="$OUT/g$G-$AC"
              S="--metrics quals --num-groups $G --answer-constraint $AC --max-pairs ${MAX_PAIRS:-20} --model $QAGEN"
              $Q meta-eval "$B/frank.jsonl.gz" -o "$D" $S $L --scorer-limit quals.test=400
              $Q meta-eval "$B/frank.jsonl.gz" -o "$D" --metrics overlap,rouge1,rouge2,rougeL $L
              $Q meta-eval "$B/frank.jsonl.gz" -o "$D" --metrics loglik,pmi $L --scorer-limit likelihood.test=400
              .venv/bin/python reproduce/aggregation_sweep.py "$D" --bench "$B" --confirm "${SETTING:-all/mean/mean/10}" \
                  --rows --compare "QAGS (trained)=docs/results/meta-eval/qags_trained_rows.jsonl.gz" \
                  -o "docs/results/agreement-g$G-$AC" ;;
  paper)      P="--metrics quals --preset paper --no-progress"  # the default model: the shipped QAGen
              [ "$QAGS_SETS" = none ] || $Q meta-eval $QAGS_SETS -o "$OUT/paper" $P
              [ "${FRANK:-1}" = 0 ] || $Q meta-eval "$B/frank.jsonl.gz" -o "$OUT/paper" $P --limit test=400,valid=0 ;;
  *) echo "usage: $0 qags-quals|qags-base|frank|sweep|adapter|backbones|study|factcc|qags-trained|groups|confirm|paper|report" >&2; exit 2 ;;
esac
