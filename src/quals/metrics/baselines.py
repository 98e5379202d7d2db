"""Reference metrics, so every meta-evaluation number has something to beat on the same rows.

- :class:`LexicalBaselines`: share of summary tokens found in the document, and ROUGE-1/2/L
  precision of the summary against the document (``rouge-score``). Precision, because the question
  is how much of the summary the document covers; recall would reward long documents.
- :class:`LikelihoodBaselines`: with a QUALS backbone, the summary's mean token log-prob given the
  document (BARTScore's source-to-summary direction, Yuan et al. 2021) and that minus its mean
  token log-prob given an empty text (a pointwise mutual information: how much the document, rather
  than fluency, explains the summary).

Only the lexical ones are cheap (no model, milliseconds a row). The likelihood ones run the
backbone over the whole document for every summary: 7 to 14 s per row on the project's 2-core
CPU in meta-eval's chunks of 8, the same order as QUALS (docs/meta-eval.md).

Both follow the batch runner's scorer protocol (``score``, ``run_info``, ``count_tokens``).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from quals.metrics.results import CorpusScores
from quals.metrics.rouge import ROUGE_TYPES, rouge_scorer, rouge_signature
from quals.provenance import signature

SUMMARY_INSTRUCTION = "Summarize the text."

_TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class LexicalScores:
    """Share of summary tokens in the document, and ROUGE precision against it."""

    overlap: float | None
    rouge1: float | None
    rouge2: float | None
    rougeL: float | None  # the metric's name, as rouge-score and the score files spell it


@dataclass(frozen=True)
class LikelihoodScores:
    """Mean token log-prob of the summary given the document, and that minus it given nothing."""

    loglik: float | None
    pmi: float | None


LEXICAL_NAMES = tuple(f.name for f in dataclasses.fields(LexicalScores))
LIKELIHOOD_NAMES = tuple(f.name for f in dataclasses.fields(LikelihoodScores))


@dataclass(frozen=True)
class BaselineExample:
    """The scores of one (document, summary); ``score`` is the first of them, all None with a ``reason``
    when there is nothing to score."""

    values: LexicalScores | LikelihoodScores
    reason: str | None = None

    @property
    def score(self) -> float | None:
        return getattr(self.values, dataclasses.fields(self.values)[0].name)

    def to_dict(self, details: bool = True) -> dict:
        """The score record: ``scores`` holds every value by name, in field order."""
        return {"score": self.score, "reason": self.reason, "scores": dataclasses.asdict(self.values)}

    @classmethod
    def unscored(cls, kind: type[LexicalScores] | type[LikelihoodScores], reason: str) -> BaselineExample:
        return cls(kind(*[None] * len(dataclasses.fields(kind))), reason)


@dataclass(frozen=True)
class BaselineResult(CorpusScores):
    examples: tuple[BaselineExample, ...]
    signature: str


def token_overlap(document: str, summary: str) -> float | None:
    """Share of the summary's word tokens (lower-cased) that occur anywhere in the document."""
    summary_tokens = _TOKEN.findall(summary.lower())
    if not summary_tokens:
        return None
    document_tokens = set(_TOKEN.findall(document.lower()))
    return sum(t in document_tokens for t in summary_tokens) / len(summary_tokens)


class LexicalBaselines:
    """Token overlap and ROUGE precision of the summary against the document; no model."""

    def __init__(self) -> None:
        self._rouge = rouge_scorer()

    @property
    def signature(self) -> str:
        return signature("lexical", rouge_signature(rouge="precision"))

    def run_info(self) -> dict:
        return {"metric": "lexical", "signature": self.signature, "names": list(LEXICAL_NAMES)}

    def count_tokens(self, text: str) -> int:
        return len(_TOKEN.findall(text))

    def score(self, documents: Sequence[str], summaries: Sequence[str]) -> BaselineResult:
        examples = []
        for document, summary in zip(documents, summaries, strict=True):
            if not summary.strip():
                examples.append(BaselineExample.unscored(LexicalScores, "empty summary"))
                continue
            rouge = self._rouge.score(document, summary)  # (target, prediction)
            examples.append(BaselineExample(LexicalScores(overlap=token_overlap(document, summary),
                                                          **{name: rouge[name].precision for name in ROUGE_TYPES})))
        return BaselineResult(tuple(examples), self.signature)


class LikelihoodBaselines:
    """Summary log-likelihood given the document, and given nothing, under a QUALS backbone.

    The backbone's own prompt layout is kept, with a summarization instruction instead of the
    QA one; a document longer than the window is read in windows and the best window counts, as
    for QUALS.
    """

    def __init__(self, qagen) -> None:
        from quals.models.backbone import Backbone
        from quals.models.formats import causal_format

        self.qagen = qagen
        source = qagen.backbone
        fmt = source.qa_format
        if fmt.family == "causal":
            prompt = causal_format(source.tokenizer, instruction=SUMMARY_INSTRUCTION)
            # Same template, but the assistant turn opens with the summary instead of "Question:".
            fmt = dataclasses.replace(prompt, prompt_suffix=prompt.prompt_suffix.removesuffix("Question:"))
        self.backbone = Backbone(source.model, source.tokenizer, fmt, model_id=source.model_id,
                                 fingerprint=source.fingerprint, max_positions=source.max_positions)

    @property
    def signature(self) -> str:
        info = self.qagen.info
        return signature("likelihood", model=info.model, weights=info.fingerprint, dtype=info.dtype,
                         instruction=SUMMARY_INSTRUCTION, torch=info.torch_version,
                         transformers=info.transformers_version)

    def run_info(self) -> dict:
        return {"metric": "likelihood", "signature": self.signature, "names": list(LIKELIHOOD_NAMES),
                "batch_size": self.qagen.batch_size}

    def count_tokens(self, text: str) -> int:
        return len(self.backbone.tokenize(text))

    def score(self, documents: Sequence[str], summaries: Sequence[str]) -> BaselineResult:
        from quals.models.scoring import score_sequences

        if len(documents) != len(summaries):
            raise ValueError(f"{len(documents)} documents but {len(summaries)} summaries")
        backbone = self.backbone
        continuations = [self._continuation(s) for s in summaries]
        live = [i for i, s in enumerate(summaries) if s.strip()]
        contexts = [backbone.tokenize(documents[i]) for i in live] + [[] for _ in live]
        sequences = [[continuations[i]] for i in live] * 2
        longest = max((len(continuations[i]) for i in live), default=1)
        window = min(self.qagen.window_tokens(longest), backbone.max_context_tokens(longest))
        scored = score_sequences(backbone, contexts, sequences, window_tokens=window,
                                 batch_size=self.qagen.batch_size) if live else []
        given_document = {i: _best_mean(s) for i, s in zip(live, scored[:len(live)], strict=True)}
        given_nothing = {i: _best_mean(s) for i, s in zip(live, scored[len(live):], strict=True)}
        examples = []
        for i in range(len(summaries)):
            if i not in given_document:
                examples.append(BaselineExample.unscored(LikelihoodScores, "empty summary"))
                continue
            examples.append(BaselineExample(LikelihoodScores(loglik=given_document[i],
                                                             pmi=given_document[i] - given_nothing[i])))
        return BaselineResult(tuple(examples), self.signature)

    def _continuation(self, summary: str) -> list[int]:
        prefix = " " if self.backbone.family == "causal" else ""
        return self.backbone.tokenize(prefix + summary.strip()) + [self.backbone.eos_token_id]


def _best_mean(context_scores) -> float:
    sequence = context_scores.sequences[0]
    return max(math.fsum(values) / len(values) for values in sequence.by_window)
