"""``quals train-factcc CLAIMS -o DIR``: train the FactCC-style classifier, resumably.

Every field of :class:`~quals.training.factcc.trainer.FactccTrainingConfig` is a kebab-case flag
(:mod:`quals.cli.config_flags`); ``--config FILE`` reads a JSON file of those fields first and
flags override it. The claims come from ``python -m quals.training.factcc.claims`` (or
``reproduce/factcc_data.sh``). Re-running the same command resumes from ``DIR/checkpoints``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from dataclasses import asdict
from pathlib import Path

from quals.cli.config_flags import add_config_flags, config_from_args
from quals.cli.runtime import add_runtime_flags

HELP = "Train a FactCC-style (document chunk, claim) consistency classifier on synthetic claims (docs/factcc.md)."

_POSITIONAL = ("train_file", "output_dir")
_RUNTIME = ("batch_size", "seed")


def register(parser: argparse.ArgumentParser) -> None:
    from quals.training.factcc.trainer import FactccTrainingConfig

    parser.add_argument("input", type=Path, nargs="?", default=None,
                        help="Training claims, JSONL (.gz too): document, claim, label (1 consistent, 0 not).")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="Output directory: the adapter and head (or the model), checkpoints under checkpoints/.")
    parser.add_argument("--config", type=Path, default=None,
                        help="JSON file of FactccTrainingConfig fields; flags given here override it.")
    defaults = FactccTrainingConfig()
    add_runtime_flags(parser, batch="(document chunk, claim) pairs per device in each forward pass",
                      batch_size=defaults.batch_size, seed="the claim subsets, the data order and the initialisation",
                      seed_default=defaults.seed, training=True, from_config=_RUNTIME)
    add_config_flags(parser, FactccTrainingConfig, skip=(*_POSITIONAL, *_RUNTIME), title="training settings",
                     choices={"adapter_dtype": ("float32", "float16", "bfloat16")})


def build_config(args: argparse.Namespace):
    from quals.training.factcc.trainer import FactccTrainingConfig

    extra = {"train_file": str(args.input) if args.input is not None else None,
             "output_dir": str(args.output) if args.output is not None else None}
    config = config_from_args(FactccTrainingConfig, args, config_file=args.config, skip=_POSITIONAL, extra=extra)
    if not config.train_file:
        raise ValueError("give the training claims (positional) or train_file in --config")
    if not config.output_dir:
        raise ValueError("give -o/--output (or output_dir in --config)")
    return config


def run(args: argparse.Namespace) -> int:
    from quals.cli.runtime import trainer_use_cpu

    config = build_config(args)
    use_cpu = trainer_use_cpu(args.device)
    from quals.training.factcc.trainer import train_factcc

    with contextlib.redirect_stdout(sys.stderr):  # the Trainer prints its logs; stdout is for the result
        result = train_factcc(config, use_cpu=use_cpu, dtype=args.dtype)
    accuracy = "n/a" if result.eval_accuracy is None else f"{result.eval_accuracy:.4f}"
    print(f"trained classifier -> {result.output_dir}: {result.global_step} steps, {result.n_train} claims, "
          f"held-out accuracy {accuracy}, {result.train_seconds / 60:.1f} min", file=sys.stderr)
    print(json.dumps(asdict(result)))
    return 0
