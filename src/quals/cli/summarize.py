"""``quals summarize INPUT -o OUTPUT.jsonl``: summarize every document of a file, resumably.

Decoding starts from a preset (the paper's ``xsum`` or ``cnndm`` beam search, or ``sample``) and
any flag below replaces one of its settings. Output: one JSON line per input row with ``row``,
``id``, ``summary`` (``candidates``, a list, when more than one per document), ``source_truncated``
and ``error``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from quals.cli.common import add_common_run_flags, add_io_flags
from quals.cli.config_flags import add_config_flags, config_from_args
from quals.cli.runtime import GENERATION_BATCH, add_runtime_flags
from quals.training.summarizer.config import PRESETS, DecodingConfig

DEFAULT_PRESET = "cnndm"

HELP = "Generate summaries with a summarizer (beam search or seeded sampling; paper presets)."


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="JSONL, CSV or Parquet file with a document field.")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="JSONL output, one line per input row; re-running resumes it.")
    parser.add_argument("--model", default=None,
                        help="Summarizer: hub id, directory, packaged:NAME or quals adapter directory "
                             "(default: packaged:smollm2-135m-instruct).")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=DEFAULT_PRESET,
                        help="Decoding preset: xsum (beam 6, max 60, min 10), cnndm (beam 4, max 140, min 55), "
                             "sample (top-k 50, max 60, min 10) (default: cnndm).")
    parser.add_argument("--config", type=Path, default=None,
                        help="JSON file of DecodingConfig fields, applied over the preset.")
    parser.add_argument("--max-source-tokens", type=int, default=None,
                        help="Document tokens kept (default: the model's training setting, else 1024).")
    parser.add_argument("--chunk-size", type=int, default=16, help="Rows per resume unit (default: 16).")
    add_io_flags(parser, summary=False)
    add_common_run_flags(parser)
    add_runtime_flags(parser, batch=GENERATION_BATCH, batch_size=8,
                      seed="sampling (--do-sample, --preset sample); each row draws from its own stream, and beam "
                           "search ignores it")
    add_config_flags(parser, DecodingConfig, defaults=PRESETS[DEFAULT_PRESET],
                     title=f"decoding (overrides the preset; defaults shown: --preset {DEFAULT_PRESET})")


def decoding_from_args(args: argparse.Namespace) -> DecodingConfig:
    """The ``--preset``, then the ``--config`` file, then the decoding flags given."""
    return config_from_args(DecodingConfig, args, base=PRESETS[args.preset], config_file=args.config)


def load_for_generation(model: str | None, device: str, dtype: str, max_source_tokens: int | None):
    from dataclasses import replace

    from quals.cli.runtime import launcher_device
    from quals.training.summarizer.config import DEFAULT_SUMMARIZER
    from quals.training.summarizer.model import load_summarizer

    summarizer = load_summarizer(model or DEFAULT_SUMMARIZER, device=launcher_device(device), dtype=dtype)
    if max_source_tokens is not None:
        summarizer.set_format(replace(summarizer.format, max_source_tokens=max_source_tokens))
    return summarizer


def run(args: argparse.Namespace) -> int:
    from quals.distributed import is_main_process
    from quals.training.summarizer.generate import summarize_file

    decoding = decoding_from_args(args)
    summarizer = load_for_generation(args.model, args.device, args.dtype, args.max_source_tokens)
    counts = summarize_file(summarizer, args.input, args.output, decoding=decoding, document_field=args.document_field,
                            id_field=args.id_field or None, input_format=args.input_format, seed=args.seed,
                            batch_size=args.batch_size, chunk_size=args.chunk_size, overwrite=args.overwrite,
                            show_progress=args.progress)
    if is_main_process():
        print(f"summarized {counts['n_rows'] - counts['n_errors']} of {counts['n_rows']} rows "
              f"({counts['n_truncated']} documents cut to {summarizer.format.max_source_tokens} tokens) "
              f"-> {args.output}", file=sys.stderr)
    return 1 if counts["n_errors"] else 0
