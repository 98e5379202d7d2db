"""QUALS result types: per QA pair, per example, per corpus."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class QAPairScore:
    """One kept QA pair and why it moved the score.

    ``logprob_document`` / ``logprob_summary`` are LL_D and LL_S: mean token log-probs (nats) of
    the pair's tokens (question, SEP, answer, EOS) given the document (best window) and the summary.
    ``token_roles`` marks each token q(uestion), s(eparator), a(nswer) or e(os); ``value`` is what
    the pair contributes under the scorer's aggregation (its ``difference`` with the paper's);
    ``filter_round`` is the filter round that kept it (so a smaller ``max_pairs`` can be applied later).
    """

    question: str
    answer: str
    answer_span: tuple[int, int]
    tokens: tuple[str, ...]
    token_ids: tuple[int, ...]
    token_roles: tuple[str, ...]
    logprob_document: float
    logprob_summary: float
    token_logprobs_document: tuple[float, ...]
    token_logprobs_summary: tuple[float, ...]
    value: float
    document_window: int
    filter_round: int
    generation_score: float

    @property
    def difference(self) -> float:
        """LL_D - LL_S: near 0 when the document supports the pair as well as the summary does."""
        return self.logprob_document - self.logprob_summary


@dataclass(frozen=True)
class QualsExample:
    """QUALS of one (document, summary). ``score`` is None (with ``reason``) when no pair survived."""

    score: float | None
    reason: str | None
    pairs: tuple[QAPairScore, ...]
    n_generated: int
    n_well_formed: int
    n_in_summary: int
    n_windows: int

    def to_dict(self, details: bool = True) -> dict:
        out = {"score": self.score, "reason": self.reason, "n_pairs": len(self.pairs),
               "n_generated": self.n_generated, "n_well_formed": self.n_well_formed,
               "n_in_summary": self.n_in_summary, "n_windows": self.n_windows}
        if details:
            out["pairs"] = [{**asdict(p), "difference": p.difference} for p in self.pairs]
        return out


class CorpusScores:
    """Corpus-level views shared by every metric's result; subclasses hold ``examples``."""

    examples: tuple

    @property
    def scores(self) -> list[float | None]:
        return [e.score for e in self.examples]

    @property
    def n_null(self) -> int:
        return sum(e.score is None for e in self.examples)

    @property
    def mean(self) -> float | None:
        """Mean over scored examples; null examples are excluded, never counted as a number."""
        values = [s for s in self.scores if s is not None]
        return math.fsum(values) / len(values) if values else None


@dataclass(frozen=True)
class QualsResult(CorpusScores):
    """Per-example results and the signature of the settings that produced them."""

    examples: tuple[QualsExample, ...]
    signature: str


def check_pairs(documents, summaries) -> None:
    """What every scorer's ``score(documents, summaries)`` requires: as many of each, all strings.

    Raises:
        ValueError: the lengths differ.
        TypeError: an item is not a string (a caller bug, not a bad row).
    """
    if len(documents) != len(summaries):
        raise ValueError(f"{len(documents)} documents but {len(summaries)} summaries")
    for i, (document, summary) in enumerate(zip(documents, summaries, strict=True)):
        if not isinstance(document, str) or not isinstance(summary, str):
            raise TypeError(f"example {i}: document and summary must be strings")
