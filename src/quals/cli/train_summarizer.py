"""``quals train-summarizer TRAIN -o DIR``: MLE fine-tuning of a summarizer (full or LoRA), resumable.

Every field of :class:`~quals.training.summarizer.config.SummarizerConfig` is a flag
(:mod:`quals.cli.config_flags`); ``--config FILE`` reads a JSON file of those fields first and
flags override it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from quals.cli.common import add_common_run_flags, add_io_flags
from quals.cli.config_flags import add_config_flags, config_from_args
from quals.cli.runtime import add_runtime_flags
from quals.training.summarizer.config import SummarizerConfig

HELP = "Fine-tune a summarizer by MLE with label smoothing (any HF seq2seq or decoder-only model; full or LoRA)."
# Fields of the training configs that the shared flags set (--batch-size, --seed).
RUNTIME_FIELDS = ("batch_size", "seed")
TRAINING_SEED = "initialisation, shuffling and dropout"


def add_training_flags(parser: argparse.ArgumentParser, cls: type, title: str, *, batch: str,
                       seed: str = TRAINING_SEED) -> None:
    """The shared flags of a summarizer training command and one flag per field of ``cls``."""
    defaults = cls()
    add_runtime_flags(parser, batch=batch, batch_size=defaults.batch_size, seed=seed,
                      seed_default=defaults.seed, training=True, from_config=RUNTIME_FIELDS)
    add_config_flags(parser, cls, skip=RUNTIME_FIELDS, title=title)


def trainer_settings(args: argparse.Namespace) -> dict:
    """``use_cpu`` and ``dtype`` of the training entry points, refused early when the Trainer
    could not honour them (before any data is read)."""
    from quals.cli.runtime import trainer_use_cpu
    from quals.models.device import bf16_setting

    bf16_setting(args.dtype)
    return {"use_cpu": trainer_use_cpu(args.device), "dtype": args.dtype}


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="Training rows: JSONL, CSV or Parquet with document and summary.")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="Run directory: checkpoints, then the model or LoRA adapter (rerunning resumes).")
    parser.add_argument("--model", default=None,
                        help="Starting model: hub id, directory, packaged:NAME or quals adapter directory "
                             "(default: packaged:smollm2-135m-instruct).")
    parser.add_argument("--eval-file", type=Path, default=None,
                        help="Held-out rows for the held-out loss (default: --eval-fraction of the input).")
    parser.add_argument("--config", type=Path, default=None,
                        help="JSON file of SummarizerConfig fields; flags given here override it.")
    add_io_flags(parser)
    add_common_run_flags(parser, "Discard an existing run in the output directory instead of resuming.")
    add_training_flags(parser, SummarizerConfig, "training settings (defaults: the paper's MLE baseline)",
                       batch="(document, summary) examples per device in each forward pass",
                       seed=f"{TRAINING_SEED}, and the --eval-fraction split")


def run(args: argparse.Namespace) -> int:
    from quals.data.readers import FieldMap
    from quals.training.summarizer.config import DEFAULT_SUMMARIZER
    from quals.training.summarizer.mle import train_summarizer

    config = config_from_args(SummarizerConfig, args, config_file=args.config)
    settings = trainer_settings(args)
    fields = FieldMap(document=args.document_field, summary=args.summary_field, id=args.id_field or None)
    result = train_summarizer(args.input, args.output, model=args.model or DEFAULT_SUMMARIZER, config=config,
                              fields=fields, eval_path=args.eval_file, input_format=args.input_format,
                              overwrite=args.overwrite, show_progress=args.progress, **settings)
    report_result(result)
    return 0


def report_result(result) -> None:
    from quals.distributed import is_main_process

    if not is_main_process():
        return
    metrics = {k: result.metrics.get(k) for k in ("train_loss", "eval_loss") if result.metrics.get(k) is not None}
    state = "already complete" if result.already_complete else f"{result.global_step} steps"
    print(f"trained on {result.n_train} examples ({result.n_skipped} rows skipped), {state}; "
          f"{json.dumps(metrics)} -> {result.output_dir}", file=sys.stderr)
