"""Flags shared by commands, with the same meaning everywhere."""

from __future__ import annotations

import argparse
import dataclasses

from quals.generation.config import GenerationConfig


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", default=None,
                       help="QAGen: hub id, local directory or packaged:NAME (default: packaged:smollm2-135m-instruct).")
    group.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps (default: auto).")
    group.add_argument("--dtype", default="auto", help="auto, float32, bfloat16 or float16 (default: auto).")
    group.add_argument("--batch-size", type=int, default=64, help="Sequences per forward pass (default: 64).")


def add_quals_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("QUALS settings (defaults: the paper's)")
    defaults = GenerationConfig()
    for f in dataclasses.fields(GenerationConfig):
        flag = "--" + f.name.replace("_", "-")
        group.add_argument(flag, type=type(getattr(defaults, f.name)), default=None,
                           help=f"{f.metadata['help']} (default: {getattr(defaults, f.name)})")
    group.add_argument("--max-pairs", type=int, default=None, help="Kept QA pairs cap (default: 10).")
    group.add_argument("--summary-likelihood", choices=("rescore", "beam"), default=None,
                       help="LL_S by teacher forcing (rescore, default) or the beam score (beam, the authors').")
    group.add_argument("--answer-constraint", choices=("none", "summary_span"), default=None,
                       help="Constrain answers to summary substrings while decoding (default: none).")
    group.add_argument("--window-tokens", type=int, default=None,
                       help="Document tokens per window (default: model limit, at most 1024).")
    group.add_argument("--window-overlap", type=int, default=None, help="Tokens shared by windows (default: 128).")
    group.add_argument("--cache-generations", action=argparse.BooleanOptionalAction, default=None,
                       help="Reuse generated QA pairs from the on-disk cache (default: on).")


def quals_settings(args: argparse.Namespace) -> dict:
    names = [f.name for f in dataclasses.fields(GenerationConfig)] + [
        "max_pairs", "summary_likelihood", "answer_constraint", "window_tokens", "window_overlap",
        "cache_generations"]
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def build_quals(args: argparse.Namespace, show_progress: bool = True):
    from quals.metrics.quals import QUALS
    from quals.models.packaged import DEFAULT_MODEL

    return QUALS(args.model or DEFAULT_MODEL, device=_device(args.device), dtype=args.dtype,
                 batch_size=args.batch_size, show_progress=show_progress, **quals_settings(args))


def _device(device: str) -> str:
    """Under a distributed launcher each process takes its own GPU."""
    import os

    if device == "auto" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch

        if torch.cuda.is_available():
            return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return device
