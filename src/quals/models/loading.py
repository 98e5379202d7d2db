"""Load any Hugging Face seq2seq or causal LM (hub id, local directory or packaged model).

Weights load from safetensors only and never with ``trust_remote_code``: a checkpoint is data,
not code. A model directory may carry ``quals_format.json`` (written by ``quals train-qagen``)
pinning the exact QA format it was trained with.

A directory with ``adapter_config.json`` is a LoRA adapter (``quals train-qagen --lora``): its
recorded base model (``packaged:NAME``, a local directory or a hub id) is loaded and the adapter
merged into it with ``peft``, so scoring runs at the base model's speed. Its fingerprint covers the
base weights, the adapter weights and the adapter configuration.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import warnings
from pathlib import Path

from quals.models.backbone import Backbone
from quals.models.device import resolve_device, resolve_dtype
from quals.models.fingerprint import directory_fingerprint
from quals.models.formats import QAFormat, causal_format, seq2seq_format
from quals.models.packaged import (
    DEFAULT_MODEL,
    PACKAGED_ADAPTERS,
    is_packaged,
    is_packaged_adapter,
    packaged_adapter_dir,
    packaged_model_dir,
    packaged_spec,
)

logger = logging.getLogger(__name__)

FORMAT_FILE = "quals_format.json"
ADAPTER_CONFIG_FILE = "adapter_config.json"
ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors"
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


def adapter_directory(model: str) -> Path | None:
    """The adapter directory ``model`` names (a shipped ``packaged:`` adapter or a local directory
    with ``adapter_config.json``), else None."""
    if is_packaged_adapter(model):
        return packaged_adapter_dir(model)
    if not is_packaged(model) and Path(model, ADAPTER_CONFIG_FILE).is_file():
        return Path(model)
    return None


def adapter_base(adapter_dir: Path, model: str) -> str:
    """The base model an adapter was trained on, as recorded in its ``adapter_config.json``."""
    recorded = json.loads((adapter_dir / ADAPTER_CONFIG_FILE).read_text()).get("base_model_name_or_path")
    if not recorded:
        raise ValueError(f"{adapter_dir / ADAPTER_CONFIG_FILE} records no base_model_name_or_path")
    if is_packaged_adapter(model):
        expected = PACKAGED_ADAPTERS[model[len("packaged:"):]].base
        if recorded != expected:
            raise ValueError(f"packaged adapter {model!r} was trained on {recorded!r}, registered with {expected!r}")
    return recorded


def model_source(model: str) -> str | Path:
    """What ``from_pretrained`` loads for ``model``: the cached directory of a packaged model, else
    ``model`` itself (a local directory or a hub id)."""
    return packaged_model_dir(model) if is_packaged(model) else model


def _max_positions(config, tokenizer) -> int:
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 1_000_000:
        return limit
    return _FALLBACK_POSITIONS


def model_fingerprint(model_id: str, directory: Path | None, config) -> str:
    """sha256 of a packaged GGUF, of a directory's safetensors, or ``hub:ID@COMMIT``."""
    if is_packaged(model_id):
        return "sha256:" + packaged_spec(model_id).sha256
    if directory is not None:
        return directory_fingerprint(directory)
    commit = getattr(config, "_commit_hash", None)
    return f"hub:{model_id}@{commit or 'unknown'}"


def adapter_fingerprint(base_fingerprint: str, adapter_dir: Path) -> str:
    """sha256 over the base model's fingerprint, the adapter weights and its configuration.

    Only the top-level weights file counts: a training run's output directory also holds
    ``checkpoints/``, which must not change the fingerprint when they are pruned or copied away.
    """
    from quals.models.packaged import sha256_file

    digest = hashlib.sha256()
    digest.update(base_fingerprint.encode())
    digest.update(sha256_file(adapter_dir / ADAPTER_WEIGHTS_FILE).encode())
    digest.update(hashlib.sha256((adapter_dir / ADAPTER_CONFIG_FILE).read_bytes()).hexdigest().encode())
    return "sha256:" + digest.hexdigest()


