"""QAGS result types: per question, per example, per corpus."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from quals.metrics.results import CorpusScores


@dataclass(frozen=True)
class QagsQuestion:
    """One kept question, both answers and their agreement.

    Attributes:
        question: the cleaned question (cut after its first ``?``).
        answer_candidate: the summary span it was generated for.
        answer_summary: the QA model's answer read from the summary.
        answer_document: the QA model's answer read from the document ("" = no answer).
        f1: SQuAD token F1 between ``answer_summary`` and ``answer_document``.
        generation_score: the question's beam-search score (mean token log-prob); questions are
            kept best first by it.
        answer_score_document: the QA model's confidence in the document answer (mean token
            log-prob for the backbone, span logits for an extractive model).
        document_window: the document window (or feature) the answer came from.
    """

    question: str
    answer_candidate: str
    answer_summary: str
    answer_document: str
    f1: float
    generation_score: float
    answer_score_document: float
    document_window: int


@dataclass(frozen=True)
class QagsExample:
    """QAGS of one (document, summary). ``score`` is None (with ``reason``) when no question survived.

    Counts follow the pipeline: answer candidates, generated hypotheses, distinct questions left
    after the authors' cleaning (``?``, at least 3 words), how many of those were answered from the
    summary (best first, until the selection could no longer change), how many of the answered
    ones matched their candidate, and the questions kept (the best ``max_questions`` of those).
    """

    score: float | None
    reason: str | None
    questions: tuple[QagsQuestion, ...]
    candidates: tuple[str, ...]
    n_generated: int
    n_clean: int
    n_answered: int
    n_consistent: int
    n_windows: int

    def to_dict(self, details: bool = True) -> dict:
        out = {"score": self.score, "reason": self.reason, "n_questions": len(self.questions),
               "n_candidates": len(self.candidates), "n_generated": self.n_generated, "n_clean": self.n_clean,
               "n_answered": self.n_answered, "n_consistent": self.n_consistent, "n_windows": self.n_windows}
        if details:
            out["candidates"] = list(self.candidates)
            out["questions"] = [_finite(asdict(q)) for q in self.questions]
        return out


def _finite(record: dict) -> dict:
    """JSON has no infinities: a score of -inf (an answer with no tokens scored) becomes None."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}


@dataclass(frozen=True)
class QagsResult(CorpusScores):
    """Per-example results and the signature of the settings that produced them."""

    examples: tuple[QagsExample, ...]
    signature: str
