"""``quals conseq candidates|select|train``: the three ConSeq stages, each resumable.

1. ``candidates TRAIN -o CANDIDATES.jsonl --model MLE``: sample summaries of the training documents;
2. ``select CANDIDATES.jsonl -o TRIPLES.jsonl [--by quals|rouge]``: score candidates and references
   (QUALS with the QAGen given by --model, or ROUGE), pick S+ / S-, write triples and a report;
3. ``train TRIPLES.jsonl -o DIR --model MLE``: contrastive fine-tuning from the MLE model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from quals.cli.common import add_common_run_flags, add_io_flags, add_model_flags, add_quals_flags
from quals.cli.config_flags import add_config_flags, config_from_args
from quals.cli.runtime import GENERATION_BATCH, add_runtime_flags
from quals.cli.train_summarizer import add_training_flags, report_result, trainer_settings
from quals.distributed import is_main_process
from quals.training.conseq.config import SELECTION_METRICS, CandidateConfig, ConseqConfig, SelectionConfig

HELP = "ConSeq: sample candidates, select S+/S- with QUALS (or ROUGE), train contrastively."


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    _register_candidates(sub.add_parser("candidates", help="Sample candidate summaries of training documents.",
                                        description="Sample candidate summaries of every training document "
                                                    "from the MLE model (paper: 6, top-k 50)."))
    _register_select(sub.add_parser("select", help="Score candidates and references; write S+/S- triples.",
                                    description="Score every candidate and reference (QUALS or ROUGE), apply "
                                                "the ConSeq rule, write (document, positive, negative) triples."))
    _register_train(sub.add_parser("train", help="Contrastive fine-tuning from the MLE model.",
                                   description="Fine-tune the MLE model with the ConSeq loss on the triples."))


def _register_candidates(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="Training rows (JSONL, CSV or Parquet) with document and summary.")
    parser.add_argument("-o", "--output", type=Path, required=True, help="JSONL of candidates (rerunning resumes).")
    parser.add_argument("--model", required=True, help="The MLE summarizer (directory, adapter directory or id).")
    parser.add_argument("--chunk-size", type=int, default=16, help="Rows per resume unit (default: 16).")
    parser.add_argument("--config", type=Path, default=None, help="JSON file of CandidateConfig fields.")
    add_io_flags(parser)
    add_common_run_flags(parser)
    add_runtime_flags(parser, batch=GENERATION_BATCH, batch_size=8, from_config=("seed",),
                      seed="the samples; each (document, sample) draws from its own stream",
                      seed_default=CandidateConfig().seed)
    add_config_flags(parser, CandidateConfig, skip=("seed",), title="sampling (defaults: the paper's)")


def _register_select(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="Output of `quals conseq candidates`.")
    parser.add_argument("-o", "--output", type=Path, required=True, help="JSONL of (document, positive, negative).")
    parser.add_argument("--scores", type=Path, default=None,
                        help="Per-summary scores, resumable (default: OUTPUT_STEM.BY-scores.jsonl).")
    parser.add_argument("--report", type=Path, default=None, help="Report JSON (default: OUTPUT_STEM.report.json).")
    parser.add_argument("--chunk-size", type=int, default=16, help="Summaries per scoring call and resume unit.")
    parser.add_argument("--details", action=argparse.BooleanOptionalAction, default=False,
                        help="Keep QA pairs in the scores file (default: off).")
    parser.add_argument("--config", type=Path, default=None, help="JSON file of SelectionConfig fields.")
    add_common_run_flags(parser)
    add_config_flags(parser, SelectionConfig, choices={"by": SELECTION_METRICS},
                     title="selection (defaults: the paper's)")
    add_model_flags(parser, seed="nothing: QUALS and ROUGE scores and the selection rule are deterministic")
    add_quals_flags(parser)


def _register_train(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="Output of `quals conseq select`.")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="Run directory: checkpoints, then the model or adapter (rerunning resumes).")
    parser.add_argument("--model", required=True, help="The MLE summarizer to start from.")
    parser.add_argument("--config", type=Path, default=None, help="JSON file of ConseqConfig fields.")
    add_common_run_flags(parser, "Discard an existing run in the output directory instead of resuming.")
    add_training_flags(parser, ConseqConfig, "training settings (defaults: the paper's ConSeq)",
                       batch="(document, S+, S-) triples per device in each forward pass; each triple is two "
                             "sequences (the document with its positive and with its negative)")


def run(args: argparse.Namespace) -> int:
    return {"candidates": _candidates, "select": _select, "train": _train}[args.stage](args)


def _candidates(args: argparse.Namespace) -> int:
    from quals.cli.summarize import load_for_generation
    from quals.data.readers import FieldMap
    from quals.training.conseq.candidates import generate_candidates

    config = config_from_args(CandidateConfig, args, config_file=args.config)
    summarizer = load_for_generation(args.model, args.device, args.dtype, None)
    fields = FieldMap(document=args.document_field, summary=args.summary_field, id=args.id_field or None)
    counts = generate_candidates(summarizer, args.input, args.output, config=config, fields=fields,
                                 input_format=args.input_format, batch_size=args.batch_size,
                                 chunk_size=args.chunk_size, overwrite=args.overwrite, show_progress=args.progress)
    if is_main_process():
        print(f"{config.num_candidates} candidates for each of {counts['n_rows'] - counts['n_errors']} documents "
              f"({counts['n_errors']} rows unusable) -> {args.output}", file=sys.stderr)
    return 1 if counts["n_errors"] else 0


def _select(args: argparse.Namespace) -> int:
    from quals.batch.runner import RunConfig
    from quals.cli.common import build_quals, quals_settings
    from quals.training.conseq.selection import select_triples

    config = config_from_args(SelectionConfig, args, config_file=args.config)
    given = sorted(quals_settings(args))
    if config.by == "rouge" and (given or args.model):
        raise ValueError(f"--by rouge uses no QAGen; drop --model and the QUALS settings {given}")
    scorer = build_quals(args, show_progress=False) if config.by == "quals" else None
    run_config = RunConfig(chunk_size=args.chunk_size, details=args.details, overwrite=args.overwrite)
    report = select_triples(args.input, args.output, config=config, scorer=scorer, scores_path=args.scores,
                            report_path=args.report, run_config=run_config, show_progress=args.progress)
    if is_main_process():
        print(f"S+ {report['n_positive']}, S- {report['n_negative']}, kept {report['n_kept']} of "
              f"{report['n_documents']} documents (by {config.by}) -> {args.output}", file=sys.stderr)
        print(json.dumps({k: report[k] for k in ("n_documents", "n_positive", "n_negative", "n_kept")}))
    return 0


def _train(args: argparse.Namespace) -> int:
    from quals.training.conseq.trainer import train_conseq

    config = config_from_args(ConseqConfig, args, config_file=args.config)
    result = train_conseq(args.input, args.output, model=args.model, config=config, overwrite=args.overwrite,
                          show_progress=args.progress, **trainer_settings(args))
    report_result(result)
    return 0
