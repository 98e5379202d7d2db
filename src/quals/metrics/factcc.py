"""FactCC-style consistency: a (document, claim) classifier scored per summary sentence.

FactCC (Kryscinski et al., EMNLP 2020) is a BERT classifier of (document, claim) -> consistent /
inconsistent, trained on synthetic corruptions of CNN/DM sentences; the paper (Nan et al. 2021)
reports it beside QAGS and QUALS. Any Hugging Face sequence-classification model works here (the
FactCC checkpoint, an NLI model, the classifier ``quals factcc train`` trains); the score of a
summary is p(consistent) of its sentences, each against its best document chunk, averaged
(:mod:`quals.metrics.factcc_chunks`).

Which output means "consistent": ``consistent_label`` when given; else the label whose name in the
model's ``id2label`` (or the ``quals_classifier.json`` beside a quals-trained classifier) is one
of :data:`CONSISTENT_NAMES` (FactCC's ``CORRECT``, NLI's ``entailment``, ...). A model whose labels
are only ``LABEL_0``/``LABEL_1`` is refused until the label is named: guessing would flip scores.

Example:
    >>> from quals.metrics.factcc import FactCC
    >>> scorer = FactCC("path/to/classifier")          # doctest: +SKIP
    >>> scorer.score(["The cat sat on the mat."], ["A cat sat."]).scores  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from quals.metrics.factcc_chunks import (
    AGGREGATIONS,
    aggregate,
    best_chunks,
    chunk_spans,
    claim_budget,
    document_budget,
)
from quals.metrics.results import CorpusScores, check_pairs
from quals.metrics.spacy_pipelines import sentencizer_version, split_sentences

CONSISTENT_NAMES = ("consistent", "correct", "entailment", "entailed", "entails", "supported", "faithful",
                    "factual")
CLASSIFIER_INFO_FILE = "quals_classifier.json"
DEFAULT_FACTCC_MODEL = "packaged:minilm-l6-factcc"


@dataclass(frozen=True)
class FactccConfig:
    """How summaries and documents become classifier inputs."""

    max_input_tokens: int | None = field(default=None, metadata={
        "help": "Tokens per (chunk, sentence) input (default: what a quals-trained classifier was trained "
                "with, else the model's limit, at most 512)."})
    chunk_overlap: int | None = field(default=None, metadata={
        "help": "Document tokens shared by consecutive chunks (default: the training setting, else 128)."})
    sentence_aggregation: str = field(default="mean", metadata={
        "help": "Over summary sentences: mean (SummaC-ZS) or min (one unsupported sentence decides).",
        "choices": AGGREGATIONS})
    consistent_label: int | None = field(default=None, metadata={
        "help": "Output index meaning 'consistent' (default: from the model's label names)."})

    def __post_init__(self) -> None:
        if self.sentence_aggregation not in AGGREGATIONS:
            raise ValueError(f"sentence_aggregation must be one of {', '.join(AGGREGATIONS)}, "
                             f"got {self.sentence_aggregation!r}")
        if self.max_input_tokens is not None and self.max_input_tokens < 8:
            raise ValueError(f"max_input_tokens must be >= 8, got {self.max_input_tokens}")
        if self.chunk_overlap is not None and self.chunk_overlap < 0:
            raise ValueError(f"chunk_overlap must be >= 0, got {self.chunk_overlap}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FactccSentence:
    """One summary sentence: p(consistent) against each chunk, and the best chunk."""

    text: str
    score: float
    best_chunk: int
    chunk_scores: tuple[float, ...]
    truncated: bool


@dataclass(frozen=True)
class FactccExample:
    """FactCC of one (document, summary); ``score`` is None (with ``reason``) for an empty summary."""

    score: float | None
    reason: str | None
    sentences: tuple[FactccSentence, ...]
    n_chunks: int

    def to_dict(self, details: bool = True) -> dict:
        out = {"score": self.score, "reason": self.reason, "n_sentences": len(self.sentences),
               "n_chunks": self.n_chunks, "n_truncated_sentences": sum(s.truncated for s in self.sentences)}
        if details:
            out["sentences"] = [asdict(s) for s in self.sentences]
        return out


@dataclass(frozen=True)
class FactccResult(CorpusScores):
    examples: tuple[FactccExample, ...]
    signature: str


def consistent_label(id2label: dict, override: int | None = None) -> int:
    """The output index that means "consistent" (see the module docstring).

    Raises:
        ValueError: ``override`` out of range, or no label name says which output is consistent.
    """
    labels = {int(k): str(v) for k, v in id2label.items()}
    if override is not None:
        if override not in labels:
            raise ValueError(f"consistent_label {override} is not an output of the model (labels: {labels})")
        return override
    named = [i for i, name in sorted(labels.items()) if name.strip().lower() in CONSISTENT_NAMES]
    if len(named) != 1:
        raise ValueError(f"cannot tell which output means 'consistent' from the labels {labels}; name it "
                         f"(--consistent-label N, FactCC(consistent_label=N))")
    return named[0]


@dataclass(frozen=True)
class PairLayout:
    """Where a tokenizer puts its special tokens around a (first, second) pair of id sequences.

    transformers 5 tokenizers no longer build a pair from token ids (``build_inputs_with_special_
    tokens`` is gone from the tokenizers backend), and re-tokenizing a decoded chunk would not give
    back the chunk's ids at a cut inside a word; so the layout is read once from a tokenized
    placeholder pair and the ids are placed into it.
    """

    prefix: tuple[int, ...]
    middle: tuple[int, ...]
    suffix: tuple[int, ...]
    types: tuple[tuple[int, ...], int, tuple[int, ...], int, tuple[int, ...]] | None

    @classmethod
    def of(cls, tokenizer) -> PairLayout:
        first = list(tokenizer("a", add_special_tokens=False)["input_ids"])
        second = list(tokenizer("b", add_special_tokens=False)["input_ids"])
        encoded = tokenizer("a", "b", return_token_type_ids=True)
        ids, types = list(encoded["input_ids"]), encoded.get("token_type_ids")
        i = _find(ids, first, 0)
        j = _find(ids, second, i + len(first))
        spans = ((0, i), (i + len(first), j), (j + len(second), len(ids)))
        layout_types = None
        if types is not None:
            layout_types = (tuple(types[:i]), types[i], tuple(types[spans[1][0]:j]), types[j],
                            tuple(types[spans[2][0]:]))
        return cls(*(tuple(ids[a:b]) for a, b in spans), types=layout_types)

    @property
    def n_special(self) -> int:
        return len(self.prefix) + len(self.middle) + len(self.suffix)

    def build(self, first: list[int], second: list[int]) -> dict[str, list[int]]:
        ids = [*self.prefix, *first, *self.middle, *second, *self.suffix]
        feature = {"input_ids": ids, "attention_mask": [1] * len(ids)}
        if self.types is not None:
            pre, type_a, mid, type_b, post = self.types
            feature["token_type_ids"] = [*pre, *[type_a] * len(first), *mid, *[type_b] * len(second), *post]
        return feature


def _find(ids: list[int], part: list[int], start: int) -> int:
    for i in range(start, len(ids) - len(part) + 1):
        if ids[i:i + len(part)] == part:
            return i
    raise ValueError("the tokenizer's pair template does not keep its two texts apart")


class FactCC:
    """Score summaries with a (document, claim) consistency classifier.

    Args:
        model: a sequence-classification model (hub id, directory, ``packaged:NAME``, or an adapter
            directory written by ``quals factcc train``); safetensors only.
        device, dtype: as for :func:`quals.models.load_backbone`.
        batch_size: (chunk, sentence) inputs per forward pass.
        config: settings (default :class:`FactccConfig`); ``**settings`` override its fields.
    """

    def __init__(self, model: str = DEFAULT_FACTCC_MODEL, *, device: str = "auto", dtype: str = "auto",
                 batch_size: int = 64, config: FactccConfig | None = None,
                 **settings) -> None:
        import dataclasses

        from quals.models.weights import load_model

        base = config or FactccConfig()
        unknown = set(settings) - {f.name for f in dataclasses.fields(FactccConfig)}
        if unknown:
            raise TypeError(f"unknown FactCC settings {sorted(unknown)}")
        self.config = dataclasses.replace(base, **settings)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        loaded = load_model(model, device=device, dtype=dtype, head="sequence-classification")
        self.model, self.tokenizer = loaded.network, loaded.tokenizer
        self.model_id, self.fingerprint, self.batch_size = model, loaded.fingerprint, batch_size
        info_file = loaded.directory / CLASSIFIER_INFO_FILE if loaded.directory is not None else None
        info = json.loads(info_file.read_text()) if info_file is not None and info_file.is_file() else {}
        self.id2label = {int(k): str(v) for k, v in info.get("id2label", self.model.config.id2label).items()}
        self.label = consistent_label(self.id2label, self.config.consistent_label)
        limit = getattr(self.model.config, "max_position_embeddings", 512)
        self.max_length = self.config.max_input_tokens or info.get("max_length") or min(512, limit)
        if self.max_length > limit:
            raise ValueError(f"max_length {self.max_length} is over the model's {limit} positions")
        self.chunk_overlap = next(v for v in (self.config.chunk_overlap, info.get("chunk_overlap"), 128)
                                  if v is not None)
        self.layout = PairLayout.of(self.tokenizer)
        self.special_tokens = self.layout.n_special

    # ----- identity ------------------------------------------------------------------------
    def models(self) -> dict:
        from quals.models.quantize import dtype_name

        return {"classifier": {"model": self.model_id, "weights": self.fingerprint,
                               "dtype": dtype_name(self.model),
                               "consistent_label": self.label,
                               # string keys, as JSON writes them: the resume check compares this with the sidecar
                               "labels": {str(k): v for k, v in self.id2label.items()}}}

    def _versions(self) -> dict:
        from quals.provenance import version_fields

        return version_fields()  # the sidecar spelling QUALS and QAGS use

    @property
    def signature(self) -> str:
        """One line naming everything that determines the scores."""
        from quals.provenance import signature

        model, versions = self.models()["classifier"], self._versions()
        settings = json.dumps({**self.config.to_dict(), "max_length": self.max_length,
                               "chunk_overlap": self.chunk_overlap}, sort_keys=True, separators=(",", ":"))
        return signature(f"factcc:{versions['quals_version']}", model=model["model"], weights=model["weights"],
                         label=self.label, dtype=model["dtype"], settings=settings,
                         sentences=sentencizer_version(), torch=versions["torch_version"],
                         transformers=versions["transformers_version"])

    def run_info(self) -> dict:
        """The run fingerprint written beside outputs."""
        return {"metric": "factcc", "signature": self.signature, "models": self.models(), **self._versions(),
                "settings": {**self.config.to_dict(), "max_length": self.max_length,
                             "chunk_overlap": self.chunk_overlap}, "batch_size": self.batch_size}

    def count_tokens(self, text: str) -> int:
        return len(self._ids(text))

    # ----- scoring -------------------------------------------------------------------------
    def _ids(self, text: str) -> list[int]:
        # verbose=False: a whole document is tokenized once to be cut into chunks that fit; the
        # tokenizer's "longer than the maximum sequence length" warning would say otherwise.
        return list(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def _inputs(self, document: list[int], claims: list[list[int]]) -> tuple[list[tuple[list[int], list[int]]], int]:
        """Every (chunk, claim) input of one summary, sentence-major, and the number of chunks."""
        budget = document_budget(self.max_length, self.special_tokens, [len(c) for c in claims])
        spans = chunk_spans(len(document), budget, self.chunk_overlap)
        return [(document[a:b], claim) for claim in claims for a, b in spans], len(spans)

    def probabilities(self, pairs: Sequence[tuple[list[int], list[int]]]) -> list[float]:
        """p(consistent) of (document ids, claim ids) pairs, in batches."""
        import torch

        out: list[float] = []
        for start in range(0, len(pairs), self.batch_size):
            features = [self.layout.build(chunk, claim) for chunk, claim in pairs[start:start + self.batch_size]]
            batch = self.tokenizer.pad(features, return_tensors="pt")
            batch = {k: v.to(self.model.device) for k, v in batch.items()}
            with torch.no_grad():
                logits = self.model(**batch).logits.float()
            out.extend(torch.softmax(logits, dim=-1)[:, self.label].tolist())
        return out

    def score(self, documents: Sequence[str], summaries: Sequence[str]) -> FactccResult:
        """Score each (document, summary) pair; document first, summary second."""
        check_pairs(documents, summaries)
        cap = claim_budget(self.max_length, self.special_tokens)
        plans, pairs = [], []
        for document, summary in zip(documents, summaries, strict=True):
            sentences = split_sentences(summary)
            if not sentences:
                plans.append(None)
                continue
            claims = [self._ids(s) for s in sentences]
            truncated = [len(c) > cap for c in claims]
            inputs, n_chunks = self._inputs(self._ids(document), [c[:cap] for c in claims])
            plans.append((sentences, truncated, n_chunks, len(pairs)))
            pairs.extend(inputs)
        probabilities = self.probabilities(pairs)
        examples = []
        for plan in plans:
            if plan is None:
                examples.append(FactccExample(None, "empty summary", (), 0))
                continue
            sentences, truncated, n_chunks, first = plan
            grid = [probabilities[first + s * n_chunks:first + (s + 1) * n_chunks] for s in range(len(sentences))]
            best = best_chunks(grid)
            scored = tuple(FactccSentence(text, p, chunk, tuple(row), cut) for text, (chunk, p), row, cut
                           in zip(sentences, best, grid, truncated, strict=True))
            examples.append(FactccExample(aggregate([s.score for s in scored], self.config.sentence_aggregation), None,
                                          scored, n_chunks))
        return FactccResult(examples=tuple(examples), signature=self.signature)


def score(documents: Sequence[str], summaries: Sequence[str], **overrides) -> FactccResult:
    """One call: build a :class:`FactCC` scorer with ``overrides`` and score."""
    return FactCC(**overrides).score(documents, summaries)

