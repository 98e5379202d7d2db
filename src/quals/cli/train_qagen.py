"""``quals train-qagen DATA... -o DIR``: fine-tune a QAGen (fully or LoRA), resumably.

Every field of :class:`~quals.training.qagen.config.QAGenTrainingConfig` is a kebab-case flag
(:mod:`quals.cli.config_flags`); ``--config FILE`` reads a JSON file of those fields first and
flags override it. Re-running the same command resumes from the last checkpoint in ``DIR/checkpoints``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from quals.cli.config_flags import add_config_flags, config_from_args
from quals.cli.runtime import add_runtime_flags

HELP = "Train a QAGen on SQuAD/NewsQA/JSONL QA data (seq2seq fully, decoder-only fully or with LoRA)."

_POSITIONAL = ("train_files", "heldout_files", "output_dir")  # given by INPUT, --heldout and -o
_RUNTIME = ("batch_size", "seed")  # given by the shared flags
_SPLITS = ("train", "dev", "test", "all")


class _Bf16Alias(argparse.Action):
    """``--bf16`` / ``--no-bf16``, the flags of the config's ``bf16`` field before ``--dtype``:
    still accepted (scripts of running trainings use them), as ``--dtype bfloat16`` / ``float32``."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        namespace.dtype = "float32" if option_string.startswith("--no-") else "bfloat16"


def register(parser: argparse.ArgumentParser) -> None:
    from quals.data.qa_datasets import QA_FORMATS
    from quals.training.qagen.config import ADAPTER_DTYPES, TASKS, QAGenTrainingConfig

    parser.add_argument("input", nargs="*", type=Path,
                        help="Training data: SQuAD v1.1/v2.0 JSON, NewsQA combined JSON or JSONL (.gz too).")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="Output directory: the model (full) or adapter (LoRA), checkpoints under checkpoints/.")
    parser.add_argument("--heldout", type=Path, action="append", default=None,
                        help="Held-out QA file for the evaluation loss (repeatable; default: passages split off "
                             "the training data).")
    parser.add_argument("--config", type=Path, default=None,
                        help="JSON file of QAGenTrainingConfig fields; flags given here override it.")
    defaults = QAGenTrainingConfig()
    add_runtime_flags(parser, batch="QA examples (passage, question and answer) per device in each forward pass",
                      batch_size=defaults.batch_size, seed="the data subset, the held-out split, the order and "
                                                           "the initialisation", seed_default=defaults.seed,
                      training=True, from_config=_RUNTIME)
    parser.add_argument("--bf16", "--no-bf16", dest="dtype", nargs=0, action=_Bf16Alias, default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS)
    add_config_flags(parser, QAGenTrainingConfig, skip=(*_POSITIONAL, *_RUNTIME, "bf16"), title="training settings",
                     choices={"task": TASKS, "data_format": QA_FORMATS, "newsqa_split": _SPLITS,
                              "heldout_newsqa_split": _SPLITS,
                              "adapter_dtype": ADAPTER_DTYPES})


def build_config(args: argparse.Namespace):
    """The run's config: ``--config`` file, then the flags, then the positionals and ``--dtype``.

    ``--dtype auto`` leaves the config's ``bf16`` as it is (None: on for GPUs that support it).
    """
    from quals.models.device import bf16_setting
    from quals.training.qagen.config import QAGenTrainingConfig

    extra = {"train_files": tuple(str(p) for p in args.input) or None,
             "heldout_files": tuple(str(p) for p in args.heldout) if args.heldout else None,
             "output_dir": str(args.output) if args.output is not None else None,
             "bf16": bf16_setting(args.dtype)}
    config = config_from_args(QAGenTrainingConfig, args, config_file=args.config, skip=(*_POSITIONAL, "bf16"),
                              extra=extra)
    if not config.train_files:
        raise ValueError("give training files (positional) or train_files in --config")
    if not config.output_dir:
        raise ValueError("give -o/--output (or output_dir in --config)")
    return config


def run(args: argparse.Namespace) -> int:
    from quals.cli.runtime import trainer_use_cpu

    use_cpu = trainer_use_cpu(args.device)
    config = build_config(args)
    from quals.training.qagen.trainer import train_qagen

    with contextlib.redirect_stdout(sys.stderr):  # the Trainer prints its logs; stdout is for the result
        result = train_qagen(config, use_cpu=use_cpu)
    eval_loss = "n/a" if result.eval_loss is None else f"{result.eval_loss:.4f}"
    print(f"trained {'LoRA adapter' if result.lora else 'model'} -> {result.output_dir}: {result.global_step} steps, "
          f"{result.n_train} examples, train loss {result.train_loss:.4f}, held-out loss {eval_loss}, "
          f"{result.train_seconds / 60:.1f} min", file=sys.stderr)
    print(json.dumps(result.to_dict()))
    return 0
