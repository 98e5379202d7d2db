"""``quals score INPUT -o OUTPUT.jsonl``: score a corpus, resumably."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from quals.cli.common import (
    add_factcc_flags,
    add_metric_flag,
    add_model_flags,
    add_qags_flags,
    add_quals_flags,
    build_scorer,
)
from quals.cli.runtime import add_overwrite_flag
from quals.distributed import is_main_process

HELP = "Score (document, summary) rows of a JSONL/CSV/Parquet file with QUALS (or QAGS, FactCC)."


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="JSONL, CSV or Parquet file (.gz JSONL too).")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="JSONL output, one line per input row; re-running resumes it.")
    parser.add_argument("--input-format", choices=("jsonl", "csv", "parquet"), default=None,
                        help="Input format (default: from the file name).")
    parser.add_argument("--document-field", default="document", help="Field with the document (default: document).")
    parser.add_argument("--summary-field", default="summary", help="Field with the summary (default: summary).")
    parser.add_argument("--id-field", default="id", help="Optional field with a row id (default: id).")
    parser.add_argument("--details", action=argparse.BooleanOptionalAction, default=True,
                        help="Write kept QA pairs with per-token log-probs (QAGS: questions with both "
                             "answers and their F1; FactCC: sentences with per-chunk probabilities) (default: on).")
    parser.add_argument("--chunk-size", type=int, default=16, help="Rows per scoring call and resume unit.")
    parser.add_argument("--max-document-tokens", type=int, default=20_000,
                        help="Longer documents get an error record (default: 20000).")
    add_overwrite_flag(parser, "Replace an existing output instead of resuming.")
    parser.add_argument("--summary-json", type=Path, default=None, help="Also write the corpus summary here.")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="Progress bar on stderr (default: on).")
    add_metric_flag(parser, factcc=True)
    add_model_flags(parser)
    add_quals_flags(parser)
    add_qags_flags(parser)
    add_factcc_flags(parser)


def run(args: argparse.Namespace) -> int:
    from quals.batch import RunConfig, score_file
    from quals.data import FieldMap

    config = RunConfig(chunk_size=args.chunk_size, details=args.details,
                       max_document_tokens=args.max_document_tokens, overwrite=args.overwrite)
    fields = FieldMap(document=args.document_field, summary=args.summary_field, id=args.id_field or None)
    scorer = build_scorer(args, show_progress=False)
    summary = score_file(scorer, args.input, args.output, fields=fields, input_format=args.input_format,
                         config=config, show_progress=args.progress)
    if not is_main_process():  # under a launcher, the first process reports
        return 1 if summary.n_errors else 0
    report = {"output": str(args.output), **summary.to_dict(), "signature": scorer.signature}
    if args.summary_json:
        args.summary_json.write_text(json.dumps(report, indent=2) + "\n")
    mean = "n/a" if summary.mean is None else f"{summary.mean:.4f}"
    unit = {"quals": "kept QA pair", "qags": "kept question", "factcc": "summary sentence"}[args.metric]
    print(f"{args.metric.upper()} mean {mean} over {summary.n_scored} scored rows; {summary.n_null} without a "
          f"{unit}; {summary.n_errors} errors -> {args.output}", file=sys.stderr)
    if summary.n_errors:
        from quals.batch.output import first_errors

        for record in first_errors(args.output, 5):
            print(f"  row {record['row']}: {record['error']}", file=sys.stderr)
        if summary.n_errors > 5:
            print(f"  ... {summary.n_errors - 5} more (records with \"error\" in {args.output})", file=sys.stderr)
    return 1 if summary.n_errors else 0
