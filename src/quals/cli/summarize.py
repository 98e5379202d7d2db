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

from quals.cli.train_summarizer import add_common_run_flags, add_config_flags, add_io_flags
from quals.training.summarizer.config import PRESETS, DecodingConfig

HELP = "Generate summaries with a summarizer (beam search or seeded sampling; paper presets)."


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="JSONL, CSV or Parquet file with a document field.")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="JSONL output, one line per input row; re-running resumes it.")
    parser.add_argument("--model", default=None,
                        help="Summarizer: hub id, directory, packaged:NAME or quals adapter directory "
                             "(default: packaged:smollm2-135m-instruct).")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cnndm",
                        help="Decoding preset: xsum (beam 6, max 60, min 10), cnndm (beam 4, max 140, min 55), "
                             "sample (top-k 50, max 60, min 10) (default: cnndm).")
    parser.add_argument("--config", type=Path, default=None,
                        help="JSON file of DecodingConfig fields, applied over the preset.")
    parser.add_argument("--max-source-tokens", type=int, default=None,
                        help="Document tokens kept (default: the model's training setting, else 1024).")
    parser.add_argument("--seed", type=int, default=0, help="Sampling seed (default: 0).")
    parser.add_argument("--batch-size", type=int, default=8, help="Documents per generate call (default: 8).")
    parser.add_argument("--chunk-size", type=int, default=16, help="Rows per resume unit (default: 16).")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps (default: auto).")
    parser.add_argument("--dtype", default="auto", help="auto, float32, bfloat16 or float16 (default: auto).")
    add_io_flags(parser, summary=False)
    add_common_run_flags(parser)
    add_config_flags(parser, DecodingConfig, "decoding (overrides the preset)")


def decoding_from_args(args: argparse.Namespace) -> DecodingConfig:
    import dataclasses
    import json

    from quals.training.summarizer.config import decoding_config

    values = {}
    if args.config is not None:
        values = json.loads(args.config.read_text())
        if not isinstance(values, dict):
            raise ValueError(f"{args.config} must hold a JSON object of DecodingConfig fields")
    values.update({f.name: getattr(args, f.name) for f in dataclasses.fields(DecodingConfig)
                   if getattr(args, f.name) is not None})
    return decoding_config(args.preset, **values)


def load_for_generation(model: str | None, device: str, dtype: str, max_source_tokens: int | None):
    from dataclasses import replace

    from quals.cli.common import launcher_device
    from quals.training.summarizer.config import DEFAULT_SUMMARIZER
    from quals.training.summarizer.model import load_summarizer

    summarizer = load_summarizer(model or DEFAULT_SUMMARIZER, device=launcher_device(device), dtype=dtype)
    if max_source_tokens is not None:
        summarizer.set_format(replace(summarizer.format, max_source_tokens=max_source_tokens))
    return summarizer


def run(args: argparse.Namespace) -> int:
    import os

    from quals.training.summarizer.generate import summarize_file

    decoding = decoding_from_args(args)
    summarizer = load_for_generation(args.model, args.device, args.dtype, args.max_source_tokens)
    counts = summarize_file(summarizer, args.input, args.output, decoding=decoding, document_field=args.document_field,
                            id_field=args.id_field or None, input_format=args.input_format, seed=args.seed,
                            batch_size=args.batch_size, chunk_size=args.chunk_size, overwrite=args.overwrite,
                            show_progress=args.progress)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"summarized {counts['n_rows'] - counts['n_errors']} of {counts['n_rows']} rows "
              f"({counts['n_truncated']} documents cut to {summarizer.format.max_source_tokens} tokens) "
              f"-> {args.output}", file=sys.stderr)
    return 1 if counts["n_errors"] else 0
