"""Load any Hugging Face seq2seq or causal LM (hub id, local directory or packaged model).

Weights load from safetensors only and never with ``trust_remote_code``: a checkpoint is data,
not code. A model directory may carry ``quals_format.json`` (written by ``quals train-qagen``)
pinning the exact QA format it was trained with.

Weights, adapters and fingerprints come from :func:`quals.models.weights.load_model`, the loader
summarizers use too; this module adds the QA text layout on top.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from quals.models.backbone import Backbone
from quals.models.formats import QAFormat, causal_format, seq2seq_format
from quals.models.packaged import DEFAULT_MODEL, is_packaged
from quals.models.weights import adapter_directory, load_model, model_source, read_info

logger = logging.getLogger(__name__)

FORMAT_FILE = "quals_format.json"
QAGEN_INFO_FILE = "quals_qagen.json"
_FALLBACK_POSITIONS = 1024


def save_format(qa_format: QAFormat, directory: str | Path) -> None:
    Path(directory, FORMAT_FILE).write_text(json.dumps(dataclasses.asdict(qa_format), indent=2))


def load_format(directories: list[Path | None], family: str, tokenizer) -> QAFormat:
    """The QA format pinned in the first of ``directories`` that has ``quals_format.json``, else the
    family default."""
    for directory in directories:
        if directory is not None and (directory / FORMAT_FILE).is_file():
            return QAFormat(**json.loads((directory / FORMAT_FILE).read_text()))
    return seq2seq_format() if family == "seq2seq" else causal_format(tokenizer)


def _max_positions(config, tokenizer) -> int:
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 1_000_000:
        return limit
    return _FALLBACK_POSITIONS


def load_backbone(
    model: str = DEFAULT_MODEL,
    *,
    device: str = "auto",
    dtype: str = "auto",
    qa_format: QAFormat | None = None,
    max_positions: int | None = None,
) -> Backbone:
    """Load a model by hub id, local directory or ``packaged:NAME``.

    Args:
        model: what to load; the default is the packaged SmolLM2-135M-Instruct. A directory with
            ``adapter_config.json`` (or a shipped ``packaged:`` adapter) loads its base model with
            the LoRA adapter merged.
        device: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``.
        dtype: ``auto``, ``float32``, ``bfloat16`` or ``float16``.
        qa_format: override the QA text layout (default: the model's ``quals_format.json``, else
            the family default).
        max_positions: override the attention window the model is used with.

    Raises:
        ValueError: unknown packaged model, bad device/dtype, no safetensors weights, or an
            adapter whose base weights differ from those it was trained on.
    """
    loaded = load_model(model, device=device, dtype=dtype)
    backbone = wrap_backbone(loaded.network, loaded.tokenizer, model_id=model, fingerprint=loaded.fingerprint,
                             format_dirs=[loaded.directory if loaded.is_adapter else None, loaded.base_directory],
                             qa_format=qa_format, max_positions=max_positions)
    logger.info("loaded %s (%s, %s, %s)", model, backbone.family, loaded.network.device, loaded.network.dtype)
    return backbone


def wrap_backbone(network, tokenizer, *, model_id: str, fingerprint: str, format_dirs: list[Path | None],
                  qa_format: QAFormat | None = None, max_positions: int | None = None) -> Backbone:
    """A :class:`Backbone` over an already loaded network (also used by QAGen training, so that
    training and scoring build the same tokens)."""
    family = "seq2seq" if network.config.is_encoder_decoder else "causal"
    fmt = qa_format or load_format(format_dirs, family, tokenizer)
    positions = max_positions or _max_positions(network.config, tokenizer)
    return Backbone(network, tokenizer, fmt, model_id=model_id, fingerprint=fingerprint, max_positions=positions)


def trained_info(model: str) -> dict | None:
    """The ``quals_qagen.json`` of a model trained by ``quals train-qagen`` (its ``task``: qagen,
    qg or qa, and a question generator's prompt), else None."""
    directory = adapter_directory(model)
    if directory is None and not is_packaged(model) and Path(model).is_dir():
        directory = Path(model)
    return read_info(directory, QAGEN_INFO_FILE)


def is_extractive_qa(model: str) -> bool:
    """Whether ``model`` answers by picking a span (``...ForQuestionAnswering``) rather than by
    generating (a language model: a QAGen, a trained ``qa`` adapter, any causal or seq2seq LM)."""
    if is_packaged(model) or adapter_directory(model) is not None or trained_info(model) is not None:
        return False
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_source(model))
    return any(name.endswith("ForQuestionAnswering") for name in (config.architectures or ()))
