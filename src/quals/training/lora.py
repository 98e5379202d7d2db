"""One LoRA setup for every trainer (QAGen, MLE and ConSeq summarizers), with ``peft``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from quals.models.weights import ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, canonical_id, quiet_peft

logger = logging.getLogger(__name__)


def lora_targets(spec: str) -> str | list[str]:
    """``all-linear`` or the comma-separated module names of ``--lora-target-modules``."""
    spec = spec.strip()
    return spec if spec == "all-linear" else [name.strip() for name in spec.split(",") if name.strip()]


TASKS = {"seq2seq": "SEQ_2_SEQ_LM", "causal": "CAUSAL_LM", "classifier": "SEQ_CLS"}


def add_lora(network, family: str, *, r: int, alpha: float, dropout: float, target_modules: str = "all-linear",
             modules_to_save: tuple[str, ...] = ()):
    """``network`` as a ``PeftModel`` with a fresh LoRA adapter; only the adapter trains.

    ``family``: ``seq2seq``, ``causal`` or ``classifier``. ``all-linear`` is every linear layer but
    the output head (peft's rule); a classifier's new head trains in full and is saved with the
    adapter (peft's ``SEQ_CLS`` task), as do the ``modules_to_save`` named here (e.g. a BERT
    ``pooler``). The adapter's initial weights come from the global torch generator: seed it first
    for reproducible runs.
    """
    from peft import LoraConfig, TaskType, get_peft_model

    if family not in TASKS:
        raise ValueError(f"family must be one of {', '.join(TASKS)}, got {family!r}")
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=lora_targets(target_modules),
                        bias="none", task_type=TaskType[TASKS[family]],
                        modules_to_save=list(modules_to_save) or None)
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


def finalize_adapter(output: Path, base: str, dtype: str = "float32") -> None:
    """Record the base model as the user named it (``packaged:NAME``, an absolute directory or a
    hub id; peft records the path it loaded, a cache directory for packaged models) and store the
    adapter weights in ``dtype``."""
    config_file = Path(output) / ADAPTER_CONFIG_FILE
    adapter_config = json.loads(config_file.read_text())
    adapter_config["base_model_name_or_path"] = canonical_id(base)
    config_file.write_text(json.dumps(adapter_config, indent=2, sort_keys=True) + "\n")
    store_adapter_dtype(output, dtype)


def store_adapter_dtype(output: Path, dtype: str) -> None:
    """Rewrite the saved adapter weights in ``dtype`` (float32 leaves them as trained)."""
    import torch
    from safetensors.torch import load_file, save_file

    if dtype == "float32":
        return
    weights = Path(output) / ADAPTER_WEIGHTS_FILE
    target = getattr(torch, dtype)
    tensors = {k: (v.to(target) if v.is_floating_point() else v) for k, v in load_file(str(weights)).items()}
    save_file(tensors, str(weights), metadata={"format": "pt"})
