"""One LoRA setup for every trainer (QAGen, MLE and ConSeq summarizers), with ``peft``."""

from __future__ import annotations

import logging

from quals.models.weights import quiet_peft

logger = logging.getLogger(__name__)


def lora_targets(spec: str) -> str | list[str]:
    """``all-linear`` or the comma-separated module names of ``--lora-target-modules``."""
    spec = spec.strip()
    return spec if spec == "all-linear" else [name.strip() for name in spec.split(",") if name.strip()]


def add_lora(network, family: str, *, r: int, alpha: float, dropout: float, target_modules: str = "all-linear"):
    """``network`` as a ``PeftModel`` with a fresh LoRA adapter; only the adapter trains.

    ``all-linear`` is every linear layer but the output head (peft's rule). The adapter's initial
    weights come from the global torch generator: seed it first for reproducible runs.
    """
    from peft import LoraConfig, TaskType, get_peft_model

    task = TaskType.SEQ_2_SEQ_LM if family == "seq2seq" else TaskType.CAUSAL_LM
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=lora_targets(target_modules),
                        bias="none", task_type=task)
    with quiet_peft():
        model = get_peft_model(network, config)
    log_trainable(model, "LoRA")
    return model


def log_trainable(model, kind: str) -> int:
    """Log and return the number of trainable parameters."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    logger.info("%s: %d of %d parameters trainable", kind, trainable, total)
    return trainable
