"""What MLE and ConSeq training runs share: the trainable model (full or LoRA), HF
``TrainingArguments`` from a config, resume from the last checkpoint, and the finished output
directory (weights or adapter, tokenizer, ``quals_summarizer.json``).

A run directory is complete when its ``quals_summarizer.json`` says so; a rerun with the same
settings then returns at once, a rerun after an interruption resumes from the last
``checkpoint-N`` (model, optimiser, scheduler and RNG states, as HF ``Trainer`` saves them), and a
rerun with other settings is refused unless ``overwrite``.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from quals.models.loading import quiet_peft
from quals.training.summarizer.config import TrainingSettings
from quals.training.summarizer.model import (
    INFO_FILE,
    Summarizer,
    base_fingerprint,
    canonical_id,
    format_dict,
    is_adapter,
    load_summarizer,
    read_info,
    write_info,
)

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


def is_main_process() -> bool:
    import os

    return int(os.environ.get("RANK", "0")) == 0


def check_output_dir(output_dir: Path, run: dict, overwrite: bool) -> dict | None:
    """The finished run's info when ``output_dir`` already holds this exact run; else prepare it.

    Raises:
        FileExistsError: ``output_dir`` holds something else (another run, or unrelated files).
    """
    info = read_info(output_dir) if output_dir.is_dir() else None
    if overwrite and output_dir.exists():
        if is_main_process():
            shutil.rmtree(output_dir)
        info = None
    elif info is not None and info.get("run") != run:
        raise FileExistsError(f"{output_dir} holds a training run with other settings or inputs (see "
                              f"{output_dir / INFO_FILE}); pass --overwrite or choose another directory")
    elif info is None and output_dir.is_dir() and any(output_dir.iterdir()):
        raise FileExistsError(f"{output_dir} is not empty and holds no quals training run; choose another "
                              f"directory or pass --overwrite")
    if info is not None and info.get("complete"):
        return info
    if is_main_process():
        output_dir.mkdir(parents=True, exist_ok=True)
        write_info(output_dir, {"run": run, "complete": False})
    return None


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
        from peft import LoraConfig, TaskType, get_peft_model

        task = TaskType.SEQ_2_SEQ_LM if summarizer.format.family == "seq2seq" else TaskType.CAUSAL_LM
        lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                          target_modules="all-linear", task_type=task)
        with quiet_peft():
            summarizer.model = get_peft_model(summarizer.model, lora)
    if config.lora:
        trainable = sum(p.numel() for p in summarizer.model.parameters() if p.requires_grad)
        logger.info("LoRA: %d trainable parameters", trainable)
    return summarizer, base


def training_arguments(output_dir: Path, config: TrainingSettings, *, has_eval: bool, use_cpu: bool = False,
                       label_smoothing: float = 0.0, show_progress: bool = False, dtype: str = "auto"):
    """HF ``TrainingArguments`` for a summarizer run (``dtype`` auto: bf16 autocast on GPUs that support it)."""
    import torch
    from transformers import TrainingArguments

    from quals.models.device import training_bf16

    bf16 = training_bf16(dtype, use_cpu=use_cpu)
    return TrainingArguments(
        output_dir=str(output_dir), learning_rate=config.learning_rate, num_train_epochs=config.num_train_epochs,
        max_steps=config.max_steps, per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size, gradient_accumulation_steps=config.gradient_accumulation_steps,
        weight_decay=config.weight_decay, warmup_steps=config.warmup_steps,
        lr_scheduler_type=config.lr_scheduler_type, max_grad_norm=config.max_grad_norm,
        label_smoothing_factor=label_smoothing, seed=config.seed, data_seed=config.seed,
        logging_steps=config.logging_steps, save_strategy="steps", save_steps=config.save_steps,
        save_total_limit=config.save_total_limit, eval_strategy="epoch" if has_eval else "no",
        report_to="none", remove_unused_columns=False, bf16=bf16, use_cpu=use_cpu, dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available() and not use_cpu,
        ddp_find_unused_parameters=False, disable_tqdm=not show_progress, logging_first_step=True,
    )


def last_checkpoint(output_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None


def train_and_save(trainer, summarizer: Summarizer, base: str, output_dir: Path, run: dict, *, lora: bool,
                   counts: dict, keep_checkpoints: bool) -> TrainingResult:
    """Train (resuming from the last checkpoint), evaluate, save the model and the finished info."""
    resume = last_checkpoint(output_dir)
    if resume:
        logger.info("resuming from %s", resume)
    output = trainer.train(resume_from_checkpoint=resume)
    metrics = dict(output.metrics)
    if trainer.eval_dataset is not None:
        metrics.update(trainer.evaluate())
    trainer.save_model(str(output_dir))
    result = TrainingResult(output_dir, counts["n_train"], counts["n_eval"], counts["n_skipped"],
                            trainer.state.global_step, _finite(metrics), resumed_from=resume)
    if trainer.is_world_process_zero():
        info = {"run": run, "complete": True, "format": format_dict(summarizer.format),
                "family": summarizer.format.family, "result": result.to_dict(), "versions": _versions(),
                "log_history": _finite_list(trainer.state.log_history)}
        if lora:
            info.update(base_model=base, base_fingerprint=base_fingerprint(base))
        if not keep_checkpoints:
            for checkpoint in output_dir.glob("checkpoint-*"):
                shutil.rmtree(checkpoint)
        # The settings are in the info file; the Trainer's pickled copy is not needed to load the model.
        (output_dir / "training_args.bin").unlink(missing_ok=True)
        write_info(output_dir, info)
    return result


def completed_result(output_dir: Path, info: dict) -> TrainingResult:
    saved = info.get("result", {})
    return TrainingResult(output_dir, saved.get("n_train", 0), saved.get("n_eval", 0), saved.get("n_skipped", 0),
                          saved.get("global_step", 0), saved.get("metrics", {}), saved.get("resumed_from"),
                          already_complete=True)


def model_record(model: str) -> dict:
    """How a run names its starting model: id that works from anywhere, and its weights."""
    from quals.models.fingerprint import directory_fingerprint

    if is_adapter(model):
        return {"model": canonical_id(model), "weights": directory_fingerprint(Path(model))}
    return {"model": canonical_id(model), "weights": base_fingerprint(model)}


def _versions() -> dict:
    from importlib.metadata import version

    from quals import __version__

    return {"quals": __version__, **{name: version(name) for name in ("torch", "transformers", "peft", "accelerate")}}


def _finite(metrics: dict) -> dict:
    import math

    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()}


def _finite_list(entries: list[dict]) -> list[dict]:
    return [_finite(entry) for entry in entries]
