"""MLE fine-tuning of a summarizer: label-smoothed cross-entropy on (document, reference) rows.

The paper's MLE baseline is BART fine-tuned with lr 3e-5 and label smoothing 0.1; any HF
encoder-decoder or decoder-only model works here, fully or with a LoRA adapter. The loss is HF
``Trainer``'s own label smoother (``label_smoothing_factor``): per token
``(1 - eps) * NLL + eps * mean over the vocabulary of -log p``, the form fairseq used.

Example:
    >>> from quals.training.summarizer.mle import train_summarizer
    >>> from quals.training.summarizer.config import SummarizerConfig
    >>> result = train_summarizer("train.jsonl", "runs/mle", model="packaged:smollm2-135m-instruct",
    ...                           config=SummarizerConfig(lora=True, learning_rate=2e-4))  # doctest: +SKIP
    >>> result.output_dir  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict
from pathlib import Path

from quals.data.readers import FieldMap, read_rows
from quals.training.summarizer.config import DEFAULT_SUMMARIZER, SummarizerConfig
from quals.training.summarizer.run import (
    TrainingResult,
    model_record,
    prepare_run,
    prepare_trainable,
    train_and_save,
    training_arguments,
)

logger = logging.getLogger(__name__)


def read_pairs(path: str | Path, fields: FieldMap = FieldMap(), input_format: str | None = None
               ) -> tuple[list[tuple[str, str]], int]:
    """(document, summary) pairs of a file and the number of unusable rows (each logged)."""
    pairs: list[tuple[str, str]] = []
    skipped = 0
    for row in read_rows(path, fields, input_format):
        if row.error:
            skipped += 1
            logger.warning("%s row %d skipped: %s", path, row.index, row.error)
            continue
        pairs.append((row.document, row.summary))
    return pairs, skipped


def split_holdout(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded split of ``range(n)`` into (train, held-out) indices, both in input order."""
    import numpy as np

    if fraction <= 0 or n < 2:
        return list(range(n)), []
    n_eval = min(n - 1, max(1, math.floor(fraction * n + 0.5)))
    held = set(np.random.default_rng(seed).permutation(n)[:n_eval].tolist())
    return [i for i in range(n) if i not in held], sorted(held)


class ListDataset:
    """A list as a map-style dataset (HF Trainer needs ``__len__`` and ``__getitem__``)."""

    def __init__(self, items: list) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        return self.items[index]


def train_summarizer(train_path: str | Path, output_dir: str | Path, *, model: str = DEFAULT_SUMMARIZER,
                     config: SummarizerConfig = SummarizerConfig(), fields: FieldMap = FieldMap(),
                     eval_path: str | Path | None = None, input_format: str | None = None,
                     overwrite: bool = False, use_cpu: bool = False, show_progress: bool = False,
                     dtype: str = "auto") -> TrainingResult:
    """Fine-tune ``model`` by MLE on the (document, summary) rows of ``train_path``.

    Args:
        train_path: JSONL/CSV/Parquet training rows.
        output_dir: where checkpoints and the final model (or LoRA adapter) go; rerunning resumes.
        model: starting model (hub id, directory, ``packaged:NAME`` or a quals adapter directory).
        config: training settings (paper defaults).
        fields: names of the document, summary and id fields.
        eval_path: held-out rows for the held-out loss (default: ``config.eval_fraction`` of the
            training rows, seeded).
        input_format: ``jsonl``, ``csv`` or ``parquet`` (default: from the file name).
        overwrite: discard an existing run in ``output_dir``.
        use_cpu: train on the CPU even when a GPU is there.
        show_progress: progress bars on stderr.
        dtype: mixed precision: ``auto`` (bf16 on GPUs that support it), ``bfloat16`` or ``float32``.

    Raises:
        ValueError: no usable training rows.
        FileExistsError: ``output_dir`` holds another run (and not ``overwrite``).
    """
    output_dir = Path(output_dir)
    run = {"stage": "train-summarizer", **model_record(model), "config": config.to_dict(),
           "train": str(Path(train_path).resolve()), "eval": str(Path(eval_path).resolve()) if eval_path else None,
           "fields": asdict(fields)}
    directory, finished, last = prepare_run(output_dir, run, overwrite)
    if finished is not None:
        return finished
    pairs, skipped = read_pairs(train_path, fields, input_format)
    if eval_path is not None:
        held, skipped_eval = read_pairs(eval_path, fields, input_format)
        skipped += skipped_eval
    else:
        train_idx, eval_idx = split_holdout(len(pairs), config.eval_fraction, config.seed)
        pairs, held = [pairs[i] for i in train_idx], [pairs[i] for i in eval_idx]
    if not pairs:
        raise ValueError(f"{train_path} has no usable (document, summary) rows")
    summarizer, base = prepare_trainable(model, config, {"instruction": config.instruction})
    encode = lambda items: ListDataset([summarizer.encode_example(d, s) for d, s in items])  # noqa: E731
    trainer = _mle_trainer(summarizer, config, directory, encode(pairs), encode(held) if held else None,
                           use_cpu, show_progress, dtype)
    counts = {"n_train": len(pairs), "n_eval": len(held), "n_skipped": skipped}
    return train_and_save(trainer, summarizer, base, directory, last, lora=config.lora, counts=counts,
                          keep_checkpoints=config.keep_checkpoints, adapter_dtype=config.adapter_dtype)


def _mle_trainer(summarizer, config: SummarizerConfig, directory, train, held, use_cpu: bool,
                 show_progress: bool, dtype: str = "auto"):
    from transformers import DataCollatorForSeq2Seq, Trainer

    args = training_arguments(directory, config, has_eval=held is not None, use_cpu=use_cpu,
                              label_smoothing=config.label_smoothing, show_progress=show_progress, dtype=dtype)
    # Pads input_ids with the pad token and labels with -100, on the tokenizer's padding side, and
    # builds decoder_input_ids from the labels for encoder-decoder models.
    collator = DataCollatorForSeq2Seq(summarizer.tokenizer, model=summarizer.model, label_pad_token_id=-100)
    return Trainer(model=summarizer.model, args=args, train_dataset=train, eval_dataset=held,
                   data_collator=collator, processing_class=summarizer.tokenizer)
