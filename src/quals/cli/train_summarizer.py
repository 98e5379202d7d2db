"""``quals train-summarizer TRAIN -o DIR``: MLE fine-tuning of a summarizer (full or LoRA), resumable.

Also holds the helpers that turn a config dataclass into flags (kebab-case field names, ``--x/--no-x``
for booleans, ``--config FILE`` for a JSON file of fields), shared by ``quals conseq`` and
``quals summarize``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from quals.training.summarizer.config import SummarizerConfig

HELP = "Fine-tune a summarizer by MLE with label smoothing (any HF seq2seq or decoder-only model; full or LoRA)."

_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def _flag_type(f: dataclasses.Field, default):
    if default is not None:
        return type(default)
    return _TYPES[str(f.type).split("|")[0].strip()]


def add_config_flags(parser: argparse.ArgumentParser, cls: type, title: str, skip: tuple[str, ...] = ()) -> None:
    """One flag per field of ``cls`` (default None = the config's own default)."""
    group = parser.add_argument_group(title)
    defaults = cls()
    for f in dataclasses.fields(cls):
        if f.name in skip or f.name.startswith("_"):
            continue
        default = getattr(defaults, f.name)
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "") + ("" if default is None else f" (default: {default!r})")
        help_text = help_text.replace("%", "%%")
        kind = _flag_type(f, default)
        if kind is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            group.add_argument(flag, type=kind, default=None, help=help_text)


def config_from_args(cls: type, args: argparse.Namespace):
    """``cls`` from ``--config`` (JSON of its fields) with the given flags on top."""
    from quals.training.summarizer.config import load_config

    names = [f.name for f in dataclasses.fields(cls)]
    overrides = {name: getattr(args, name, None) for name in names}
    return load_config(cls, getattr(args, "config", None), **overrides)


def add_io_flags(parser: argparse.ArgumentParser, *, summary: bool = True, summary_help: str | None = None) -> None:
    parser.add_argument("--input-format", choices=("jsonl", "csv", "parquet"), default=None,
                        help="Input format (default: from the file name).")
    parser.add_argument("--document-field", default="document", help="Field with the document (default: document).")
    if summary:
        parser.add_argument("--summary-field", default="summary",
                            help=summary_help or "Field with the reference summary (default: summary).")
    parser.add_argument("--id-field", default="id", help="Optional field with a row id (default: id).")


def add_common_run_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true", help="Discard an existing output instead of resuming.")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="Progress bars on stderr (default: on).")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="Training rows: JSONL, CSV or Parquet with document and summary.")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="Run directory: checkpoints, then the model or LoRA adapter (rerunning resumes).")
    parser.add_argument("--model", default=None,
                        help="Starting model: hub id, directory, packaged:NAME or quals adapter directory "
                             "(default: packaged:smollm2-135m-instruct).")
    parser.add_argument("--eval-file", type=Path, default=None,
                        help="Held-out rows for the held-out loss (default: --eval-fraction of the input).")
    parser.add_argument("--config", type=Path, default=None, help="JSON file of SummarizerConfig fields.")
    parser.add_argument("--device", choices=("auto", "cpu"), default="auto",
                        help="auto: the GPU(s) when there are any; cpu: the CPU even then (default: auto).")
    add_io_flags(parser)
    add_common_run_flags(parser)
    add_config_flags(parser, SummarizerConfig, "training settings (defaults: the paper's MLE baseline)")


def run(args: argparse.Namespace) -> int:
    from quals.data.readers import FieldMap
    from quals.training.summarizer.config import DEFAULT_SUMMARIZER
    from quals.training.summarizer.mle import train_summarizer

    config = config_from_args(SummarizerConfig, args)
    fields = FieldMap(document=args.document_field, summary=args.summary_field, id=args.id_field or None)
    result = train_summarizer(args.input, args.output, model=args.model or DEFAULT_SUMMARIZER, config=config,
                              fields=fields, eval_path=args.eval_file, input_format=args.input_format,
                              overwrite=args.overwrite, use_cpu=args.device == "cpu", show_progress=args.progress)
    report_result(result)
    return 0


def report_result(result) -> None:
    import os

    if int(os.environ.get("RANK", "0")) != 0:
        return
    metrics = {k: result.metrics.get(k) for k in ("train_loss", "eval_loss") if result.metrics.get(k) is not None}
    state = "already complete" if result.already_complete else f"{result.global_step} steps"
    print(f"trained on {result.n_train} examples ({result.n_skipped} rows skipped), {state}; "
          f"{json.dumps(metrics)} -> {result.output_dir}", file=sys.stderr)
