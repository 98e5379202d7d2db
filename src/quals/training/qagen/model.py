"""Load a base model for QAGen training and make it trainable: all weights, or a LoRA adapter.

Loading is :func:`quals.models.weights.load_model` (safetensors only, no ``trust_remote_code``),
the LoRA setup :func:`quals.training.lora.add_lora`: the same as for summarizers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from quals.models.backbone import Backbone
from quals.models.loading import wrap_backbone
from quals.models.weights import load_model
from quals.training.lora import add_lora, log_trainable
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


def load_trainable(config: QAGenTrainingConfig) -> TrainableModel:
    """Load ``config.model`` in float32 and wrap it for training.

    Raises:
        ValueError: the model is an adapter (train from its base instead), or LoRA was asked for an
            encoder-decoder model.
    """
    loaded = load_model(config.model, device=None, dtype=None, allow_adapter=False)
    network, tokenizer, fingerprint = loaded.network, loaded.tokenizer, loaded.fingerprint
    family = loaded.family
    lora = config.use_lora(family)
    directories = [loaded.base_directory]
    backbone = wrap_backbone(network, tokenizer, model_id=config.model, fingerprint=fingerprint,
                             format_dirs=directories)
    added: tuple[str, ...] = ()
    if family == "seq2seq" and config.add_separator_token:
        added = _ensure_single_separator(tokenizer, network, backbone.qa_format.separator)
        if added:  # re-wrap: the tokenizer changed
            backbone = wrap_backbone(network, tokenizer, model_id=config.model, fingerprint=fingerprint,
                                     format_dirs=directories, qa_format=backbone.qa_format)
    if lora:
        model = add_lora(network, family, r=config.lora_r, alpha=config.lora_alpha, dropout=config.lora_dropout,
                         target_modules=config.lora_target_modules)
    else:
        model = network
        log_trainable(model, f"{config.model}: full fine-tuning")
    return TrainableModel(model=model, backbone=backbone, lora=lora, base_fingerprint=fingerprint, added_tokens=added)
