"""Summarizer models: text layout, loading (full models and LoRA adapters) and the info file.

A summarizer is any Hugging Face encoder-decoder (the paper: BART) or decoder-only model:

- encoder-decoder: the document is the encoder input, the summary the decoder target (the
  tokenizer's own target layout, as HF's ``run_summarization.py``);
- decoder-only: the document sits in a prompt (the tokenizer's chat template when it has one,
  user turn = instruction + document, assistant turn = summary; else a plain
  ``instruction / Article: ... / Summary:`` text) and the summary continues it, ending with EOS.
  Training labels are -100 on the prompt. The document is tokenized apart from the template so it
  can be cut to ``max_source_tokens`` without re-tokenizing the template.

A trained summarizer directory holds safetensors weights (or a LoRA adapter), the tokenizer and
``quals_summarizer.json``: the text layout it was trained with and, for an adapter, the base
model it applies to (``packaged:`` id, directory or hub id) with that base's fingerprint.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from quals.models.packaged import is_packaged
from quals.models.weights import adapter_directory, load_model, read_info as read_info_file
from quals.training.summarizer.config import DEFAULT_INSTRUCTION, DEFAULT_SUMMARIZER

logger = logging.getLogger(__name__)

INFO_FILE = "quals_summarizer.json"
_MARKER = "\x00DOCUMENT\x00"


@dataclass(frozen=True)
class SummaryFormat:
    """How documents and summaries become tokens.

    Attributes:
        family: ``seq2seq`` or ``causal``.
        instruction: decoder-only: the instruction before the document.
        chat: decoder-only: the prompt is the tokenizer's chat template.
        max_source_tokens: document tokens kept (the rest is cut, and the output says so).
        max_summary_tokens: target tokens kept in training, EOS included.
    """

    family: str
    instruction: str = DEFAULT_INSTRUCTION
    chat: bool = False
    max_source_tokens: int = 1024
    max_summary_tokens: int = 256

    def __post_init__(self) -> None:
        if self.family not in ("seq2seq", "causal"):
            raise ValueError(f"family must be 'seq2seq' or 'causal', got {self.family!r}")
        if self.max_source_tokens < 1 or self.max_summary_tokens < 2:
            raise ValueError("max_source_tokens must be >= 1 and max_summary_tokens >= 2")


@dataclass
class Summarizer:
    """A loaded summarizer. Build with :func:`load_summarizer`.

    Attributes:
        model: the network (a ``PeftModel`` while an adapter is being trained).
        tokenizer: its tokenizer.
        format: the text layout.
        model_id: what was asked for.
        fingerprint: hash of the weights (adapter and base).
        base_model: for an adapter, the base model id it applies to; else ``model_id``.
    """

    model: object
    tokenizer: object
    format: SummaryFormat
    model_id: str
    fingerprint: str
    base_model: str
    _prompt: tuple[list[int], list[int]] = field(default=None, repr=False)
    _summary_prefix: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        self.set_format(self.format)

    def set_format(self, fmt: SummaryFormat) -> None:
        """Use another text layout (e.g. new token limits for training)."""
        self.format = fmt
        self._prompt, self._summary_prefix = _prompt_pieces(self.tokenizer, fmt)

    @property
    def eos_token_id(self) -> int:
        from quals.models.backbone import eos_token_id

        return eos_token_id(self.tokenizer, self.model, self.model_id)

    @property
    def pad_token_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return self.eos_token_id if pad is None else int(pad)

    def tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode_source(self, document: str) -> tuple[list[int], bool]:
        """Model input ids of a document and whether the document was cut."""
        limit = self.format.max_source_tokens
        if self.format.family == "seq2seq":
            ids = list(self.tokenizer(document)["input_ids"])
            if len(ids) <= limit:
                return ids, False
            specials = self.tokenizer.num_special_tokens_to_add(pair=False)
            body = self.tokenize(document)[:max(1, limit - specials)]
            return list(self.tokenizer.build_inputs_with_special_tokens(body)), True
        body = self.tokenize(document)
        prefix, suffix = self._prompt
        return prefix + body[:limit] + suffix, len(body) > limit

    def encode_summary(self, summary: str) -> list[int]:
        """Training target ids of a summary (EOS included), cut to ``max_summary_tokens``."""
        limit = self.format.max_summary_tokens
        if self.format.family == "seq2seq":
            ids = list(self.tokenizer(text_target=summary)["input_ids"])
            return ids if len(ids) <= limit else ids[:limit - 1] + [ids[-1]]
        ids = self.tokenize(self._summary_prefix + summary.strip())[:limit - 1]
        return ids + [self.eos_token_id]

    def encode_example(self, document: str, summary: str) -> dict[str, list[int]]:
        """``input_ids`` and ``labels`` of one training example (labels -100 on the prompt)."""
        source, _ = self.encode_source(document)
        target = self.encode_summary(summary)
        if self.format.family == "seq2seq":
            return {"input_ids": source, "attention_mask": [1] * len(source), "labels": target}
        return {"input_ids": source + target, "attention_mask": [1] * (len(source) + len(target)),
                "labels": [-100] * len(source) + target}

    def decode(self, token_ids) -> str:
        return self.tokenizer.decode(list(token_ids), skip_special_tokens=True).strip()


def _prompt_pieces(tokenizer, fmt: SummaryFormat) -> tuple[tuple[list[int], list[int]], str]:
    """Token ids before and after the document, and the text put before the summary."""
    if fmt.family == "seq2seq":
        return ([], []), ""
    from quals.models.backbone import special_wrapping

    user = f"{fmt.instruction}\n\n"
    if fmt.chat:
        rendered = tokenizer.apply_chat_template([{"role": "user", "content": user + _MARKER}], tokenize=False,
                                                 add_generation_prompt=True)
        if rendered.count(_MARKER) != 1:
            raise ValueError("the chat template does not keep the document in one piece")
        prefix, suffix = rendered.split(_MARKER)
        summary_prefix = ""
    else:
        prefix, suffix, summary_prefix = f"{user}Article: ", "\n\nSummary:", " "
    encode = lambda text: list(tokenizer(text, add_special_tokens=False)["input_ids"])  # noqa: E731
    prefix_ids = encode(prefix)
    bos, _ = special_wrapping(tokenizer)
    if bos and prefix_ids[:len(bos)] != bos:
        prefix_ids = bos + prefix_ids
    return (prefix_ids, encode(suffix)), summary_prefix


def default_format(tokenizer, family: str, instruction: str = DEFAULT_INSTRUCTION, max_source_tokens: int = 1024,
                   max_summary_tokens: int = 256) -> SummaryFormat:
    """The layout for a model never trained by quals: chat template when the tokenizer has one."""
    chat = family == "causal" and bool(getattr(tokenizer, "chat_template", None))
    return SummaryFormat(family=family, instruction=instruction, chat=chat, max_source_tokens=max_source_tokens,
                         max_summary_tokens=max_summary_tokens)


# ----- the info file ---------------------------------------------------------------------------
def read_info(directory: Path | None) -> dict | None:
    return read_info_file(directory, INFO_FILE)


def is_adapter(model: str) -> bool:
    return not is_packaged(model) and adapter_directory(model) is not None


# ----- loading ---------------------------------------------------------------------------------
def load_summarizer(model: str = DEFAULT_SUMMARIZER, *, device: str = "auto", dtype: str = "auto",
                    trainable_adapter: bool = False, fmt: SummaryFormat | None = None) -> Summarizer:
    """Load a summarizer by hub id, directory, ``packaged:NAME`` or LoRA adapter directory.

    Args:
        model: what to load. An adapter directory (``adapter_config.json``) loads onto the base
            model its ``quals_summarizer.json`` names (``quals train-summarizer --lora`` writes it),
            else onto peft's recorded base.
        device: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``; ``None`` leaves the model on the CPU
            (training: the Trainer places it).
        dtype: ``auto``, ``float32``, ``bfloat16`` or ``float16``.
        trainable_adapter: keep an adapter as a trainable ``PeftModel`` (to train it further)
            instead of merging it into the base weights.
        fmt: override the text layout (default: the directory's, else :func:`default_format`).

    Raises:
        ValueError: an unfinished training run, or an adapter whose base weights changed.
    """
    directory = Path(model) if not is_packaged(model) and Path(model).is_dir() else None
    info = read_info(directory)
    from quals.training.run import CHECKPOINTS, RUN_CONFIG_FILE

    unfinished = info is None and directory is not None and (directory / CHECKPOINTS / RUN_CONFIG_FILE).exists()
    if unfinished or (info is not None and not info.get("complete", True)):
        raise ValueError(f"{model} holds an unfinished training run; rerun its training command to resume it")
    loaded = load_model(model, device=device, dtype=dtype, trainable_adapter=trainable_adapter)
    network, tokenizer = loaded.network, loaded.tokenizer
    if tokenizer.pad_token is None:  # batches need padding; it is always masked out
        tokenizer.pad_token = tokenizer.eos_token
    family = loaded.family
    if fmt is None:
        fmt = SummaryFormat(**info["format"]) if info and "format" in info else default_format(tokenizer, family)
    if fmt.family != family:
        raise ValueError(f"text layout is for {fmt.family} models but {model} is {family}")
    logger.info("loaded summarizer %s (%s, %s, %s)", model, family, network.device, network.dtype)
    return Summarizer(network, tokenizer, fmt, model_id=model, fingerprint=loaded.fingerprint,
                      base_model=loaded.base_model)


def format_dict(fmt: SummaryFormat) -> dict:
    return asdict(fmt)
