"""Train a QAGen: the paper's recipe (Nan et al. 2021) on any seq2seq or decoder-only backbone.

Replicated: examples from extractive QA data, one per distinct answer of a question (NewsQA:
consensus span only); target ``question <SEP> answer <EOS>`` with a single separator token for
seq2seq models; full fine-tuning of encoder-decoder models; teacher-forced cross-entropy on the
QA tokens only. Differs: decoder-only backbones (the paper used BART-large) read the passage in a
prompt and are trained fully or with LoRA; a long passage keeps a window around the answer
instead of its first 1023 tokens; the QA text is the model's own :class:`QAFormat`, so what is
trained is exactly what ``quals score`` generates and scores.

Training runs on the transformers ``Trainer`` (accelerate underneath): the same call works on one
CPU, one GPU, or many GPUs and nodes under ``accelerate launch``/``torchrun``, with bf16 on GPUs
that support it, seeded data order, checkpoints that resume, a progress bar and a held-out loss.

Example:
    >>> from quals.training.qagen.trainer import QAGenTrainingConfig, train_qagen
    >>> config = QAGenTrainingConfig(train_files=("train.json.gz",), heldout_files=("dev.json.gz",),
    ...                              output_dir="my-qagen", max_examples=2000, seed=13)
    >>> result = train_qagen(config)             # doctest: +SKIP
    >>> # quals score data.jsonl -o scores.jsonl --model my-qagen
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import PartialState
from transformers import Trainer, set_seed

from quals.data.qa_datasets import read_qa_files
from quals.models.loading import QAGEN_INFO_FILE, save_format
from quals.training import run as runs
from quals.training.lora import finalize_adapter
from quals.training.qagen.model import TrainableModel, load_trainable
from quals.training.qagen.config import QAGenTrainingConfig
from quals.training.qagen.examples import (
    IGNORE_INDEX,
    QACollator,
    QAFeatureDataset,
    seeded_subset,
    split_by_passage,
)
from quals.metrics.qags_questions import QGPromptRecord
from quals.training.qagen.tasks import build_task_feature

logger = logging.getLogger(__name__)



# ----- loss (pure) -----------------------------------------------------------------------------
def labelled_tail(labels: torch.Tensor) -> int:
    """Positions whose logits a left-padded causal batch needs: the longest labelled tail + 1."""
    counts = (labels != IGNORE_INDEX).sum(-1)
    return min(int(counts.max()) + 1, labels.shape[1])


def causal_qa_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the labelled tokens of a causal LM batch.

    Args:
        logits: (batch, T, vocab) logits of the **last** T positions (T <= sequence length).
        labels: (batch, L) token ids, ``IGNORE_INDEX`` where there is no target.

    Returns:
        Scalar: mean over labelled tokens of -log p(token | previous tokens), computed in float32.
        Logit t predicts token t + 1, so the last logit is unused and targets are the last T - 1
        labels.
    """
    width = logits.shape[1]
    if width < 2 or width > labels.shape[1]:
        raise ValueError(f"need 2 <= logit positions <= {labels.shape[1]}, got {width}")
    targets = labels[:, labels.shape[1] - width + 1:]
    predictions = logits[:, :-1].float()
    return F.cross_entropy(predictions.reshape(-1, predictions.shape[-1]), targets.reshape(-1),
                           ignore_index=IGNORE_INDEX)


class QAGenTrainer(Trainer):
    """``Trainer`` whose loss covers the QA tokens only.

    Causal batches (left-padded by :class:`QACollator`) ask the model for the logits of the last
    positions only (``logits_to_keep``): the prompt's logits are never computed, which saves the
    output-layer work of every passage token. Seq2seq models compute their own loss from labels.
    The loss is a per-batch mean, divided by the gradient-accumulation steps by the Trainer.
    """

    loss_is_scaled_for_ga = False

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if "position_ids" not in inputs:
            outputs = model(**inputs)
            loss = outputs.loss
        else:
            labels = inputs["labels"]
            outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                            position_ids=inputs["position_ids"], logits_to_keep=labelled_tail(labels))
            loss = causal_qa_loss(outputs.logits, labels)
        return (loss, outputs) if return_outputs else loss


