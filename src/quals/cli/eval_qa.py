"""``quals eval-qa HELDOUT... -o RESULT.json``: SQuAD exact match and F1 of QAGS's answerer."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from quals.cli.config_flags import add_config_flags, config_from_args
from quals.cli.runtime import add_runtime_flags

HELP = "Evaluate a QA model as QAGS uses it (a --task qa adapter, a QAGen, an extractive model): SQuAD EM/F1."
_RUNTIME = ("device", "dtype", "batch_size", "seed")  # fields the shared flags set


def register(parser: argparse.ArgumentParser) -> None:
    from quals.data.qa_datasets import QA_FORMATS
    from quals.evaluation.qa_accuracy import QAEvalConfig

    parser.add_argument("input", nargs="+", type=Path,
                        help="QA data with gold answers: SQuAD v1.1 JSON (e.g. the dev set), NewsQA or JSONL.")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="JSON result: EM, F1, the model's fingerprint and every prediction.")
    defaults = QAEvalConfig()
    add_runtime_flags(parser, batch="questions (times passage windows) per forward pass",
                      batch_size=defaults.batch_size, seed="the seeded subset of questions",
                      seed_default=defaults.seed, from_config=("batch_size", "seed"))
    add_config_flags(parser, QAEvalConfig, skip=("files", *_RUNTIME), title="evaluation settings",
                     choices={"data_format": QA_FORMATS})
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="No progress bar.")


def run(args: argparse.Namespace) -> int:
    from quals.evaluation.qa_accuracy import QAEvalConfig, evaluate_qa
    from quals.files import atomic_write_json

    config = config_from_args(QAEvalConfig, args, extra={"files": tuple(str(p) for p in args.input)})
    result = evaluate_qa(config, show_progress=args.progress)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.output, result.to_dict())
    print(f"EM {100 * result.exact_match:.1f}, F1 {100 * result.f1:.1f} on {result.questions} questions "
          f"({result.seconds:.0f} s) -> {args.output}", file=sys.stderr)
    return 0
