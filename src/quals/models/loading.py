"""Load any Hugging Face seq2seq or causal LM (hub id, local directory or packaged model).

Weights load from safetensors only and never with ``trust_remote_code``: a checkpoint is data,
not code. A model directory may carry ``quals_format.json`` (written by ``quals train-qagen``)
pinning the exact QA format it was trained with.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from quals.models.backbone import Backbone
from quals.models.device import resolve_device, resolve_dtype
from quals.models.fingerprint import directory_fingerprint
from quals.models.formats import QAFormat, causal_format, seq2seq_format
from quals.models.packaged import DEFAULT_MODEL, is_packaged, packaged_model_dir, packaged_spec

logger = logging.getLogger(__name__)

FORMAT_FILE = "quals_format.json"
_FALLBACK_POSITIONS = 1024


def save_format(qa_format: QAFormat, directory: str | Path) -> None:
    Path(directory, FORMAT_FILE).write_text(json.dumps(dataclasses.asdict(qa_format), indent=2))


def _load_format(directory: Path | None, family: str, tokenizer) -> QAFormat:
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


def _fingerprint(model_id: str, directory: Path | None, config) -> str:
    if is_packaged(model_id):
        return "sha256:" + packaged_spec(model_id).sha256
    if directory is not None:
        return directory_fingerprint(directory)
    commit = getattr(config, "_commit_hash", None)
    return f"hub:{model_id}@{commit or 'unknown'}"


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
        model: what to load; the default is the packaged SmolLM2-135M-Instruct.
        device: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``.
        dtype: ``auto``, ``float32``, ``bfloat16`` or ``float16``.
        qa_format: override the QA text layout (default: the model's ``quals_format.json``, else
            the family default).
        max_positions: override the attention window the model is used with.

    Raises:
        ValueError: unknown packaged model, bad device/dtype, or no safetensors weights.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    source: str | Path = packaged_model_dir(model) if is_packaged(model) else model
    directory = Path(source) if Path(source).is_dir() else None
    config = AutoConfig.from_pretrained(source, trust_remote_code=False)
    loader = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
    network = loader.from_pretrained(
        source, dtype=torch_dtype, use_safetensors=True, trust_remote_code=False
    )
    network.to(torch_device).eval()
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    family = "seq2seq" if config.is_encoder_decoder else "causal"
    fmt = qa_format or _load_format(directory, family, tokenizer)
    positions = max_positions or _max_positions(config, tokenizer)
    logger.info("loaded %s (%s, %s, %s)", model, family, torch_device, torch_dtype)
    return Backbone(
        network,
        tokenizer,
        fmt,
        model_id=model,
        fingerprint=_fingerprint(model, directory if not is_packaged(model) else None, config),
        max_positions=positions,
    )