@dataclass(frozen=True)
class QAGenTrainingResult:
    """What a training run produced.

    Attributes:
        output_dir: the model directory (full fine-tuning) or adapter directory (LoRA); load it
            with ``QAGen(output_dir)`` or ``quals score --model output_dir``.
        lora: whether it is an adapter.
        global_step: optimizer steps done (all runs together).
        train_loss: mean training loss of this run's steps.
        eval_loss: held-out loss at the end (None without held-out data).
        train_seconds: training time, summed over resumed runs.
        n_train: training examples.
        n_eval: held-out examples.
    """

    output_dir: str
    lora: bool
    global_step: int
    train_loss: float
    eval_loss: float | None
    train_seconds: float
    n_train: int
    n_eval: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_info(cls, output_dir: str, info: dict) -> QAGenTrainingResult:
        """The result a finished run recorded in ``quals_qagen.json``."""
        data = info.get("data", {})
        return cls(output_dir=output_dir, lora=bool(info.get("lora")), global_step=int(info.get("global_step", 0)),
                   train_loss=info.get("train_loss"), eval_loss=info.get("eval_loss"),
                   train_seconds=float(info.get("train_seconds", 0.0)), n_train=int(data.get("train_examples", 0)),
                   n_eval=int(data.get("heldout_examples", 0)))


# ----- data --------------------------------------------------------------------------------
def _split(config: QAGenTrainingConfig):
    split = None if config.newsqa_split == "all" else config.newsqa_split
    examples, stats = read_qa_files(config.train_files, config.data_format, newsqa_split=split)
    if not examples:
        raise ValueError(f"no training examples in {', '.join(config.train_files)}")
    if config.heldout_files:
        held_split = None if config.heldout_newsqa_split == "all" else config.heldout_newsqa_split
        heldout, _ = read_qa_files(config.heldout_files, config.data_format, newsqa_split=held_split)
        heldout = seeded_subset(heldout, config.eval_size, config.seed)
        train = examples
    else:
        train, heldout = split_by_passage(examples, config.eval_size, config.seed)
    return seeded_subset(train, config.max_examples, config.seed), heldout, stats


def _features(trainable: TrainableModel, examples, config: QAGenTrainingConfig):
    prompt = qg_prompt_record(config).prompt(trainable.backbone) if config.task == "qg" else None
    built = [build_task_feature(config.task, trainable.backbone, e, config.max_context_tokens, prompt)
             for e in examples]
    features = [f for f in built if f is not None]
    if len(features) < len(built):
        logger.info("%d of %d examples skipped: a question without '?' teaches QAGS's generator nothing",
                    len(built) - len(features), len(built))
    truncated = sum(f.truncated for f in features)
    if truncated:
        logger.info("%d of %d passages cut to a window around the answer", truncated, len(features))
    return features, truncated


def qg_prompt_record(config: QAGenTrainingConfig) -> QGPromptRecord:
    """The question-generation prompt of a ``qg`` run."""
    return QGPromptRecord(config.qg_template, config.qg_instruction or None)


def _file_record(path: str) -> dict:
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return {"path": path, "sha256": digest}


# ----- run directory -----------------------------------------------------------------------
def _training_arguments(config: QAGenTrainingConfig, run: runs.RunDirectory, lora: bool, has_eval: bool,
                        use_cpu: bool = False):
    return runs.training_arguments(
        run, config, learning_rate=config.resolved_learning_rate(lora), has_eval=has_eval,
        eval_steps=config.eval_steps, eval_batch_size=config.eval_batch_size, bf16=config.bf16,
        show_progress=config.progress, use_cpu=use_cpu,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        prediction_loss_only=True, label_names=["labels"],
    )


def _final_eval_loss(trainer: Trainer) -> float:
    """The held-out loss after the last step (reused when the last step already evaluated)."""
    for record in reversed(trainer.state.log_history):
        if "eval_loss" in record and record.get("step") == trainer.state.global_step:
            return float(record["eval_loss"])
    return float(trainer.evaluate()["eval_loss"])


def _save_result(run: runs.RunDirectory, trainer: Trainer, trainable: TrainableModel, config: QAGenTrainingConfig,
                 info: dict) -> None:
    """Write the model (or adapter), its QA format and, last, ``quals_qagen.json``."""
    if not run.save_weights(trainer):
        return
    if trainable.lora:
        finalize_adapter(run.output, config.model, config.adapter_dtype)
    else:
        trainable.tokenizer.save_pretrained(str(run.output))
    save_format(trainable.backbone.qa_format, run.output)
    run.complete(info)


