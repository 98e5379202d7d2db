"""The one model loader: which weights a model id names, loading them, and their fingerprint.

QAGen, the QAGS models, the likelihood baselines and summarizers all load through
:func:`load_model`, so every output names its weights the same way:

- ``packaged:NAME``: the sha256 of the packaged file;
- a local directory: sha256 over its safetensors files;
- a hub id: ``hub:ID@COMMIT`` (the commit transformers resolved);
- a LoRA adapter (a directory with ``adapter_config.json``, or a shipped ``packaged:`` adapter):
  sha256 over the base fingerprint, the adapter weights and the adapter configuration.

Weights load from safetensors only and never with ``trust_remote_code``: a checkpoint is data,
not code. An adapter's base model is the one its quals info file records (``quals_summarizer.json``
or ``quals_qagen.json``, as the user named it), else peft's ``base_model_name_or_path``; loading
refuses an adapter whose recorded base fingerprint differs from the base found now.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

from quals.models.device import resolve_device, resolve_dtype
from quals.models.fingerprint import directory_fingerprint
from quals.models.quantize import INT8, quantize_linear_int8
from quals.models.packaged import (
    PACKAGED_ADAPTERS,
    is_packaged,
    is_packaged_adapter,
    packaged_adapter_dir,
    packaged_model_dir,
    packaged_spec,
    sha256_file,
)

logger = logging.getLogger(__name__)

ADAPTER_CONFIG_FILE = "adapter_config.json"
ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors"
# Info files quals writes beside trained weights; either may record an adapter's base model.
INFO_FILES = ("quals_summarizer.json", "quals_qagen.json", "quals_classifier.json")


@dataclass
class LoadedModel:
    """A network with its tokenizer and the record of which weights it holds.

    Attributes:
        network: the model (a trainable ``PeftModel`` when asked for, else plain, adapters merged).
        tokenizer: the adapter directory's tokenizer when it has one, else the base model's.
        model_id: what was asked for.
        fingerprint: the weights' fingerprint (adapter and base for an adapter).
        base_model: the plain model the weights start from: the adapter's base, else
            ``canonical_id(model_id)``.
        base_fingerprint: the fingerprint of ``base_model``.
        directory: the directory ``model_id`` names (the adapter's for an adapter), if any.
        base_directory: the directory the base weights were read from, if any.
    """

    network: object
    tokenizer: object
    model_id: str
    fingerprint: str
    base_model: str
    base_fingerprint: str
    directory: Path | None
    base_directory: Path | None
    is_adapter: bool = False

    @property
    def family(self) -> str:
        return "seq2seq" if self.network.config.is_encoder_decoder else "causal"


# ----- which weights a model id names ------------------------------------------------------
def adapter_directory(model: str) -> Path | None:
    """The adapter directory ``model`` names (a shipped ``packaged:`` adapter or a local directory
    with ``adapter_config.json``), else None."""
    if is_packaged_adapter(model):
        return packaged_adapter_dir(model)
    if not is_packaged(model) and Path(model, ADAPTER_CONFIG_FILE).is_file():
        return Path(model)
    return None


def read_info(directory: Path | None, name: str) -> dict | None:
    """The quals info file ``name`` of ``directory``, if there is one."""
    if directory is None or not (directory / name).is_file():
        return None
    return json.loads((directory / name).read_text())


def adapter_base(adapter_dir: Path, model: str) -> str:
    """The base model an adapter applies to.

    QAGen adapters record it, as the user named it, in ``adapter_config.json`` (rewritten by
    ``quals train-qagen``); summarizer adapters in ``quals_summarizer.json``, because peft would
    record the cache directory of a packaged base. Adapters from elsewhere have peft's record.
    """
    recorded = json.loads((adapter_dir / ADAPTER_CONFIG_FILE).read_text()).get("base_model_name_or_path")
    summarizer_info = read_info(adapter_dir, INFO_FILES[0])
    if summarizer_info and summarizer_info.get("base_model"):
        recorded = summarizer_info["base_model"]
    if not recorded:
        raise ValueError(f"{adapter_dir / ADAPTER_CONFIG_FILE} records no base_model_name_or_path")
    if is_packaged_adapter(model):
        expected = PACKAGED_ADAPTERS[model[len("packaged:"):]].base
        if recorded != expected:
            raise ValueError(f"packaged adapter {model!r} was trained on {recorded!r}, registered with {expected!r}")
    return recorded


def canonical_id(model: str) -> str:
    """A model id that still names the same model from another working directory."""
    if not is_packaged(model) and Path(model).is_dir():
        return str(Path(model).resolve())
    return model


def model_source(model: str) -> str | Path:
    """What ``from_pretrained`` loads for ``model``: the cached directory of a packaged model, else
    ``model`` itself (a local directory or a hub id)."""
    return packaged_model_dir(model) if is_packaged(model) else model


# ----- fingerprints ------------------------------------------------------------------------
def plain_fingerprint(model: str, config=None) -> str:
    """Fingerprint of a plain (non-adapter) model; ``config`` (its loaded ``PretrainedConfig``)
    gives a hub model's commit without another lookup."""
    if is_packaged(model):
        return "sha256:" + packaged_spec(model).sha256
    if Path(model).is_dir():
        return directory_fingerprint(Path(model))
    if config is None:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(model, trust_remote_code=False)
    commit = getattr(config, "_commit_hash", None)
    return f"hub:{model}@{commit or 'unknown'}"


def adapter_fingerprint(base_fingerprint: str, adapter_dir: Path) -> str:
    """sha256 over the base model's fingerprint, the adapter weights and its configuration.

    Only the top-level weights file counts: a training run's output directory also holds
    checkpoints, which must not change the fingerprint when they are pruned or copied away.
    """
    digest = hashlib.sha256()
    digest.update(base_fingerprint.encode())
    digest.update(sha256_file(adapter_dir / ADAPTER_WEIGHTS_FILE).encode())
    digest.update(hashlib.sha256((adapter_dir / ADAPTER_CONFIG_FILE).read_bytes()).hexdigest().encode())
    return "sha256:" + digest.hexdigest()


def weights_fingerprint(model: str) -> str:
    """The fingerprint :func:`load_model` would give ``model``, without loading its weights."""
    adapter_dir = adapter_directory(model)
    if adapter_dir is None:
        return plain_fingerprint(model)
    return adapter_fingerprint(plain_fingerprint(adapter_base(adapter_dir, model)), adapter_dir)


def same_weights(recorded: str, current: str) -> bool:
    """Whether a recorded fingerprint names the weights found now.

    A hub fingerprint recorded without its commit (``hub:ID``, older runs) matches any commit of
    that id; an unknown commit matches nothing but itself.
    """
    if recorded == current:
        return True
    if recorded.startswith("hub:") and "@" not in recorded:
        return current.startswith(recorded + "@")
    return False


def _recorded_base_fingerprint(adapter_dir: Path) -> str | None:
    """The base fingerprint the adapter's quals info file recorded at training time, if any."""
    infos = (read_info(adapter_dir, name) for name in INFO_FILES)
    return next((info["base_fingerprint"] for info in infos if info and info.get("base_fingerprint")), None)


def _check_base(adapter_dir: Path, base: str, base_fingerprint: str) -> None:
    recorded = _recorded_base_fingerprint(adapter_dir)
    if recorded and not same_weights(recorded, base_fingerprint):
        raise ValueError(f"adapter {adapter_dir} was trained on base weights {recorded}, but the base model "
                         f"{base} loaded now has {base_fingerprint}")


# ----- loading -----------------------------------------------------------------------------
@contextlib.contextmanager
def quiet_peft():
    """peft 0.21 reads a property transformers 5.x deprecated; hide that FutureWarning (only it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def _looks_like_path(text: str) -> bool:
    return text.startswith((".", "/", "~")) or text.count("/") > 1 or "\\" in text


HEADS = ("lm", "question-answering", "sequence-classification")


def _auto_class(head: str, config):
    import transformers

    if head == "lm":
        return transformers.AutoModelForSeq2SeqLM if config.is_encoder_decoder else transformers.AutoModelForCausalLM
    if head == "question-answering":
        return transformers.AutoModelForQuestionAnswering
    if head == "sequence-classification":
        return transformers.AutoModelForSequenceClassification
    raise ValueError(f"head must be one of {', '.join(HEADS)}, got {head!r}")


def load_pretrained(model: str, torch_dtype, head: str = "lm"):
    """(network, config, source) of a plain model (packaged, local directory or hub id), from
    safetensors only and without remote code; ``torch_dtype`` None keeps transformers' default.
    ``head``: a language model (seq2seq or causal, from the config), an extractive QA model or a
    sequence classifier."""
    from transformers import AutoConfig

    source = model_source(model)
    if isinstance(source, str) and _looks_like_path(source) and not Path(source).exists():
        raise ValueError(f"model {model!r}: no such directory (a hub id has the form owner/name)")
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=False)
        loader = _auto_class(head, config)
        dtype = {} if torch_dtype is None else {"dtype": torch_dtype}
        network = loader.from_pretrained(source, use_safetensors=True, trust_remote_code=False, **dtype)
    except OSError as err:  # transformers' 40-line traceback says this in its first lines
        first = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
        raise ValueError(f"cannot load model {model!r}: {first}") from None
    return network, config, source


def attach_adapter(network, adapter_dir: Path, *, trainable: bool = False):
    """``network`` with the LoRA adapter of ``adapter_dir`` (safetensors only): merged into the base
    weights, so it runs at the base model's speed, or kept as a trainable ``PeftModel``."""
    from peft import PeftModel

    if not (adapter_dir / ADAPTER_WEIGHTS_FILE).is_file():
        raise ValueError(f"{adapter_dir} has no {ADAPTER_WEIGHTS_FILE}; adapters load from safetensors only")
    with quiet_peft():
        network = PeftModel.from_pretrained(network, str(adapter_dir), is_trainable=trainable)
        return network if trainable else network.merge_and_unload()


# Where sequence classifiers keep their head (BERT, RoBERTa, DeBERTa: classifier; decoders: score).
HEAD_MODULES = ("classifier", "score")


def _check_adapter_head(adapter_dir: Path) -> None:
    """A classifier adapter must carry its trained head (peft's SEQ_CLS task saves it): without
    it the base's freshly initialised head would score at random, silently."""
    from safetensors import safe_open

    weights = adapter_dir / ADAPTER_WEIGHTS_FILE
    if not weights.is_file():
        return  # attach_adapter says so
    with safe_open(str(weights), framework="pt") as handle:
        names = list(handle.keys())
    if not any(f".{module}." in f".{name}" for name in names for module in HEAD_MODULES):
        raise ValueError(f"adapter {adapter_dir} holds no classification head ({' or '.join(HEAD_MODULES)} weights); "
                         "train it with peft's SEQ_CLS task, which saves the head beside the adapter")


@contextlib.contextmanager
def _fresh_head_unreported():
    """transformers reports the base's new classification head as MISSING; the adapter's trained
    head (checked by :func:`_check_adapter_head`) replaces it at once, so the report would only alarm."""
    # a filter on that one record: raising the logger's level instead makes transformers 5 log
    # its tensor-parallel plan check, another alarm
    def drop_report(record: logging.LogRecord) -> bool:
        return "LOAD REPORT" not in record.getMessage()

    report = logging.getLogger("transformers.modeling_utils")
    report.addFilter(drop_report)
    try:
        yield
    finally:
        report.removeFilter(drop_report)


def _has_tokenizer(directory: Path | None) -> bool:
    return directory is not None and any(
        (directory / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json"))


def load_model(model: str, *, device: str | None = "auto", dtype: str | None = "auto",
               trainable_adapter: bool = False, allow_adapter: bool = True, head: str = "lm") -> LoadedModel:
    """Load ``model`` (hub id, local directory, ``packaged:NAME`` or LoRA adapter) in eval mode.

    Args:
        device: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``; None keeps the CPU (a Trainer places it).
        dtype: ``auto``, ``float32``, ``bfloat16``, ``float16``, or ``int8`` (CPU only: float32
            weights, then the linear layers dynamically quantised, see :mod:`quals.models.quantize`);
            None keeps transformers' default.
        trainable_adapter: keep an adapter as a trainable ``PeftModel`` instead of merging it.
        allow_adapter: False refuses adapters (training a new adapter starts from a plain model).
        head: ``lm``, ``question-answering`` or ``sequence-classification`` (see :func:`load_pretrained`).

    Raises:
        ValueError: unknown packaged model, bad device/dtype, no safetensors weights, or an adapter
            whose base weights differ from those it was trained on.
    """
    from transformers import AutoTokenizer

    torch_device = resolve_device(device) if device is not None else None
    int8 = dtype == INT8
    if int8 and (torch_device is None or torch_device.type != "cpu"):
        raise ValueError(f"dtype int8 (dynamic quantisation) runs on the CPU only; got device {device!r}: "
                         f"use --device cpu")
    torch_dtype = resolve_dtype("float32" if int8 else dtype,
                                torch_device or resolve_device("cpu")) if dtype is not None else None
    adapter_dir = adapter_directory(model)
    if adapter_dir is not None and not allow_adapter:
        raise ValueError(f"{model} is a LoRA adapter; train from its base model instead")
    base = adapter_base(adapter_dir, model) if adapter_dir is not None else model
    head_in_adapter = adapter_dir is not None and head == "sequence-classification"
    if head_in_adapter:
        _check_adapter_head(adapter_dir)
    with _fresh_head_unreported() if head_in_adapter else contextlib.nullcontext():
        network, config, source = load_pretrained(base, torch_dtype, head)
    base_directory = Path(source) if Path(source).is_dir() else None
    base_fp = plain_fingerprint(base, config)
    fingerprint = base_fp
    if adapter_dir is not None:
        _check_base(adapter_dir, base, base_fp)
        network = attach_adapter(network, adapter_dir, trainable=trainable_adapter)
        fingerprint = adapter_fingerprint(base_fp, adapter_dir)
    if torch_device is not None:
        network.to(torch_device)
    network.eval()
    if int8:
        if trainable_adapter:
            raise ValueError("an int8 (dynamically quantised) model cannot be trained")
        network = quantize_linear_int8(network)
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir if _has_tokenizer(adapter_dir) else source,
                                              trust_remote_code=False)
    own_directory = adapter_dir if adapter_dir is not None else (
        Path(model) if not is_packaged(model) and Path(model).is_dir() else None)
    logger.debug("loaded %s (%s, %s)", model, torch_device, torch_dtype)
    return LoadedModel(network=network, tokenizer=tokenizer, model_id=model, fingerprint=fingerprint,
                       base_model=canonical_id(base), base_fingerprint=base_fp, directory=own_directory,
                       base_directory=base_directory, is_adapter=adapter_dir is not None)
