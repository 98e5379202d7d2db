"""``quals evaluate-summaries SYSTEM.jsonl... --test TEST -o DIR``: compare summarizers on a test set.

Each SYSTEM file holds one summary per test row, in test order (``quals summarize`` writes them).
Per-row ROUGE-1/2/L (optionally the summary-level ROUGE-Lsum), entity precision, QUALS and
optionally QAGS go to ``DIR/NAME.jsonl`` (resumable; the entity metric uses the ``--spacy-model``
pipeline); ``DIR/table.md`` and ``DIR/results.json`` compare every system with the first (paired
bootstrap). The table is also printed on stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from quals.cli.common import add_factcc_flags, add_model_flags, add_qags_flags, add_quals_flags
from quals.cli.runtime import add_overwrite_flag
from quals.distributed import is_main_process

HELP = "Evaluate and compare systems' summaries: ROUGE, entity precision, QUALS, QAGS, paired bootstrap."
DEFAULT_METRICS = "rouge,entities,quals"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("systems", type=Path, nargs="+",
                        help="One JSONL file of summaries per system; the first is the baseline.")
    parser.add_argument("--test", type=Path, required=True, help="Test rows with documents and references.")
    parser.add_argument("-o", "--output", type=Path, required=True, help="Directory for per-row scores and tables.")
    parser.add_argument("--name", action="append", default=None,
                        help="Name of each system, in order (repeat; default: the file names without suffix).")
    parser.add_argument("--metrics", default=DEFAULT_METRICS,
                        help="Comma-separated subset of rouge, rougelsum (summary-level ROUGE-L over sentences), "
                             "entities, abstractiveness (novel 1/2/3-grams against the document, length), quals, "
                             f"qags, factcc (default: {DEFAULT_METRICS}).")
    parser.add_argument("--input-format", choices=("jsonl", "csv", "parquet"), default=None,
                        help="Format of the test file (default: from the file name).")
    parser.add_argument("--document-field", default="document", help="Test field with the document.")
    parser.add_argument("--reference-field", default="summary", help="Test field with the reference summary.")
    parser.add_argument("--summary-field", default="summary", help="System field with the summary.")
    parser.add_argument("--id-field", default="id", help="Row id field, checked to agree between files.")
    parser.add_argument("--bootstrap-resamples", type=int, default=1000, help="Paired bootstrap resamples.")
    parser.add_argument("--bootstrap-seed", type=int, default=None, help="Bootstrap seed (default: --seed).")
    parser.add_argument("--chunk-size", type=int, default=16, help="Rows per scoring call and resume unit.")
    add_overwrite_flag(parser, "Rescore instead of resuming.")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="Progress bars on stderr (default: on).")
    add_model_flags(parser, seed="QAGS's answer-candidate sample, and the paired bootstrap unless --bootstrap-seed "
                                 "is given (QUALS, ROUGE and entity precision are deterministic)")
    add_quals_flags(parser)
    add_qags_flags(parser)
    add_factcc_flags(parser, model_flag=True)


def _metrics(text: str) -> list[str]:
    from quals.evaluation.summaries import METRICS

    metrics = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"--metrics takes a comma-separated subset of {', '.join(METRICS)}; got {text!r}")
    return metrics


def run(args: argparse.Namespace) -> int:
    from quals.cli.common import scorer_options
    from quals.evaluation.summaries import SummaryEvaluator, evaluate_systems, markdown_table
    from quals.metrics.registry import ScorerFactory
    from quals.metrics.qags_config import DEFAULT_SPACY_MODEL

    metrics = _metrics(args.metrics)
    names = args.name or [path.stem for path in args.systems]
    if len(names) != len(args.systems):
        raise ValueError(f"{len(names)} --name values for {len(args.systems)} system files")
    # One factory: QUALS and QAGS share the loaded backbone when they read the same model (an explicit --model).
    factory = ScorerFactory(scorer_options(args))
    scorers = {name: factory.build(name) for name in ("quals", "qags", "factcc") if name in metrics}
    evaluator = SummaryEvaluator(metrics, **scorers, spacy_model=args.spacy_model or DEFAULT_SPACY_MODEL)
    results = evaluate_systems(evaluator, args.test, list(zip(names, args.systems, strict=True)), args.output,
                               document_field=args.document_field, reference_field=args.reference_field,
                               summary_field=args.summary_field, id_field=args.id_field or None,
                               input_format=args.input_format, chunk_size=args.chunk_size, overwrite=args.overwrite,
                               n_resamples=args.bootstrap_resamples,
                               seed=args.seed if args.bootstrap_seed is None else args.bootstrap_seed,
                               show_progress=args.progress)
    if is_main_process():
        print(markdown_table(results, evaluator.columns))
        print(f"per-row scores, results.json and table.md -> {args.output}", file=sys.stderr)
    return 0
