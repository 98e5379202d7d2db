"""The ConSeq selection rule (Nan et al. 2021, authors' ``make_unlikelihood_dataset``), as pure
functions over scores.

Per document: the worst candidate is the one with the lowest score (first on ties).
- S- = documents whose worst-candidate score is among the lowest ``negative_share`` of all
  documents' worst-candidate scores;
- S+ = documents whose reference score is among the highest ``positive_share`` of all reference
  scores;
- kept = S+ intersected with S-; each kept document gives (document, reference as positive,
  worst candidate as negative).

"Among the lowest share" is by rank, as in the authors' code: sort (stable, so ties go to the
earlier document) and take the first ``round(share * n)`` (Python's ``round``, half to even, as
theirs). A higher score must mean more consistent (QUALS, ROUGE).

Differences from the authors' code, on purpose:
- A missing score (QUALS ``None``: no QA pair survived the filter) never counts as a number. A
  candidate without a score cannot be a worst candidate; a document without any scored candidate
  is not in the S- ranking; a reference without a score is not in the S+ ranking; ``n`` counts
  only scored documents. The authors wrote the sentinel -1e5, which made such candidates every
  document's worst and placed their references last.
- ConSeq-ROUGE (``reference_scores=None``): a reference scored against itself is always 1, so
  there is no S+ ranking and every document is in S+; the authors' ROUGE variant likewise built
  S- only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Selection:
    """Result of :func:`select_documents`; document numbers index the input lists.

    Attributes:
        worst: per document, (candidate number, score) of its worst candidate, or None.
        positive: S+ document numbers, best reference first.
        negative: S- document numbers, worst candidate first.
        kept: S+ and S- together, in document order.
    """

    worst: tuple[tuple[int, float] | None, ...]
    positive: tuple[int, ...]
    negative: tuple[int, ...]
    kept: tuple[int, ...]


def _scored(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def worst_candidate(scores: Sequence[float | None]) -> tuple[int, float] | None:
    """(index, score) of the lowest scored candidate, first on ties; None when none is scored."""
    best: tuple[int, float] | None = None
    for i, score in enumerate(scores):
        if _scored(score) and (best is None or score < best[1]):
            best = (i, float(score))
    return best


def share_count(share: float, n: int) -> int:
    """How many of ``n`` ranked documents a share keeps: ``round(share * n)``, as the authors."""
    if not 0.0 < share <= 1.0:
        raise ValueError(f"share must be in (0, 1], got {share}")
    return n if share == 1.0 else round(share * n)


def lowest_share(scores: Sequence[float | None], share: float) -> list[int]:
    """Indices of the ``share`` lowest scored entries, lowest first (ties: earlier index first)."""
    ranked = sorted((i for i, s in enumerate(scores) if _scored(s)), key=lambda i: scores[i])
    return ranked[:share_count(share, len(ranked))]


def highest_share(scores: Sequence[float | None], share: float) -> list[int]:
    """Indices of the ``share`` highest scored entries, highest first (ties: earlier index first)."""
    ranked = sorted((i for i, s in enumerate(scores) if _scored(s)), key=lambda i: -scores[i])
    return ranked[:share_count(share, len(ranked))]


def select_documents(reference_scores: Sequence[float | None] | None,
                     candidate_scores: Sequence[Sequence[float | None]], *,
                     negative_share: float = 0.3, positive_share: float = 0.3) -> Selection:
    """Apply the ConSeq rule.

    Args:
        reference_scores: per document, its reference's score; None for the ROUGE variant (every
            document is then in S+).
        candidate_scores: per document, its candidates' scores.
        negative_share: S- share of documents (paper: 0.3).
        positive_share: S+ share of documents (paper: 0.3).

    Raises:
        ValueError: the lists have different lengths or a share is outside (0, 1].

    >>> select_documents([0.0, -1.0, -0.1], [[-2.0, -1.0], [-5.0], [-0.5]],
    ...                  negative_share=0.7, positive_share=0.7).kept
    (0,)
    """
    n = len(candidate_scores)
    if reference_scores is not None and len(reference_scores) != n:
        raise ValueError(f"{len(reference_scores)} reference scores but {n} candidate lists")
    worst = tuple(worst_candidate(scores) for scores in candidate_scores)
    negative = lowest_share([w[1] if w else None for w in worst], negative_share)
    if reference_scores is None:
        share_count(positive_share, n)  # still validate the argument
        positive = list(range(n))
    else:
        positive = highest_share(reference_scores, positive_share)
    kept = sorted(set(positive) & set(negative))
    return Selection(worst, tuple(positive), tuple(negative), tuple(kept))


def distribution(values: Sequence[float | None]) -> dict:
    """Count, missing, mean, standard deviation and quantiles (0, 10, 25, 50, 75, 90, 100%)."""
    import numpy as np

    scored = np.array([v for v in values if _scored(v)], dtype=float)
    out: dict = {"n": len(scored), "n_missing": len(values) - len(scored)}
    if len(scored):
        quantiles = np.quantile(scored, [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
        out.update(mean=float(scored.mean()), std=float(scored.std()),
                   **{f"q{int(q * 100):02d}": float(v)
                      for q, v in zip([0, .1, .25, .5, .75, .9, 1], quantiles, strict=True)})
    return out


def selection_report(selection: Selection, reference_scores: Sequence[float | None] | None,
                     candidate_scores: Sequence[Sequence[float | None]]) -> dict:
    """Score distributions and counts behind a selection (for the ``select`` report)."""
    worst_scores = [w[1] if w else None for w in selection.worst]
    report = {
        "n_documents": len(candidate_scores),
        "n_positive": len(selection.positive),
        "n_negative": len(selection.negative),
        "n_kept": len(selection.kept),
        "candidates": distribution([s for scores in candidate_scores for s in scores]),
        "worst_candidates": distribution(worst_scores),
        "kept_negatives": distribution([worst_scores[i] for i in selection.kept]),
        # Boundary scores: the highest worst-candidate score still in S-, the lowest reference in S+.
        "negative_threshold": max((worst_scores[i] for i in selection.negative), default=None),
    }
    if reference_scores is not None:
        report.update(references=distribution(reference_scores),
                      kept_positives=distribution([reference_scores[i] for i in selection.kept]),
                      positive_threshold=min((reference_scores[i] for i in selection.positive), default=None))
    return report
