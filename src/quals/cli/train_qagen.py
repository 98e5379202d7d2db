"""``quals train-qagen DATA... -o DIR``: fine-tune a QAGen (fully or LoRA), resumably.

Every field of :class:`~quals.training.qagen.config.QAGenTrainingConfig` is a kebab-case flag;
``--config FILE`` reads a JSON file of those fields first and flags override it. Re-running the
same command resumes from the last checkpoint in ``DIR/checkpoints``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from pathlib import Path

HELP = "Train a QAGen on SQuAD/NewsQA/JSONL QA data (seq2seq fully, decoder-only fully or with LoRA)."

_TYPES = {"int": int, "float": float, "str": str}


def add_config_flags(parser: argparse.ArgumentParser, config_class, skip: tuple[str, ...] = (),
                     title: str = "settings") -> None:
    """One kebab-case flag per field of a config dataclass; booleans as ``--x/--no-x``.

    Every flag defaults to None (= not given), so only given flags override the config (file).
    """
    group = parser.add_argument_group(title)
    defaults = config_class()
    for f in dataclasses.fields(config_class):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = str(f.type).replace(" | None", "").strip()
        default = getattr(defaults, f.name)
        help_text = f.metadata.get("help", "")
        if "default" not in help_text.lower():
            help_text += f" (default: {default})"
        help_text = help_text.replace("%", "%%")
        if kind == "bool":
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif kind in _TYPES:
            group.add_argument(flag, type=_TYPES[kind], default=None, help=help_text)
        else:
            raise TypeError(f"{config_class.__name__}.{f.name}: no flag for type {f.type}")


def given(args: argparse.Namespace, config_class, skip: tuple[str, ...] = ()) -> dict:
    """The config fields given on the command line."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(config_class)
            if f.name not in skip and getattr(args, f.name, None) is not None}


_SKIP = ("train_files", "heldout_files", "output_dir")


def register(parser: argparse.ArgumentParser) -> None:
    from quals.training.qagen.config import QAGenTrainingConfig

    parser.add_argument("input", nargs="*", type=Path,
                        help="Training data: SQuAD v1.1/v2.0 JSON, NewsQA combined JSON or JSONL (.gz too).")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="Output directory: the model (full) or adapter (LoRA), checkpoints under checkpoints/.")
    parser.add_argument("--heldout", type=Path, action="append", default=None,
                        help="Held-out QA file for the evaluation loss (repeatable; default: passages split off "
                             "the training data).")
    parser.add_argument("--config", type=Path, default=None,
                        help="JSON file of QAGenTrainingConfig fields; flags given here override it.")
    add_config_flags(parser, QAGenTrainingConfig, skip=_SKIP, title="training settings")


def build_config(args: argparse.Namespace):
    from quals.training.qagen.config import QAGenTrainingConfig

    overrides = given(args, QAGenTrainingConfig, skip=_SKIP)
    if args.input:
        overrides["train_files"] = tuple(str(p) for p in args.input)
    if args.heldout:
        overrides["heldout_files"] = tuple(str(p) for p in args.heldout)
    if args.output is not None:
        overrides["output_dir"] = str(args.output)
    if args.config:
        config = QAGenTrainingConfig.from_file(args.config, **overrides)
    else:
        config = QAGenTrainingConfig(**overrides)
    if not config.train_files:
        raise ValueError("give training files (positional) or train_files in --config")
    if not config.output_dir:
        raise ValueError("give -o/--output (or output_dir in --config)")
    return config


def run(args: argparse.Namespace) -> int:
    config = build_config(args)
    from quals.training.qagen.trainer import train_qagen

    with contextlib.redirect_stdout(sys.stderr):  # the Trainer prints its logs; stdout is for the result
        result = train_qagen(config)
    eval_loss = "n/a" if result.eval_loss is None else f"{result.eval_loss:.4f}"
    print(f"trained {'LoRA adapter' if result.lora else 'model'} -> {result.output_dir}: {result.global_step} steps, "
          f"{result.n_train} examples, train loss {result.train_loss:.4f}, held-out loss {eval_loss}, "
          f"{result.train_seconds / 60:.1f} min", file=sys.stderr)
    print(json.dumps(result.to_dict()))
    return 0
