"""What MLE and ConSeq summarizer runs add to :mod:`quals.training.run` (the run directory,
resume, precision and saving every trainer shares): the trainable summarizer (full or LoRA) and
the finished output directory (weights or adapter, tokenizer, ``quals_summarizer.json``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from quals.models.weights import canonical_id, plain_fingerprint, weights_fingerprint
from quals.training import run as runs
from quals.training.lora import add_lora, log_trainable, store_adapter_dtype
from quals.training.summarizer.config import TrainingSettings
from quals.training.summarizer.model import INFO_FILE, Summarizer, format_dict, is_adapter, load_summarizer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingResult:
    """What a training run did.

    Attributes:
        output_dir: the trained model (loadable by ``quals summarize --model``).
        n_train: training examples (rows, or ConSeq triples).
        n_eval: held-out examples.
        n_skipped: input rows that could not be used (logged with their reasons).
        global_step: optimiser steps done.
        metrics: final ``train_loss``, ``eval_loss`` (held-out, label-smoothed), runtime, ...
        resumed_from: the checkpoint training resumed from, if any.
        already_complete: the directory held a finished run with the same settings.
    """

    output_dir: Path
    n_train: int
    n_eval: int
    n_skipped: int
    global_step: int
    metrics: dict
    resumed_from: str | None = None
    already_complete: bool = False

    def to_dict(self) -> dict:
        return {"output_dir": str(self.output_dir), "n_train": self.n_train, "n_eval": self.n_eval,
                "n_skipped": self.n_skipped, "global_step": self.global_step, "metrics": self.metrics,
                "resumed_from": self.resumed_from, "already_complete": self.already_complete}


def run_directory(output_dir: Path, run: dict) -> runs.RunDirectory:
    return runs.RunDirectory(Path(output_dir), INFO_FILE, run)


def prepare_run(output_dir: Path, run: dict, overwrite: bool
                ) -> tuple[runs.RunDirectory, TrainingResult | None, str | None]:
    """The run directory, the finished run's result if it holds this exact run, and the checkpoint
    to resume from (see :mod:`quals.training.run` for the rule)."""
    from accelerate import PartialState

    directory = run_directory(output_dir, run)
    state = PartialState()
    with state.main_process_first():
        done, last = directory.prepare(overwrite=overwrite, is_main=state.is_main_process)
    if done is not None:
        logger.info("%s already holds this finished run", output_dir)
        return directory, _completed_result(Path(output_dir), done), None
    return directory, None, last


def prepare_trainable(model: str, config: TrainingSettings,
                      fmt_overrides: dict | None = None) -> tuple[Summarizer, str]:
    """The summarizer to train (on the CPU; the Trainer places it) and the base model id a LoRA
    adapter applies to.

    With ``config.lora``: an adapter directory is trained further; any other model gets a fresh
    adapter (rank ``lora_r``) on all its linear projections except the output layer. Without it,
    every weight trains (an adapter is merged first).
    """
    from dataclasses import replace

    from transformers import set_seed

    set_seed(config.seed)  # the new adapter's initial weights come from the seed, not from earlier RNG use
    summarizer = load_summarizer(model, device=None, dtype="float32", trainable_adapter=config.lora)
    limits = {name: getattr(config, name) for name in ("max_source_tokens", "max_summary_tokens")
              if getattr(config, name) is not None}  # None: keep the model's own setting
    summarizer.set_format(replace(summarizer.format, **limits, **(fmt_overrides or {})))
    base = summarizer.base_model
    if config.lora and not is_adapter(model):
        summarizer.model = add_lora(summarizer.model, summarizer.format.family, r=config.lora_r,
                                    alpha=config.lora_alpha, dropout=config.lora_dropout)
    elif config.lora:
        log_trainable(summarizer.model, "LoRA (continued)")
    return summarizer, base


def training_arguments(run: runs.RunDirectory, config: TrainingSettings, *, has_eval: bool, use_cpu: bool = False,
                       label_smoothing: float = 0.0, show_progress: bool = False, dtype: str = "auto"):
    """HF ``TrainingArguments`` for a summarizer run: held-out loss every epoch, label smoothing,
    ``dtype`` auto: bf16 autocast on GPUs that support it."""
    from quals.models.device import bf16_setting

    return runs.training_arguments(run, config, learning_rate=config.learning_rate, has_eval=has_eval,
                                   use_cpu=use_cpu, show_progress=show_progress, bf16=bf16_setting(dtype),
                                   label_smoothing_factor=label_smoothing, ddp_find_unused_parameters=False)


def train_and_save(trainer, summarizer: Summarizer, base: str, run: runs.RunDirectory, last: str | None, *,
                   lora: bool, counts: dict, keep_checkpoints: bool, adapter_dtype: str = "float32") -> TrainingResult:
    """Train (resuming from ``last``), evaluate, save the model (a LoRA adapter in ``adapter_dtype``)
    and, last, the finished info."""
    clock = runs.elapsed_clock(last)
    trainer.add_callback(clock)
    output = runs.train(trainer, last)
    metrics = dict(output.metrics)
    if trainer.eval_dataset is not None:
        metrics.update(_final_eval(trainer))
    metrics["train_seconds"] = round(clock.total, 1)
    result = TrainingResult(run.output, counts["n_train"], counts["n_eval"], counts["n_skipped"],
                            trainer.state.global_step, runs.finite(metrics), resumed_from=last)
    if run.save_weights(trainer):
        info = {"format": format_dict(summarizer.format), "family": summarizer.format.family,
                "result": result.to_dict(), "versions": runs.versions(),
                "world_size": trainer.args.world_size, "device": str(trainer.args.device),
                "log_history": [runs.finite(entry) for entry in trainer.state.log_history]}
        if lora:
            store_adapter_dtype(run.output, adapter_dtype)
            info.update(base_model=base, base_fingerprint=plain_fingerprint(base))
        run.complete(info, keep_checkpoints=keep_checkpoints)
    runs.close_processes()
    return result


def _final_eval(trainer) -> dict:
    """The held-out loss of the final weights; the epoch-end evaluation already computed it when the
    run ended on an epoch (one pass over the held-out set costs minutes on a CPU)."""
    state = trainer.state
    last = next((entry for entry in reversed(state.log_history) if "eval_loss" in entry), None)
    if last is not None and last.get("step") == state.global_step:
        return {k: v for k, v in last.items() if k.startswith("eval_")}
    return trainer.evaluate()


def _completed_result(output_dir: Path, info: dict) -> TrainingResult:
    saved = info.get("result", {})
    return TrainingResult(output_dir, saved.get("n_train", 0), saved.get("n_eval", 0), saved.get("n_skipped", 0),
                          saved.get("global_step", 0), saved.get("metrics", {}), saved.get("resumed_from"),
                          already_complete=True)


def model_record(model: str) -> dict:
    """How a run names its starting model: id that works from anywhere, and its weights."""
    return {"model": canonical_id(model), "weights": weights_fingerprint(model)}
