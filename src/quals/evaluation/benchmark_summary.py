"""The benchmark-level summary the field reports: one number per (metric, dataset) and their mean.

SummaC (Laban et al. 2022) and AggreFact / LLM-AggreFact report, per dataset, the balanced
accuracy at a threshold chosen on that dataset's validation split and applied to its test split,
plus ROC-AUC, and rank metrics by the mean over datasets. This module reads those numbers off the
per-dataset :class:`~quals.evaluation.agreement.Agreement` (it computes nothing new) and averages
them. Origin groups (``frank/cnndm``) are not datasets and are left out.

A mean over fewer datasets than the others is not comparable with theirs, so every mean carries
the number of datasets it covers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from quals.evaluation.agreement import Agreement

PROTOCOL = ("balanced accuracy at the threshold chosen on each dataset's valid split (SummaC's protocol) and "
            "ROC-AUC, on the test split; means over the datasets with a value")


@dataclass(frozen=True)
class DatasetScores:
    """One metric on one dataset's test split."""

    balanced_accuracy: float | None
    roc_auc: float | None
    threshold: float | None


@dataclass(frozen=True)
class MetricSummary:
    """One metric on every dataset, and its means over the datasets where each is defined."""

    metric: str
    per_dataset: dict[str, DatasetScores]
    mean_balanced_accuracy: float | None
    mean_roc_auc: float | None
    n_balanced_accuracy: int  # datasets in the mean
    n_roc_auc: int

    def to_dict(self) -> dict:
        return {"per_dataset": {name: vars(scores) for name, scores in self.per_dataset.items()},
                "mean": {"balanced_accuracy": self.mean_balanced_accuracy, "roc_auc": self.mean_roc_auc},
                "n_datasets": {"balanced_accuracy": self.n_balanced_accuracy, "roc_auc": self.n_roc_auc}}


@dataclass(frozen=True)
class BenchmarkSummary:
    datasets: tuple[str, ...]
    metrics: tuple[MetricSummary, ...]

    def to_dict(self) -> dict:
        return {"protocol": PROTOCOL, "datasets": list(self.datasets),
                "metrics": {m.metric: m.to_dict() for m in self.metrics}}


def dataset_groups(groups: Sequence[str]) -> list[str]:
    """The groups that are datasets: a group ``D/o`` is an origin of dataset ``D`` when ``D`` is a
    group too (meta-eval names origin groups so; a dataset whose own name has a slash stays one).

    >>> dataset_groups(["frank", "frank/cnndm", "frank/xsum", "aggrefact/cnn"])
    ['frank', 'aggrefact/cnn']
    """
    names = list(dict.fromkeys(groups))
    present = set(names)
    return [g for g in names if "/" not in g or g.rsplit("/", 1)[0] not in present]


def benchmark_summary(agreements: Sequence[Agreement]) -> BenchmarkSummary:
    """Per dataset and metric: balanced accuracy (valid-split threshold) and ROC-AUC; their means.

    >>> from quals.evaluation.agreement import Agreement
    >>> rows = [Agreement("m", d, 9, 9, {}, {}, roc_auc=auc, balanced_accuracy=bacc)
    ...         for d, auc, bacc in (("a", 0.8, 0.7), ("b", 0.6, None))]
    >>> s = benchmark_summary(rows).metrics[0]
    >>> round(s.mean_roc_auc, 3), s.n_roc_auc, s.mean_balanced_accuracy, s.n_balanced_accuracy
    (0.7, 2, 0.7, 1)
    """
    datasets = dataset_groups([a.group for a in agreements])
    by_key = {(a.metric, a.group): a for a in agreements}
    summaries = []
    for metric in dict.fromkeys(a.metric for a in agreements):
        per_dataset = {d: DatasetScores(_finite(a.balanced_accuracy), _finite(a.roc_auc), _finite(a.threshold))
                       for d in datasets if (a := by_key.get((metric, d))) is not None}
        baccs = [s.balanced_accuracy for s in per_dataset.values() if s.balanced_accuracy is not None]
        aucs = [s.roc_auc for s in per_dataset.values() if s.roc_auc is not None]
        summaries.append(MetricSummary(metric, per_dataset, _mean(baccs), _mean(aucs), len(baccs), len(aucs)))
    return BenchmarkSummary(tuple(datasets), tuple(summaries))


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None
