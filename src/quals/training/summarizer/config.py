"""Settings of summarizer training (MLE) and of summary decoding. Torch-free, so the CLI can build
its flags from them.

Defaults are the paper's (Nan et al. 2021, ACL, and the authors' released code) unless the help says otherwise:
MLE lr 3e-5 with label smoothing 0.1; test decoding XSum beam 6 / max 60 / min 10, CNN/DM beam 4 /
max 140 / min 55; ConSeq candidates: 6 samples, top-k 50, max 60, min 10.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from quals.models.packaged import DEFAULT_BASE_MODEL
from quals.training.qagen.config import ADAPTER_DTYPES

DEFAULT_INSTRUCTION = "Summarize the following news article in a few sentences."
# What summarizers start from by default: the packaged base model (never a QAGen adapter).
DEFAULT_SUMMARIZER = DEFAULT_BASE_MODEL


@dataclass(frozen=True)
class TrainingSettings:
    """What every summarizer training run (MLE or ConSeq) needs; subclasses set the defaults."""

    # optimisation
    learning_rate: float = field(default=3e-5, metadata={"help": "Peak learning rate (paper MLE: 3e-5)."})
    num_train_epochs: float = field(default=3.0, metadata={"help": "Epochs over the training rows."})
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many optimiser steps (-1: use epochs)."})
    batch_size: int = field(default=8, metadata={"help": "Training examples per device and step."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Micro-batches per optimiser step."})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay (BART recipe: 0.01)."})
    warmup_steps: int = field(default=0, metadata={"help": "Linear warm-up steps."})
    lr_scheduler_type: str = field(default="linear", metadata={"help": "HF scheduler name (linear, constant, ...)."})
    max_grad_norm: float = field(default=0.1, metadata={"help": "Gradient clipping norm (BART recipe: 0.1)."})
    label_smoothing: float = field(default=0.1, metadata={"help": "Label smoothing epsilon (paper: 0.1)."})
    # model
    lora: bool = field(default=False, metadata={"help": "Train a LoRA adapter on all linear projections "
                                                        "instead of every weight (paper: full fine-tuning)."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling alpha."})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout."})
    max_source_tokens: int = field(default=1024, metadata={"help": "Document tokens kept (paper, BART: 1024)."})
    max_summary_tokens: int = field(default=256, metadata={"help": "Summary tokens kept, EOS included."})
    # bookkeeping
    seed: int = field(default=0, metadata={"help": "Seed of initialisation, shuffling and dropout."})
    logging_steps: int = field(default=10, metadata={"help": "Log the losses every this many steps."})
    save_steps: int = field(default=200, metadata={"help": "Checkpoint (the resume point) every this many steps."})
    save_total_limit: int = field(default=2, metadata={"help": "Checkpoints kept while training."})
    keep_checkpoints: bool = field(default=False, metadata={"help": "Keep OUT/checkpoints/ after a "
                                                                    "completed run (default: removed)."})
    adapter_dtype: str = field(default="float32", metadata={
        "help": "Dtype of the saved LoRA weights: float32, float16 (half the size, small enough to commit) or "
                "bfloat16. Training and checkpoints are unaffected.", "choices": ADAPTER_DTYPES})

    def __post_init__(self) -> None:
        if self.adapter_dtype not in ADAPTER_DTYPES:
            raise ValueError(f"adapter_dtype must be one of {', '.join(ADAPTER_DTYPES)}; got {self.adapter_dtype!r}")
        for name in ("batch_size", "gradient_accumulation_steps", "lora_r", "lora_alpha", "max_source_tokens",
                     "max_summary_tokens", "logging_steps", "save_steps", "save_total_limit"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.num_train_epochs <= 0 and self.max_steps <= 0:
            raise ValueError("num_train_epochs or max_steps must be positive")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.max_grad_norm <= 0 or self.weight_decay < 0 or self.warmup_steps < 0:
            raise ValueError("max_grad_norm must be > 0, weight_decay and warmup_steps >= 0")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SummarizerConfig(TrainingSettings):
    """MLE fine-tuning of a summarizer (``quals train-summarizer``)."""

    instruction: str = field(default=DEFAULT_INSTRUCTION,
                             metadata={"help": "Decoder-only models: the instruction before the document."})
    eval_fraction: float = field(default=0.0, metadata={"help": "Share of training rows held out (seeded) for a "
                                                                "held-out loss, when no --eval-file is given."})

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.eval_fraction < 1.0:
            raise ValueError(f"eval_fraction must be in [0, 1), got {self.eval_fraction}")
        if not self.instruction.strip():
            raise ValueError("instruction must not be empty")


@dataclass(frozen=True)
class DecodingConfig:
    """How summaries are decoded. Token counts are of generated tokens, EOS included."""

    num_beams: int = field(default=4, metadata={"help": "Beam width (1 with sampling)."})
    do_sample: bool = field(default=False, metadata={"help": "Sample instead of beam search."})
    top_k: int = field(default=50, metadata={"help": "Sampling: keep the k most likely tokens (0: all)."})
    top_p: float = field(default=1.0, metadata={"help": "Sampling: nucleus mass (1.0: off)."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature."})
    num_return_sequences: int = field(default=1, metadata={"help": "Summaries per document (samples, or the "
                                                                   "best beams)."})
    max_new_tokens: int = field(default=140, metadata={"help": "Most generated tokens."})
    min_new_tokens: int = field(default=55, metadata={"help": "EOS is blocked before this many tokens."})
    length_penalty: float = field(default=1.0, metadata={"help": "Beam score / length**lp."})
    no_repeat_ngram_size: int = field(default=0, metadata={"help": "Forbid repeating n-grams of this size (0: off; "
                                                                   "fairseq's BART CNN/DM recipe: 3)."})

    def __post_init__(self) -> None:
        for name in ("num_beams", "num_return_sequences", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.min_new_tokens < self.max_new_tokens:
            raise ValueError(f"min_new_tokens must be in [0, max_new_tokens), got {self.min_new_tokens} "
                             f"with max_new_tokens {self.max_new_tokens}")
        if self.do_sample and self.num_beams != 1:
            raise ValueError("sampling draws each sequence independently: use num_beams=1 with do_sample")
        if not self.do_sample and self.num_return_sequences > self.num_beams:
            raise ValueError(f"beam search returns at most num_beams ({self.num_beams}) sequences, "
                             f"got num_return_sequences={self.num_return_sequences}")
        if self.top_k < 0 or not 0.0 < self.top_p <= 1.0 or self.temperature <= 0:
            raise ValueError("top_k must be >= 0, top_p in (0, 1], temperature > 0")
        if self.no_repeat_ngram_size < 0:
            raise ValueError(f"no_repeat_ngram_size must be >= 0, got {self.no_repeat_ngram_size}")

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, DecodingConfig] = {
    # Paper, test decoding on XSum.
    "xsum": DecodingConfig(num_beams=6, max_new_tokens=60, min_new_tokens=10),
    # Paper, test decoding on CNN/DM.
    "cnndm": DecodingConfig(num_beams=4, max_new_tokens=140, min_new_tokens=55),
    # Paper, ConSeq candidates (one sample per call; `quals conseq candidates` asks for 6).
    "sample": DecodingConfig(num_beams=1, do_sample=True, top_k=50, max_new_tokens=60, min_new_tokens=10),
}


def decoding_config(preset: str, **overrides: Any) -> DecodingConfig:
    """A preset with some fields replaced (``None`` values are ignored)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown decoding preset {preset!r}; known: {', '.join(PRESETS)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(given) - {f.name for f in dataclasses.fields(DecodingConfig)}
    if unknown:
        raise ValueError(f"unknown decoding settings {sorted(unknown)}")
    return dataclasses.replace(PRESETS[preset], **given)


def load_config(cls: type, path: str | Path | None = None, **overrides: Any):
    """Build the config dataclass ``cls`` from a JSON file of its fields, then ``overrides``.

    ``None`` overrides are ignored (a flag that was not given); unknown keys raise.

    Raises:
        ValueError: the file is not a JSON object, or a value is out of range.
        TypeError: a key is not a field of ``cls``.
    """
    values: dict[str, Any] = {}
    if path is not None:
        loaded = json.loads(Path(path).read_text())
        if not isinstance(loaded, dict):
            raise ValueError(f"{path} must hold a JSON object of {cls.__name__} fields")
        values.update(loaded)
    values.update({k: v for k, v in overrides.items() if v is not None})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {sorted(unknown)}; allowed: {sorted(names)}")
    return cls(**values)