def _run_info(config: QAGenTrainingConfig, trainable: TrainableModel, trainer: Trainer, data: dict, *,
              train_loss: float, eval_loss: float | None, seconds: float, resumed_from: str | None) -> dict:
    """Everything ``quals_qagen.json`` records about a finished run."""
    task = {"task": config.task}
    if config.task == "qg":
        task["qg_prompt"] = qg_prompt_record(config).to_dict()
    return {
        **task,
        "base_model": config.model,
        "base_fingerprint": trainable.base_fingerprint,
        "family": trainable.family,
        "lora": trainable.lora,
        "added_tokens": list(trainable.added_tokens),
        "qa_format": asdict(trainable.backbone.qa_format),
        "data": data,
        "global_step": trainer.state.global_step,
        "epochs": trainer.state.epoch,
        "train_seconds": round(seconds, 1),
        "train_loss": train_loss,
        "eval_loss": eval_loss,
        "world_size": trainer.args.world_size,
        "device": str(trainer.args.device),
        "bf16": trainer.args.bf16,
        "resumed_from": resumed_from,
        "config": config.to_dict(),
        "versions": runs.versions(),
    }


def train_qagen(config: QAGenTrainingConfig, *, use_cpu: bool = False) -> QAGenTrainingResult:
    """Train a QAGen as ``config`` says; resume from the output directory's last checkpoint.

    ``use_cpu`` trains on the CPU even when a GPU is there (as for summarizers and the classifier).

    Raises:
        ValueError: no data, bad settings, or resume settings that differ from the checkpoints'.
        FileExistsError: the output directory already holds a trained QAGen (pass ``overwrite``).
    """
    if not config.output_dir:
        raise ValueError("output_dir is required")
    if not config.train_files:
        raise ValueError("give at least one training file")
    state = PartialState()
    run = runs.RunDirectory(Path(config.output_dir), QAGEN_INFO_FILE, config.to_dict())
    with state.main_process_first():  # the main process clears (--overwrite) and creates the directory
        done, last = run.prepare(overwrite=config.overwrite, resume=config.resume, is_main=state.is_main_process)
    if done is not None:
        logger.info("%s already holds this finished run", run.output)
        return QAGenTrainingResult.from_info(str(config.output_dir), done)
    train_examples, heldout_examples, stats = _split(config)
    set_seed(config.seed)  # LoRA's initialisation draws from the global generator, as the Trainer's own init does
    trainable = load_trainable(config)
    train_features, truncated = _features(trainable, train_examples, config)
    eval_features, _ = _features(trainable, heldout_examples, config)
    if not train_features:
        raise ValueError(f"no training example is usable for task {config.task!r}")
    args = _training_arguments(config, run, trainable.lora, bool(eval_features), use_cpu)
    clock = runs.elapsed_clock(last)
    trainer = QAGenTrainer(
        model=trainable.model,
        args=args,
        train_dataset=QAFeatureDataset(train_features),
        eval_dataset=QAFeatureDataset(eval_features) if eval_features else None,
        data_collator=QACollator(trainable.backbone.pad_token_id, trainable.family),
        processing_class=None if trainable.lora else trainable.tokenizer,
        callbacks=[clock],
    )
    outcome = runs.train(trainer, last)
    seconds = clock.total
    eval_loss = _final_eval_loss(trainer) if eval_features else None
    data = {
        "train_files": [_file_record(p) for p in config.train_files],
        "heldout_files": [_file_record(p) for p in config.heldout_files],
        "read": stats.to_dict(),
        "train_examples": len(train_features),
        "heldout_examples": len(eval_features),
        "truncated_passages": truncated,
    }
    info = _run_info(config, trainable, trainer, data, train_loss=outcome.training_loss, eval_loss=eval_loss,
                     seconds=seconds, resumed_from=last)
    _save_result(run, trainer, trainable, config, info)
    runs.close_processes()
    return QAGenTrainingResult(
        output_dir=str(config.output_dir), lora=trainable.lora, global_step=trainer.state.global_step,
        train_loss=outcome.training_loss, eval_loss=eval_loss, train_seconds=seconds,
        n_train=len(train_features), n_eval=len(eval_features),
    )
