"""``quals explain -o DIR``: an HTML page (and a figure) showing why one summary got its score.

Input is one (document, summary), given as literals (``--document/--summary``), as files
(``--document-file/--summary-file``) or as one row of a scoring input (``--input FILE --row N``).
Writes ``explain.html`` and ``explanation.json`` into DIR (replacing earlier ones), with QUALS also
the per-token figure ``tokens.png`` and ``tokens.svg``, and prints the page's path on stdout.
``--metric qags`` explains a QAGS score instead: each question with its two answers and their F1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from quals.cli.common import add_metric_flag, add_model_flags, add_qags_flags, add_quals_flags, build_scorer

HELP = "Explain the QUALS (or QAGS) score of one (document, summary): HTML page (+ per-token figure for QUALS)."
PAGE_NAME = "explain.html"
JSON_NAME = "explanation.json"
FIGURE_STEM = "tokens"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="Directory for explain.html, explanation.json and (QUALS) tokens.png and tokens.svg "
                             "(created if missing; earlier files there are replaced).")
    add_metric_flag(parser)
    literal = parser.add_argument_group("input as text (document and summary each once)")
    literal.add_argument("--document", default=None, help="The document, as literal text.")
    literal.add_argument("--summary", default=None, help="The summary, as literal text.")
    literal.add_argument("--document-file", type=Path, default=None,
                         help="UTF-8 file holding the document (trailing newlines are dropped).")
    literal.add_argument("--summary-file", type=Path, default=None,
                         help="UTF-8 file holding the summary (trailing newlines are dropped).")
    row = parser.add_argument_group("input as a row of a scoring input file")
    row.add_argument("--input", type=Path, default=None, help="JSONL, CSV or Parquet file, as for quals score.")
    row.add_argument("--row", type=int, default=None, help="Row to explain, counting data rows from 0.")
    row.add_argument("--input-format", choices=("jsonl", "csv", "parquet"), default=None,
                     help="Input format (default: from the file name).")
    row.add_argument("--document-field", default="document", help="Field with the document (default: document).")
    row.add_argument("--summary-field", default="summary", help="Field with the summary (default: summary).")
    add_model_flags(parser)
    add_quals_flags(parser)
    add_qags_flags(parser)


def run(args: argparse.Namespace) -> int:
    document, summary = read_input(args)
    scorer = build_scorer(args, show_progress=False)
    result = scorer.score([document], [summary])
    example = result.examples[0]
    args.output.mkdir(parents=True, exist_ok=True)
    for stale in (f"{FIGURE_STEM}.png", f"{FIGURE_STEM}.svg"):  # a QAGS page must not sit beside a QUALS figure
        (args.output / stale).unlink(missing_ok=True)
    if args.metric == "quals":
        from quals.reports import plot_token_probabilities, render_explanation

        figures = plot_token_probabilities(example, args.output / FIGURE_STEM,
                                           tokenizer=scorer.qagen.backbone.tokenizer)
        page = render_explanation(document, summary, example, result.signature,
                                  figure_name=figures[0].name if example.pairs else None)
        kept = f"{len(example.pairs)} kept QA pairs"
    else:
        from quals.reports import render_qags_explanation

        page = render_qags_explanation(document, summary, example, result.signature)
        kept = f"{len(example.questions)} kept questions"
    page_path = args.output / PAGE_NAME
    page_path.write_text(page, encoding="utf-8")
    record = {"document": document, "summary": summary, "metric": args.metric, **example.to_dict(details=True),
              "signature": result.signature}
    (args.output / JSON_NAME).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    score = "n/a" if example.score is None else f"{example.score:.4f}"
    print(f"{args.metric.upper()} {score} over {kept}{'' if example.reason is None else f' ({example.reason})'}",
          file=sys.stderr)
    print(page_path)
    return 0


def read_input(args: argparse.Namespace) -> tuple[str, str]:
    """The (document, summary) named by the input flags.

    Raises:
        ValueError: the flags name no input, two inputs for the same text, or an unusable row.
        FileNotFoundError: a named file does not exist.
    """
    literal_flags = [flag for flag, value in (("--document", args.document), ("--summary", args.summary),
                                              ("--document-file", args.document_file),
                                              ("--summary-file", args.summary_file)) if value is not None]
    if args.input is not None:
        if literal_flags:
            raise ValueError(f"--input cannot be combined with {', '.join(literal_flags)}; "
                             "give either --input FILE --row N or the document and summary")
        if args.row is None:
            raise ValueError("--input needs --row N (data rows count from 0)")
        return _read_row(args)
    if args.row is not None:
        raise ValueError("--row needs --input FILE")
    document = _one_text("document", args.document, args.document_file)
    summary = _one_text("summary", args.summary, args.summary_file)
    return document, summary


def _one_text(name: str, literal: str | None, path: Path | None) -> str:
    if literal is not None and path is not None:
        raise ValueError(f"give the {name} once: --{name} TEXT or --{name}-file PATH, not both")
    if literal is None and path is None:
        raise ValueError(f"no {name}: give --{name} TEXT or --{name}-file PATH (or --input FILE --row N)")
    text = literal if literal is not None else path.read_text(encoding="utf-8").rstrip("\r\n")
    if name == "document" and not text.strip():
        raise ValueError("the document is empty")
    return text


def _read_row(args: argparse.Namespace) -> tuple[str, str]:
    from quals.data import FieldMap, read_rows

    if args.row < 0:
        raise ValueError(f"--row must be >= 0, got {args.row}")
    fields = FieldMap(document=args.document_field, summary=args.summary_field, id=None)
    count = 0
    for row in read_rows(args.input, fields, fmt=args.input_format):
        count += 1
        if row.index == args.row:
            if row.error is not None:
                raise ValueError(f"row {args.row} of {args.input} cannot be explained: {row.error}")
            return row.document, row.summary  # type: ignore[return-value]
    raise ValueError(f"--row {args.row} is out of range: {args.input} has {count} data rows")
