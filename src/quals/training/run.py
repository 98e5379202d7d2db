"""What every training run shares (QAGen, MLE and ConSeq summarizers): the run directory and its
resume rule, HF ``TrainingArguments`` with one precision policy, the trained-seconds clock and
the tidy save. Trainers differ only in their data, their ``compute_loss`` and what they record.

The run directory rule:

- ``OUT/checkpoints/`` holds the Trainer's ``checkpoint-N`` (model, optimiser, scheduler and RNG
  states) and ``quals_train_config.json``, the settings that started the run;
- a finished run writes its info file (``quals_qagen.json``, ``quals_summarizer.json``) into
  ``OUT`` with the same settings; rerunning the same command then returns at once, and any other
  settings are refused;
- an unfinished run resumes from its last checkpoint when rerun, unless a setting that changes the
  data or the model changed (:data:`RESUMABLE_CHANGES` may: logging, saving, the step budget);
- ``overwrite`` discards the checkpoints and the info file first.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from quals.files import atomic_write_json

logger = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
RUN_CONFIG_FILE = "quals_train_config.json"
ELAPSED_FILE = "quals_elapsed.json"
# Settings that may change when a run resumes: they change neither the data nor the model.
RESUMABLE_CHANGES = frozenset({
    "resume", "overwrite", "progress", "save_steps", "eval_steps", "logging_steps", "save_total_limit",
    "max_steps", "num_train_epochs", "eval_batch_size", "adapter_dtype", "keep_checkpoints",
})

# Settings about how to run, not what: a finished run with other values of these is the same run.
HOW_TO_RUN = frozenset({"resume", "overwrite", "progress"})


def changed_settings(recorded: dict, current: dict, ignore: frozenset[str] = RESUMABLE_CHANGES,
                     prefix: str = "") -> list[str]:
    """Dotted names of the settings whose values differ, nested dicts compared key by key (lists
    and tuples alike, since JSON keeps no tuples); names in ``ignore`` may differ. A setting absent
    from ``recorded`` was added by a newer version after that run started: its default is what the
    run did, so it does not count."""
    changed = []
    for name in sorted(set(recorded) & set(current)):
        if name in ignore:
            continue
        old, new = recorded.get(name), current.get(name)
        if isinstance(old, dict) and isinstance(new, dict):
            changed += changed_settings(old, new, ignore, f"{prefix}{name}.")
        elif _normal(old) != _normal(new):
            changed.append(prefix + name)
    return changed


def _normal(value):
    return [_normal(v) for v in value] if isinstance(value, (list, tuple)) else value


@dataclass(frozen=True)
class RunDirectory:
    """A training run's output directory; see the module docstring for the rule.

    Attributes:
        output: the trained model (or adapter) and its info file go here.
        info_file: name of the finished run's info file in ``output``.
        settings: what started the run (recorded, compared on rerun).
    """

    output: Path
    info_file: str
    settings: dict

    @property
    def checkpoints(self) -> Path:
        return self.output / CHECKPOINTS

    def finished_info(self) -> dict | None:
        path = self.output / self.info_file
        return json.loads(path.read_text()) if path.is_file() else None

    def prepare(self, *, overwrite: bool, resume: bool = True, is_main: bool = True) -> tuple[dict | None, str | None]:
        """(the finished run's info when ``output`` holds this exact run, checkpoint to resume from).

        Raises:
            FileExistsError: ``output`` holds another finished run, unrelated files, or
                checkpoints while ``resume`` is off (pass ``overwrite``).
            ValueError: the checkpoints were written with settings that may not change.
        """
        from transformers.trainer_utils import get_last_checkpoint

        if overwrite:
            if is_main:
                shutil.rmtree(self.checkpoints, ignore_errors=True)
                (self.output / self.info_file).unlink(missing_ok=True)
        info = self.finished_info()
        if info is not None and info.get("complete", True):
            recorded = info.get("run")
            if isinstance(recorded, dict) and not changed_settings(recorded, self.settings, HOW_TO_RUN):
                return info, None
            raise FileExistsError(f"{self.output} holds a finished training run with other settings (see "
                                  f"{self.output / self.info_file}); pass --overwrite or choose another directory")
        record = self.checkpoints / RUN_CONFIG_FILE
        if not overwrite and not record.is_file() and self.output.is_dir() and any(
                p.name not in (CHECKPOINTS, self.info_file) for p in self.output.iterdir()):
            raise FileExistsError(f"{self.output} is not empty and holds no quals training run; choose another "
                                  f"directory or pass --overwrite")
        last = get_last_checkpoint(str(self.checkpoints)) if self.checkpoints.is_dir() else None
        if last is not None and not resume:
            raise FileExistsError(f"{self.checkpoints} holds checkpoints; resume (default) or pass --overwrite")
        if record.is_file():
            recorded = json.loads(record.read_text())
            conflicts = changed_settings(recorded.get("run", recorded), self.settings)
            if conflicts and last is not None:
                raise ValueError(f"cannot resume {self.checkpoints}: {', '.join(conflicts)} changed since the "
                                 "checkpoints were written; pass the same settings or --overwrite")
        if is_main:
            self.checkpoints.mkdir(parents=True, exist_ok=True)
            atomic_write_json(record, {"run": self.settings})
        return None, last

    def save_weights(self, trainer) -> bool:
        """Save the trained weights (or adapter) into ``output``; True on the process that writes
        the rest of the run's files."""
        trainer.save_model(str(self.output))
        if not trainer.is_world_process_zero():
            return False
        # The settings are in the info file; the Trainer's pickled copy and peft's empty card are not
        # needed to load the model.
        for leftover in ("training_args.bin", "README.md"):
            (self.output / leftover).unlink(missing_ok=True)
        return True

    def complete(self, info: dict, *, keep_checkpoints: bool = True) -> None:
        """Write the info file, the run's completion mark, once everything else is in place."""
        atomic_write_json(self.output / self.info_file, {"run": self.settings, "complete": True, **info})
        if not keep_checkpoints:
            shutil.rmtree(self.checkpoints, ignore_errors=True)


def training_arguments(run: RunDirectory, settings, *, learning_rate: float, has_eval: bool,
                       eval_steps: int | None = None, eval_batch_size: int | None = None, bf16: bool | None = None,
                       use_cpu: bool = False, show_progress: bool = False, **extra):
    """HF ``TrainingArguments`` for ``settings`` (any config with the common step, batch, optimiser,
    schedule, seed, logging and checkpoint fields); held-out loss every ``eval_steps`` or, without
    it, every epoch; bf16 as ``bf16`` says (None: on CUDA GPUs that support it); ``extra`` as
    ``TrainingArguments`` takes it."""
    import torch
    from transformers import TrainingArguments

    from quals.models.device import resolve_bf16

    evaluation = {"eval_strategy": "no"}
    if has_eval:
        evaluation = {"eval_strategy": "steps", "eval_steps": eval_steps} if eval_steps else {"eval_strategy": "epoch"}
    return TrainingArguments(
        output_dir=str(run.checkpoints), seed=settings.seed, data_seed=settings.seed, learning_rate=learning_rate,
        num_train_epochs=settings.num_train_epochs, max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=eval_batch_size or settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps, warmup_steps=settings.warmup_steps,
        weight_decay=settings.weight_decay, lr_scheduler_type=settings.lr_scheduler_type,
        max_grad_norm=settings.max_grad_norm, bf16=resolve_bf16(bf16, use_cpu=use_cpu), use_cpu=use_cpu,
        save_strategy="steps", save_steps=settings.save_steps, save_total_limit=settings.save_total_limit,
        logging_steps=settings.logging_steps, logging_first_step=True, disable_tqdm=not show_progress,
        report_to="none", remove_unused_columns=False, dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available() and not use_cpu, **evaluation, **extra,
    )


def elapsed_clock(checkpoint: str | None):
    """A Trainer callback summing training seconds over interrupted and resumed runs (stored in
    each checkpoint); its ``total`` is the seconds so far."""
    from transformers import TrainerCallback

    class ElapsedTime(TrainerCallback):
        def __init__(self, previous: float) -> None:
            self.previous = previous
            self.started = time.monotonic()

        @property
        def total(self) -> float:
            return self.previous + time.monotonic() - self.started

        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                saved = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                if saved.is_dir():
                    (saved / ELAPSED_FILE).write_text(json.dumps({"seconds": self.total}))

    previous = 0.0
    if checkpoint is not None and (Path(checkpoint) / ELAPSED_FILE).is_file():
        previous = float(json.loads((Path(checkpoint) / ELAPSED_FILE).read_text())["seconds"])
    return ElapsedTime(previous)


def train(trainer, checkpoint: str | None):
    """``trainer.train``, resuming from ``checkpoint`` when there is one."""
    if checkpoint is not None:
        logger.info("resuming from %s", checkpoint)
    return trainer.train(resume_from_checkpoint=checkpoint)


def close_processes() -> None:
    """Under ``torchrun`` / ``accelerate launch``: wait until every process has saved, then destroy
    the process group the Trainer created. Left to interpreter exit, gloo's threads are torn down
    in no set order and a process whose work is done can abort ("terminate called without an
    active exception", SIGABRT: 1 two-process launch in 15 on a loaded 2-core machine). A plain run
    has no process group and returns at once."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def finite(metrics: dict) -> dict:
    """``metrics`` with NaN/inf as None (JSON has no NaN)."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()}


def versions() -> dict:
    """The stack a training run used (one spelling for every run record)."""
    from quals.provenance import versions as stack

    return stack("peft", "accelerate")
