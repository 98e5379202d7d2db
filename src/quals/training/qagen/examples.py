"""QAGen training examples: the exact token layout that scoring uses, and the batch collator.

Training text equals scoring text token for token, because both are built by the same
:class:`~quals.models.backbone.Backbone` methods: the passage (or a window of it) is tokenized
alone and wrapped by :meth:`Backbone.prompt_ids`; the target is :meth:`Backbone.qa_token_ids`
(``question, SEP, answer, EOS`` in the model's :class:`~quals.models.formats.QAFormat`).

- seq2seq (the paper): encoder input = ``prompt_ids(passage)`` (the tokenizer's own special
  tokens around the passage), labels = the QA tokens; the model shifts them right itself.
- decoder-only: input = ``prompt_ids(passage) + qa_tokens``, labels = -100 on the prompt and the
  QA tokens on the continuation, so the loss covers the QA tokens only.

A passage longer than the window keeps a window of tokens centred on the answer, so the answer
always stays inside (the paper truncated from the end, which can cut the answer out).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass

from quals.data.qa_datasets import QAExample

IGNORE_INDEX = -100


@dataclass(frozen=True)
class QAFeature:
    """One tokenized example.

    Attributes:
        input_ids: causal: prompt + QA tokens; seq2seq: the encoder input.
        labels: causal: same length as ``input_ids``, -100 on the prompt; seq2seq: the QA tokens.
        window: ``(start, end)`` of the passage tokens kept.
        truncated: whether the passage was cut to fit.
        decoder_input_ids: seq2seq only, when ``labels`` mask part of the decoder's own input (QA
            training forces the question but scores only the answer): the decoder input, which
            the model could not rebuild from ``labels`` (it would shift in padding for -100).
    """

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    window: tuple[int, int]
    truncated: bool
    decoder_input_ids: tuple[int, ...] | None = None


def context_window(n_tokens: int, span: tuple[int, int] | None, budget: int) -> tuple[int, int]:
    """``(start, end)`` of at most ``budget`` tokens out of ``n_tokens`` containing ``span``.

    The window is centred on the answer span ``(first token, last token + 1)``; without a span,
    or when the span itself is longer than the budget, it starts at the span start (or 0).

    >>> context_window(10, (8, 9), 4)
    (6, 10)
    >>> context_window(10, (4, 5), 3)
    (3, 6)
    >>> context_window(3, None, 8)
    (0, 3)
    """
    if budget < 1:
        raise ValueError(f"budget must be >= 1, got {budget}")
    if n_tokens <= budget:
        return 0, n_tokens
    if span is None:
        return 0, budget
    first, last = span
    if last - first >= budget:
        return first, first + budget
    start = first - (budget - (last - first)) // 2
    start = max(0, min(start, n_tokens - budget))
    return start, start + budget


def answer_token_span(offsets: Sequence[tuple[int, int]], start: int, end: int) -> tuple[int, int] | None:
    """Tokens overlapping the characters ``[start, end)``, as ``(first, last + 1)``.

    >>> answer_token_span([(0, 3), (3, 7), (7, 9)], 4, 8)
    (1, 3)
    """
    inside = [i for i, (a, b) in enumerate(offsets) if a < end and b > start]
    if not inside:
        return None
    return inside[0], inside[-1] + 1


def build_feature(backbone, example: QAExample, max_context_tokens: int) -> QAFeature:
    """Tokenize one example exactly as :class:`quals.QAGen` scores it.

    Args:
        backbone: a :class:`~quals.models.backbone.Backbone` (model, tokenizer and QA format).
        example: the passage, question and answer.
        max_context_tokens: most passage tokens (also bounded by the model's window).
    """
    qa_ids = backbone.qa_token_ids(example.question, example.answer)
    prompt, window, truncated = passage_prompt(backbone, example, max_context_tokens, len(qa_ids))
    if backbone.family == "seq2seq":
        return QAFeature(tuple(prompt), tuple(qa_ids), window, truncated)
    labels = [IGNORE_INDEX] * len(prompt) + qa_ids
    return QAFeature(tuple(prompt + qa_ids), tuple(labels), window, truncated)


def passage_prompt(backbone, example: QAExample, max_context_tokens: int,
                   continuation_tokens: int) -> tuple[list[int], tuple[int, int], bool]:
    """``(prompt ids, window, truncated)``: the passage (a window around the answer when it does not
    fit beside ``continuation_tokens``) wrapped by :meth:`Backbone.prompt_ids`."""
    budget = min(max_context_tokens, backbone.max_context_tokens(continuation_tokens))
    encoded = backbone.tokenizer(example.context, add_special_tokens=False, return_offsets_mapping=True)
    context_ids = list(encoded["input_ids"])
    span = None
    if example.answer_start is not None:
        span = answer_token_span(encoded["offset_mapping"], example.answer_start, example.answer_end)
    start, end = context_window(len(context_ids), span, budget)
    return backbone.prompt_ids(context_ids[start:end]), (start, end), end - start < len(context_ids)


def _passage_key(context: str) -> str:
    return hashlib.sha256(context.encode()).hexdigest()


def split_by_passage(examples: Sequence[QAExample], eval_size: int,
                     seed: int) -> tuple[list[QAExample], list[QAExample]]:
    """Hold out whole passages until at least ``eval_size`` examples are held out.

    Passages are taken in a seeded random order, so no held-out passage is ever trained on.

    Returns:
        ``(train, heldout)``, each in the input order.
    """
    if eval_size <= 0:
        return list(examples), []
    passages = sorted({_passage_key(e.context) for e in examples})
    random.Random(seed).shuffle(passages)
    counts: dict[str, int] = {}
    for example in examples:
        key = _passage_key(example.context)
        counts[key] = counts.get(key, 0) + 1
    held: set[str] = set()
    total = 0
    for key in passages:
        if total >= eval_size:
            break
        held.add(key)
        total += counts[key]
    if len(held) == len(passages):
        raise ValueError(f"eval_size={eval_size} would hold out every passage; pass held-out files or a smaller size")
    train = [e for e in examples if _passage_key(e.context) not in held]
    heldout = [e for e in examples if _passage_key(e.context) in held]
    return train, heldout


def seeded_subset(examples: Sequence[QAExample], size: int | None, seed: int) -> list[QAExample]:
    """A seeded random subset of ``size`` examples (all when None or larger), in random order."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    if size is not None:
        order = order[:size]
    return [examples[i] for i in order]


class QAFeatureDataset:
    """A map-style dataset of :class:`QAFeature` rows for the transformers ``Trainer``."""

    def __init__(self, features: Sequence[QAFeature]) -> None:
        self.features = list(features)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict:
        feature = self.features[index]
        row = {"input_ids": list(feature.input_ids), "labels": list(feature.labels)}
        if feature.decoder_input_ids is not None:
            row["decoder_input_ids"] = list(feature.decoder_input_ids)
        return row


class QACollator:
    """Pads :class:`QAFeature` rows into a batch.

    Decoder-only rows are **left**-padded, as :class:`~quals.models.backbone.Backbone` pads prompts
    for scoring, with position ids counting real tokens only, so every row's QA tokens end the
    sequence and the loss needs logits for the last positions only. Seq2seq rows are right-padded.

    Worked example (causal, pad id 0): rows ``[5 6 | 7 8]`` and ``[5 | 9]`` (prompt | QA):

    ==============  ===================  ===================
    key             row 0                row 1
    ==============  ===================  ===================
    input_ids       5 6 7 8              0 0 5 9
    attention_mask  1 1 1 1              0 0 1 1
    position_ids    0 1 2 3              0 0 0 1
    labels          -100 -100 7 8        -100 -100 -100 9
    ==============  ===================  ===================

    Seq2seq adds nothing else: the model builds ``decoder_input_ids`` from ``labels``, unless the
    rows bring their own (QA training), which are then right-padded beside the labels.
    """

    def __init__(self, pad_token_id: int, family: str) -> None:
        if family not in ("seq2seq", "causal"):
            raise ValueError(f"family must be 'seq2seq' or 'causal', got {family!r}")
        self.pad_token_id = pad_token_id
        self.family = family

    def __call__(self, rows: Sequence[dict]) -> dict:
        import torch

        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        if self.family == "causal":
            labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
            for i, row in enumerate(rows):
                n = len(row["input_ids"])
                ids[i, width - n:] = torch.tensor(row["input_ids"])
                mask[i, width - n:] = 1
                labels[i, width - n:] = torch.tensor(row["labels"])
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            return {"input_ids": ids, "attention_mask": mask, "position_ids": positions, "labels": labels}
        label_width = max(len(r["labels"]) for r in rows)
        labels = torch.full((len(rows), label_width), IGNORE_INDEX, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, :len(row["input_ids"])] = torch.tensor(row["input_ids"])
            mask[i, :len(row["input_ids"])] = 1
            labels[i, :len(row["labels"])] = torch.tensor(row["labels"])
        batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
        if "decoder_input_ids" in rows[0]:
            decoder = torch.full((len(rows), label_width), self.pad_token_id, dtype=torch.long)
            for i, row in enumerate(rows):
                if len(row["decoder_input_ids"]) != len(row["labels"]):
                    raise ValueError("decoder_input_ids and labels must have the same length")
                decoder[i, :len(row["decoder_input_ids"])] = torch.tensor(row["decoder_input_ids"])
            batch["decoder_input_ids"] = decoder
        return batch
