"""Agreement of one metric with human judgments on one group of benchmark rows.

Correlations, ROC-AUC and balanced accuracy are reported on the ``test`` split; the balanced
accuracy threshold is chosen on the ``valid`` split of the same group and never on ``test``.
Rows the metric left without a score (null) are excluded from every statistic and counted, with
their reasons, so a metric cannot look good by abstaining silently.

Each statistic uses the human judgment it needs and only the rows that have it: correlations the
continuous ``score``, ROC-AUC and balanced accuracy the binary ``label``. On a label-only benchmark
(most public ones) the correlations are not computed, and ``correlation_note`` says why: the
correlation of a metric with a 0/1 label is a point-biserial correlation, which ROC-AUC already
measures, rank-based and without a distribution assumption.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from quals.data.benchmarks import TEST, VALID, BenchmarkRow
from quals.evaluation.statistics import (
    CORRELATIONS,
    balanced_accuracy,
    best_threshold,
    bootstrap_interval,
    correlation,
    partial_correlation,
    roc_auc,
)

LABEL_ONLY = "label-only: no scored test row has a human score"


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Agreement:
    """Everything measured for one (metric, group of rows)."""

    metric: str
    group: str
    n_test: int
    n_scored: int
    null_reasons: dict[str, int]
    correlations: dict[str, Estimate]
    partial: dict[str, Estimate] = field(default_factory=dict)
    n_systems: int = 0
    roc_auc: float | None = None
    threshold: float | None = None
    balanced_accuracy: float | None = None
    n_valid_scored: int = 0
    note: str | None = None  # why ROC-AUC or balanced accuracy is missing
    # None in reports written before label-only rows existed (every row had a score and a label)
    n_correlated: int | None = None  # scored test rows with a human score: the correlations' rows
    n_labeled: int | None = None  # scored test rows with a label: ROC-AUC's and balanced accuracy's rows
    correlation_note: str | None = None  # why the correlations are missing

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Agreement:
        """The inverse of :meth:`to_dict` (e.g. an agreement read back from ``meta_eval.json``)."""
        return cls(**{**data, "correlations": {k: Estimate(**v) for k, v in data["correlations"].items()},
                      "partial": {k: Estimate(**v) for k, v in data.get("partial", {}).items()}})


@dataclass(frozen=True)
class MetricValue:
    """One row's value of a metric: a number, or None with why."""

    value: float | None
    reason: str | None = None


def agreement(metric: str, group: str, rows: Sequence[BenchmarkRow], values: dict[str, MetricValue], *,
              seed: int, n_resamples: int = 1000, threshold_note: str | None = None) -> Agreement:
    """Statistics of ``metric`` on the test rows of ``rows`` (valid rows only pick the threshold).

    ``values`` maps row id to the metric's value; a test row without an entry is not part of the
    metric's subset and is ignored (not counted as null). ``threshold_note`` is why no valid row
    was given (e.g. the split was skipped on purpose), reported instead of a generic reason.
    """
    test = [r for r in rows if r.split == TEST and r.id in values]
    scored = [r for r in test if values[r.id].value is not None]
    reasons = Counter(values[r.id].reason or "no score" for r in test if values[r.id].value is None)
    correlations, partial, n_systems, correlation_note = _correlations(scored, values, seed, n_resamples)
    labeled = [r for r in scored if r.label is not None]
    auc, threshold, bacc, n_valid, note = _classification(labeled, rows, values, threshold_note)
    return Agreement(metric=metric, group=group, n_test=len(test), n_scored=len(scored),
                     null_reasons=dict(sorted(reasons.items())), correlations=correlations, partial=partial,
                     n_systems=n_systems, roc_auc=auc, threshold=threshold, balanced_accuracy=bacc,
                     n_valid_scored=n_valid, note=note, n_correlated=sum(r.score is not None for r in scored),
                     n_labeled=len(labeled), correlation_note=correlation_note)


def _correlations(scored, values, seed: int, n_resamples: int):
    """Correlations (and partial ones by system) on the rows with a human score."""
    with_score = [r for r in scored if r.score is not None]
    if scored and not with_score:
        return {}, {}, 0, LABEL_ONLY
    x = np.array([values[r.id].value for r in with_score], dtype=float)
    y = np.array([r.score for r in with_score], dtype=float)
    correlations = {m: _estimate(lambda a, b, m=m: correlation(a, b, m), seed, n_resamples, x, y)
                    for m in CORRELATIONS}
    systems = [r.model_name or "" for r in with_score]
    n_systems = len(set(systems))
    partial = {}
    if n_systems > 1:
        groups = np.array(systems)
        partial = {m: _estimate(lambda a, b, g, m=m: partial_correlation(a, b, g, m), seed, n_resamples, x, y, groups)
                   for m in ("pearson", "spearman")}
    return correlations, partial, n_systems, None


def _estimate(statistic, seed: int, n_resamples: int, *columns) -> Estimate:
    value = statistic(*columns)
    low, high = bootstrap_interval(statistic, *columns, seed=seed, n_resamples=n_resamples)
    return Estimate(value, low, high)


def _classification(labeled, rows, values, threshold_note: str | None):
    """ROC-AUC on the labelled test rows; balanced accuracy at the threshold of the valid rows."""
    if not labeled:
        return None, None, None, 0, "no binary labels"
    x = np.array([values[r.id].value for r in labeled], dtype=float)
    labels = np.array([r.label for r in labeled])
    auc = roc_auc(x, labels)
    auc = None if np.isnan(auc) else auc
    valid = [r for r in rows if r.split == VALID and r.id in values and values[r.id].value is not None
             and r.label is not None]
    if len({r.label for r in valid}) < 2:
        if not any(r.split == VALID for r in rows):
            note = threshold_note or "no valid split to choose a threshold on"
        else:
            note = "no scored valid rows of both labels to choose a threshold on"
        return auc, None, None, len(valid), note
    threshold = best_threshold([values[r.id].value for r in valid], [r.label for r in valid])
    bacc = balanced_accuracy(x, labels, threshold)
    return auc, threshold, None if np.isnan(bacc) else bacc, len(valid), None


def common_rows(rows: Sequence[BenchmarkRow], metric_values: dict[str, dict[str, MetricValue]]) -> set[str]:
    """Ids every metric scored (non-null): the rows on which metrics compare like for like."""
    ids = {r.id for r in rows}
    for values in metric_values.values():
        ids &= {i for i, v in values.items() if v.value is not None}
    return ids
