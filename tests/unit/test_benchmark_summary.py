"""The benchmark-level summary: per-dataset balanced accuracy and ROC-AUC, and their means."""

from __future__ import annotations

import pytest

from quals.evaluation.agreement import Agreement
from quals.evaluation.benchmark_summary import benchmark_summary, dataset_groups


def _agreement(metric: str, group: str, auc: float | None, bacc: float | None) -> Agreement:
    return Agreement(metric=metric, group=group, n_test=10, n_scored=10, null_reasons={}, correlations={},
                     roc_auc=auc, balanced_accuracy=bacc, threshold=None if bacc is None else 0.5)


def test_means_are_over_datasets_never_origin_groups_and_count_what_they_cover():
    agreements = [
        _agreement("overlap", "frank", 0.80, 0.70),
        _agreement("overlap", "frank/cnndm", 0.10, 0.10),  # an origin inside frank: not a dataset
        _agreement("overlap", "frank/xsum", 0.10, 0.10),
        _agreement("overlap", "qags_cnndm", 0.60, None),  # no valid split: no balanced accuracy
        _agreement("overlap", "aggrefact/cnn", 0.70, 0.65),  # a dataset whose name has a slash
        _agreement("rouge2", "frank", 0.90, float("nan")),
        _agreement("rouge2", "qags_cnndm", None, None),
    ]
    summary = benchmark_summary(agreements)
    assert summary.datasets == ("frank", "qags_cnndm", "aggrefact/cnn")
    overlap, rouge2 = summary.metrics
    assert overlap.mean_roc_auc == pytest.approx((0.80 + 0.60 + 0.70) / 3) and overlap.n_roc_auc == 3
    assert overlap.mean_balanced_accuracy == pytest.approx((0.70 + 0.65) / 2) and overlap.n_balanced_accuracy == 2
    assert overlap.per_dataset["qags_cnndm"].balanced_accuracy is None
    assert rouge2.per_dataset["frank"].balanced_accuracy is None  # NaN is no value
    assert (rouge2.mean_roc_auc, rouge2.n_roc_auc, rouge2.mean_balanced_accuracy) == (0.90, 1, None)
    assert "aggrefact/cnn" not in rouge2.per_dataset
    data = summary.to_dict()
    assert data["metrics"]["overlap"]["n_datasets"] == {"balanced_accuracy": 2, "roc_auc": 3}
    assert data["metrics"]["overlap"]["per_dataset"]["frank"] == {"balanced_accuracy": 0.70, "roc_auc": 0.80,
                                                                  "threshold": 0.5}
    assert "SummaC" in data["protocol"]


def test_dataset_groups_and_an_empty_summary():
    assert dataset_groups(["a", "a/x", "b/y"]) == ["a", "b/y"]
    assert benchmark_summary([]).metrics == ()