def _check_base_fingerprint(adapter_dir: Path, base_fingerprint: str) -> None:
    info_file = adapter_dir / QAGEN_INFO_FILE
    if not info_file.is_file():
        return
    recorded = json.loads(info_file.read_text()).get("base_fingerprint")
    if recorded and recorded.startswith("sha256:") and base_fingerprint.startswith("sha256:") \
            and recorded != base_fingerprint:
        raise ValueError(f"adapter {adapter_dir} was trained on base weights {recorded}, but the base model "
                         f"loaded now has {base_fingerprint}")


@contextlib.contextmanager
def quiet_peft():
    """peft 0.21 reads a property transformers 5.x deprecated; hide that FutureWarning (only it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def load_pretrained(model: str, torch_dtype):
    """(network, config, source) of a plain model (packaged, local directory or hub id), from
    safetensors only and without remote code; ``torch_dtype`` None keeps transformers' default.
    Scoring, QAGen training and summarizers all load through here."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM

    source = model_source(model)
    if isinstance(source, str) and _looks_like_path(source) and not Path(source).exists():
        raise ValueError(f"model {model!r}: no such directory (a hub id has the form owner/name)")
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=False)
        loader = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
        dtype = {} if torch_dtype is None else {"dtype": torch_dtype}
        network = loader.from_pretrained(source, use_safetensors=True, trust_remote_code=False, **dtype)
    except OSError as err:  # transformers' 40-line traceback says this in its first lines
        first = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
        raise ValueError(f"cannot load model {model!r}: {first}") from None
    return network, config, source


def _looks_like_path(text: str) -> bool:
    return text.startswith((".", "/", "~")) or text.count("/") > 1 or "\\" in text


def attach_adapter(network, adapter_dir: Path, *, trainable: bool = False):
    """``network`` with the LoRA adapter of ``adapter_dir`` (safetensors only): merged into the base
    weights, so it runs at the base model's speed, or kept as a trainable ``PeftModel``."""
    from peft import PeftModel

    if not (adapter_dir / ADAPTER_WEIGHTS_FILE).is_file():
        raise ValueError(f"{adapter_dir} has no {ADAPTER_WEIGHTS_FILE}; adapters load from safetensors only")
    with quiet_peft():
        network = PeftModel.from_pretrained(network, str(adapter_dir), is_trainable=trainable)
        return network if trainable else network.merge_and_unload()


def _has_tokenizer(directory: Path | None) -> bool:
    return directory is not None and any(
        (directory / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json"))


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
    from transformers import AutoTokenizer

    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    adapter_dir = adapter_directory(model)
    base = adapter_base(adapter_dir, model) if adapter_dir is not None else model
    network, config, source = load_pretrained(base, torch_dtype)
    directory = Path(source) if Path(source).is_dir() else None
    fingerprint = model_fingerprint(base, directory if not is_packaged(base) else None, config)
    if adapter_dir is not None:
        _check_base_fingerprint(adapter_dir, fingerprint)
        network = attach_adapter(network, adapter_dir)
        fingerprint = adapter_fingerprint(fingerprint, adapter_dir)
    network.to(torch_device).eval()
    tokenizer_source = adapter_dir if _has_tokenizer(adapter_dir) else source
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source, trust_remote_code=False)
    backbone = wrap_backbone(network, tokenizer, model_id=model, fingerprint=fingerprint,
                             format_dirs=[adapter_dir, directory], qa_format=qa_format, max_positions=max_positions)
    logger.info("loaded %s (%s, %s, %s)", model, backbone.family, torch_device, torch_dtype)
    return backbone


def wrap_backbone(network, tokenizer, *, model_id: str, fingerprint: str, format_dirs: list[Path | None],
                  qa_format: QAFormat | None = None, max_positions: int | None = None) -> Backbone:
    """A :class:`Backbone` over an already loaded network (also used by QAGen training, so that
    training and scoring build the same tokens)."""
    family = "seq2seq" if network.config.is_encoder_decoder else "causal"
    fmt = qa_format or load_format(format_dirs, family, tokenizer)
    positions = max_positions or _max_positions(network.config, tokenizer)
    return Backbone(network, tokenizer, fmt, model_id=model_id, fingerprint=fingerprint, max_positions=positions)
