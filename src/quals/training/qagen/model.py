"""Load a base model for QAGen training and make it trainable: all weights, or a LoRA adapter.

Everything here is ``transformers``/``peft``: safetensors weights only, no ``trust_remote_code``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from quals.models.backbone import Backbone
from quals.models.loading import adapter_directory, load_pretrained, model_fingerprint, quiet_peft, wrap_backbone
from quals.training.qagen.config import QAGenTrainingConfig

logger = logging.getLogger(__name__)


@dataclass
class TrainableModel:
    """A base model ready for the Trainer.

    Attributes:
        model: the network to train (a ``PeftModel`` with LoRA, else the model itself), float32.
        backbone: the base network wrapped for tokenization exactly as scoring does it.
        lora: whether ``model`` is a LoRA adapter over a frozen base.
        base_fingerprint: fingerprint of the base weights (recorded with the result).
        added_tokens: tokens added to the tokenizer (seq2seq separator), if any.
    """

    model: object
    backbone: Backbone
    lora: bool
    base_fingerprint: str
    added_tokens: tuple[str, ...] = ()

    @property
    def family(self) -> str:
        return self.backbone.family

    @property
    def tokenizer(self):
        return self.backbone.tokenizer


def _ensure_single_separator(tokenizer, network, separator: str) -> tuple[str, ...]:
    """Add the seq2seq separator as one special token when the tokenizer would split it."""
    token = separator.strip()
    if len(tokenizer(token, add_special_tokens=False)["input_ids"]) == 1:
        return ()
    tokenizer.add_special_tokens({"additional_special_tokens": [token]})
    network.resize_token_embeddings(len(tokenizer))
    logger.info("added the separator %r as a new special token (vocabulary now %d)", token, len(tokenizer))
    return (token,)


def lora_targets(spec: str) -> str | list[str]:
    """``all-linear`` or the comma-separated module names of ``--lora-target-modules``."""
    spec = spec.strip()
    return spec if spec == "all-linear" else [name.strip() for name in spec.split(",") if name.strip()]


def load_trainable(config: QAGenTrainingConfig) -> TrainableModel:
    """Load ``config.model`` in float32 and wrap it for training.

    Raises:
        ValueError: the model is an adapter (train from its base instead), or LoRA was asked for an
            encoder-decoder model.
    """
    from transformers import AutoTokenizer

    if adapter_directory(config.model) is not None:
        raise ValueError(f"{config.model} is a LoRA adapter; train from its base model instead")
    network, model_config, source = load_pretrained(config.model, None)
    directory = Path(source) if Path(source).is_dir() else None
    family = "seq2seq" if model_config.is_encoder_decoder else "causal"
    lora = config.use_lora(family)
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    fingerprint = model_fingerprint(config.model, directory, model_config)
    backbone = wrap_backbone(network, tokenizer, model_id=config.model, fingerprint=fingerprint,
                             format_dirs=[directory])
    added: tuple[str, ...] = ()
    if family == "seq2seq" and config.add_separator_token:
        added = _ensure_single_separator(tokenizer, network, backbone.qa_format.separator)
        if added:  # re-wrap: the tokenizer changed
            backbone = wrap_backbone(network, tokenizer, model_id=config.model, fingerprint=fingerprint,
                                     format_dirs=[directory], qa_format=backbone.qa_format)
    model = network
    if lora:
        from peft import LoraConfig, TaskType, get_peft_model

        peft_config = LoraConfig(
            r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
            target_modules=lora_targets(config.lora_target_modules), bias="none", task_type=TaskType.CAUSAL_LM,
        )
        with quiet_peft():
            model = get_peft_model(network, peft_config)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    logger.info("%s: %s, %d of %d parameters trainable", config.model, "LoRA" if lora else "full fine-tuning",
                trainable, total)
    return TrainableModel(model=model, backbone=backbone, lora=lora, base_fingerprint=fingerprint, added_tokens=added)
