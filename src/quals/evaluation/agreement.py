"""Agreement of one metric with human judgments on one group of benchmark rows.

Correlations, ROC-AUC and balanced accuracy are reported on the ``test`` split; the balanced
accuracy threshold is chosen on the ``valid`` split of the same group and never on ``test``.
Rows the metric left without a score (null) are excluded from every statistic and counted, with
their reasons, so a metric cannot look good by abstaining silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from quals.data.benchmarks import BenchmarkRow
from quals.evaluation.statistics import (
    CORRELATIONS,
    balanced_accuracy,
    best_threshold,
    bootstrap_interval,
    correlation,
    partial_correlation,
    roc_auc,
)

TEST, VALID = "test", "valid"


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
    note: str | None = None

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
              seed: int, n_resamples: int = 1000) -> Agreement:
    """Statistics of ``metric`` on the test rows of ``rows`` (valid rows only pick the threshold).

    ``values`` maps row id to the metric's value; a test row without an entry is not part of the
    metric's subset and is ignored (not counted as null).
    """
    test = [r for r in rows if r.split == TEST and r.id in values]
    scored = [r for r in test if values[r.id].value is not None]
    reasons = Counter(values[r.id].reason or "no score" for r in test if values[r.id].value is None)
    x = np.array([values[r.id].value for r in scored], dtype=float)
    y = np.array([r.score for r in scored], dtype=float)
    correlations = {m: _estimate(lambda a, b, m=m: correlation(a, b, m), seed, n_resamples, x, y)
                    for m in CORRELATIONS}
    systems = [r.model_name or "" for r in scored]
    n_systems = len(set(systems))
    partial = {}
    if n_systems > 1:
        groups = np.array(systems)
        partial = {m: _estimate(lambda a, b, g, m=m: partial_correlation(a, b, g, m), seed, n_resamples, x, y, groups)
                   for m in ("pearson", "spearman")}
    auc, threshold, bacc, n_valid, note = _classification(scored, x, rows, values)
    return Agreement(metric=metric, group=group, n_test=len(test), n_scored=len(scored),
                     null_reasons=dict(sorted(reasons.items())), correlations=correlations, partial=partial,
                     n_systems=n_systems, roc_auc=auc, threshold=threshold, balanced_accuracy=bacc,
                     n_valid_scored=n_valid, note=note)


def _estimate(statistic, seed: int, n_resamples: int, *columns) -> Estimate:
    value = statistic(*columns)
    low, high = bootstrap_interval(statistic, *columns, seed=seed, n_resamples=n_resamples)
    return Estimate(value, low, high)


def _classification(scored, x, rows, values):
    labels = np.array([r.label if r.label is not None else -1 for r in scored])
    if len(scored) == 0 or (labels < 0).any():
        return None, None, None, 0, "no binary labels"
    auc = roc_auc(x, labels)
    auc = None if np.isnan(auc) else auc
    valid = [r for r in rows if r.split == VALID and r.id in values and values[r.id].value is not None
             and r.label is not None]
    if len({r.label for r in valid}) < 2:
        return auc, None, None, len(valid), "no scored valid rows of both labels to choose a threshold on"
    threshold = best_threshold([values[r.id].value for r in valid], [r.label for r in valid])
    bacc = balanced_accuracy(x, labels, threshold)
    return auc, threshold, None if np.isnan(bacc) else bacc, len(valid), None


def common_rows(rows: Sequence[BenchmarkRow], metric_values: dict[str, dict[str, MetricValue]]) -> set[str]:
    """Ids every metric scored (non-null): the rows on which metrics compare like for like."""
    ids = {r.id for r in rows}
    for values in metric_values.values():
        ids &= {i for i, v in values.items() if v.value is not None}
    return ids
