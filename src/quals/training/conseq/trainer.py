"""ConSeq training: :class:`ConseqTrainer` (HF ``Trainer`` with the ConSeq loss) and
:func:`train_conseq`, which fine-tunes the MLE model on (document, positive, negative) triples.

Example:
    >>> from quals.training.conseq.trainer import train_conseq
    >>> from quals.training.conseq.config import ConseqConfig
    >>> result = train_conseq("triples.jsonl", "runs/conseq", model="runs/mle",
    ...                       config=ConseqConfig())  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

from transformers import Trainer

from quals.data.readers import strict_json_lines
from quals.training.conseq.collator import ConseqCollator
from quals.training.conseq.config import ConseqConfig
from quals.training.conseq.loss import conseq_loss
from quals.training.summarizer.mle import ListDataset
from quals.training.summarizer.model import is_adapter
from quals.training.summarizer.run import (
    TrainingResult,
    model_record,
    prepare_run,
    prepare_trainable,
    train_and_save,
    training_arguments,
)

logger = logging.getLogger(__name__)


class ConseqTrainer(Trainer):
    """HF ``Trainer`` whose loss is :func:`quals.training.conseq.loss.conseq_loss`.

    Batches come from :class:`quals.training.conseq.collator.ConseqCollator` (``labels`` and
    ``is_positive`` next to the model inputs). Logs ``loss_positive`` and ``loss_negative`` (mean
    per token of each term) beside the total ``loss``.

    Args:
        label_smoothing: epsilon on both terms (paper: 0.1).
        clamp_min: lower bound of 1 - p (paper: 1e-20).
        *args, **kwargs: as for ``transformers.Trainer``.
    """

    # The loss is a per-micro-batch mean: the Trainer divides it by the accumulation steps.
    loss_is_scaled_for_ga = False

    def __init__(self, *args, label_smoothing: float = 0.1, clamp_min: float = 1e-20, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.label_smoothing = label_smoothing
        self.clamp_min = clamp_min
        self._stored: dict[str, dict[str, list[float]]] = {"train": defaultdict(list), "eval": defaultdict(list)}

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = dict(inputs)
        labels = inputs.pop("labels")
        is_positive = inputs.pop("is_positive")
        outputs = model(**inputs)
        logits = outputs.logits
        if not self.accelerator.unwrap_model(model).config.is_encoder_decoder:
            logits, labels = logits[:, :-1], labels[:, 1:]  # position t predicts token t + 1
        result = conseq_loss(logits, labels, is_positive, label_smoothing=self.label_smoothing,
                             clamp_min=self.clamp_min)
        stored = self._stored["train" if model.training else "eval"]
        stored["loss_positive"].append(float(result.positive))
        stored["loss_negative"].append(float(result.negative))
        return (result.loss, outputs) if return_outputs else result.loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        mode = "eval" if any(key.startswith("eval_") for key in logs) else "train"
        prefix = "eval_" if mode == "eval" else ""
        for key, values in self._stored[mode].items():
            if values:
                logs[prefix + key] = sum(values) / len(values)
        self._stored[mode].clear()
        super().log(logs, start_time)


def read_triples(path: str | Path) -> list[dict]:
    """The (document, positive, negative) records of a ``quals conseq select`` output (JSONL).

    Raises:
        ValueError: a line is not JSON or lacks a text field.
    """
    triples = []
    with open(path, encoding="utf-8") as handle:
        for _, record in strict_json_lines(handle, str(path), ("document", "positive", "negative"), kind=str):
            triples.append(record)
    return triples


def train_conseq(triples_path: str | Path, output_dir: str | Path, *, model: str,
                 config: ConseqConfig = ConseqConfig(), overwrite: bool = False, use_cpu: bool = False,
                 show_progress: bool = False, dtype: str = "auto") -> TrainingResult:
    """Fine-tune the MLE summarizer ``model`` with the ConSeq loss on the triples of ``triples_path``.

    Args:
        triples_path: output of ``quals conseq select``.
        output_dir: checkpoints and the final model (or adapter); rerunning resumes.
        model: the MLE model (directory, adapter directory, hub id or ``packaged:NAME``).
        config: paper defaults; ``lora=None`` trains an adapter further when ``model`` is one.
        overwrite: discard an existing run in ``output_dir``.
        use_cpu: train on the CPU even when a GPU is there.
        show_progress: progress bars on stderr.
        dtype: mixed precision: ``auto`` (bf16 on GPUs that support it), ``bfloat16`` or ``float32``.

    Raises:
        ValueError: no triples.
        FileExistsError: ``output_dir`` holds another run (and not ``overwrite``).
    """
    from dataclasses import replace

    if config.lora is None:
        config = replace(config, lora=is_adapter(model))
    output_dir = Path(output_dir)
    run = {"stage": "conseq-train", **model_record(model), "config": config.to_dict(),
           "triples": str(Path(triples_path).resolve())}
    directory, finished, last = prepare_run(output_dir, run, overwrite)
    if finished is not None:
        return finished
    triples = read_triples(triples_path)
    if not triples:
        raise ValueError(f"{triples_path} holds no triples: the selection kept no document")
    summarizer, base = prepare_trainable(model, config)
    data = ListDataset([{"positive": summarizer.encode_example(t["document"], t["positive"]),
                         "negative": summarizer.encode_example(t["document"], t["negative"])} for t in triples])
    args = training_arguments(directory, config, has_eval=False, use_cpu=use_cpu, show_progress=show_progress,
                              dtype=dtype)
    trainer = ConseqTrainer(model=summarizer.model, args=args, train_dataset=data,
                            data_collator=ConseqCollator(summarizer.tokenizer, summarizer.model),
                            processing_class=summarizer.tokenizer, label_smoothing=config.label_smoothing,
                            clamp_min=config.clamp_min)
    counts = {"n_train": len(triples), "n_eval": 0, "n_skipped": 0}
    return train_and_save(trainer, summarizer, base, directory, last, lora=bool(config.lora), counts=counts,
                          keep_checkpoints=config.keep_checkpoints, adapter_dtype=config.adapter_dtype)
