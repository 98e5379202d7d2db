"""Agreement statistics: against scipy, hand computations, and the valid/test discipline."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from quals.data.benchmarks import BenchmarkRow
from quals.evaluation.agreement import MetricValue, agreement
from quals.evaluation.statistics import (
    balanced_accuracy,
    best_threshold,
    bootstrap_interval,
    correlation,
    partial_correlation,
    roc_auc,
)

X = [0.1, 0.4, 0.35, 0.8, 0.7, 0.2, 0.9, 0.5]
Y = [0.0, 0.5, 0.3, 1.0, 0.6, 0.4, 0.8, 0.5]


def test_correlations_match_scipy():
    assert correlation(X, Y, "pearson") == pytest.approx(stats.pearsonr(X, Y).statistic)
    assert correlation(X, Y, "spearman") == pytest.approx(stats.spearmanr(X, Y).statistic)
    assert correlation(X, Y, "kendall") == pytest.approx(stats.kendalltau(X, Y).statistic)


def test_correlation_of_constant_column_is_nan_not_an_error():
    assert np.isnan(correlation([1.0, 1.0, 1.0], [0.1, 0.2, 0.3], "pearson"))
    with pytest.raises(ValueError, match="method"):
        correlation(X, Y, "cosine")


def test_partial_correlation_equals_least_squares_residual_correlation():
    """Hand computation: regress x and y on an intercept + one-hot systems, correlate residuals."""
    rng = np.random.default_rng(3)
    groups = np.array(["a"] * 10 + ["b"] * 10 + ["c"] * 10)
    offsets = {"a": 0.0, "b": 2.0, "c": -1.0}
    x = rng.normal(size=30) + np.array([offsets[g] for g in groups])
    y = 0.5 * x + rng.normal(size=30) + np.array([3 * offsets[g] for g in groups])
    design = np.column_stack([np.ones(30), groups == "b", groups == "c"]).astype(float)
    rx = x - design @ np.linalg.lstsq(design, x, rcond=None)[0]
    ry = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    assert partial_correlation(x, y, groups, "pearson") == pytest.approx(np.corrcoef(rx, ry)[0, 1])
    # Spearman: the same on ranks.
    rxr = stats.rankdata(x) - design @ np.linalg.lstsq(design, stats.rankdata(x), rcond=None)[0]
    ryr = stats.rankdata(y) - design @ np.linalg.lstsq(design, stats.rankdata(y), rcond=None)[0]
    assert partial_correlation(x, y, groups, "spearman") == pytest.approx(np.corrcoef(rxr, ryr)[0, 1])


def test_partial_correlation_removes_a_system_effect():
    """Within each system x and y are unrelated; across systems they move together."""
    groups = ["a"] * 4 + ["b"] * 4
    x = [0, 1, 0, 1, 10, 11, 10, 11]
    y = [0, 0, 1, 1, 10, 10, 11, 11]
    assert correlation(x, y, "pearson") > 0.9
    assert partial_correlation(x, y, groups, "pearson") == pytest.approx(0.0, abs=1e-12)


def test_roc_auc_by_hand_with_a_tie():
    # positives 0.9, 0.5; negatives 0.5, 0.1: pairs (0.9>0.5), (0.9>0.1), (0.5=0.5 -> 1/2), (0.5>0.1)
    assert roc_auc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]) == pytest.approx(3.5 / 4)
    assert np.isnan(roc_auc([0.1, 0.2], [1, 1]))


def test_balanced_accuracy_and_threshold():
    scores = [0.1, 0.2, 0.3, 0.7, 0.8, 0.4]
    labels = [0, 0, 0, 1, 1, 1]
    assert balanced_accuracy(scores, labels, 0.35) == pytest.approx(1.0)
    assert balanced_accuracy(scores, labels, 0.75) == pytest.approx((1 / 3 + 1) / 2)
    threshold = best_threshold(scores, labels)
    assert 0.3 < threshold <= 0.4
    with pytest.raises(ValueError, match="both labels"):
        best_threshold([0.1, 0.2], [1, 1])


def test_bootstrap_interval_is_seeded_and_contains_the_estimate():
    stat = lambda a, b: correlation(a, b, "spearman")  # noqa: E731
    first = bootstrap_interval(stat, X, Y, seed=7, n_resamples=300)
    assert first == bootstrap_interval(stat, X, Y, seed=7, n_resamples=300)
    assert first != bootstrap_interval(stat, X, Y, seed=8, n_resamples=300)
    assert first[0] <= stat(X, Y) <= first[1]


def test_bootstrap_interval_equals_scipy_percentile_interval_without_degenerate_resamples():
    from scipy import stats

    stat = lambda a, b: correlation(a, b, "pearson")  # noqa: E731
    expected = stats.bootstrap((np.asarray(X), np.asarray(Y)), stat, paired=True, vectorized=False,
                               n_resamples=300, method="percentile", rng=np.random.default_rng(3))
    assert bootstrap_interval(stat, X, Y, seed=3, n_resamples=300) == pytest.approx(
        tuple(expected.confidence_interval))


def test_bootstrap_interval_leaves_out_a_few_degenerate_resamples_but_not_many():
    stat = lambda a, b: correlation(a, b, "pearson")  # noqa: E731
    rng = np.random.default_rng(0)
    # 60 rows, 4 with a nonzero human score: about 2% of resamples draw only zeros (Pearson undefined)
    x = rng.normal(size=60)
    rare = np.zeros(60)
    rare[:4] = 1.0
    low, high = bootstrap_interval(stat, x, rare, seed=0, n_resamples=400)
    with np.errstate(all="ignore"), pytest.warns(Warning):  # scipy warns about the NaN resamples
        distribution = stats.bootstrap((x, rare), stat, paired=True, vectorized=False, n_resamples=400,
                                       method="percentile", rng=np.random.default_rng(0)).bootstrap_distribution
    finite = distribution[np.isfinite(distribution)]
    assert 0 < distribution.size - finite.size <= 0.05 * distribution.size  # some left out, within the limit
    assert (low, high) == pytest.approx(tuple(np.percentile(finite, [2.5, 97.5])))
    # 12 rows, 1 nonzero: about a third of the resamples are degenerate -> undefined
    assert all(np.isnan(bootstrap_interval(stat, x[:12], rare[3:15], seed=0, n_resamples=400)))


def test_bootstrap_interval_covers_a_known_correlation_about_95_percent_of_the_time():
    """A percentile interval that is not 95% (or not of this statistic) misses the band."""
    rng = np.random.default_rng(1)
    stat = lambda a, b: float(np.mean(a) - np.mean(b))  # noqa: E731
    trials, covered = 150, 0
    for k in range(trials):
        x, y = rng.normal(1.0, 1.0, size=80), rng.normal(0.0, 1.0, size=80)
        low, high = bootstrap_interval(stat, x, y, seed=k, n_resamples=300)
        covered += low <= 1.0 <= high
    assert 0.87 <= covered / trials <= 0.99


def _row(i: int, split: str, human: float, label: int, system: str = "s") -> BenchmarkRow:
    return BenchmarkRow(id=f"{split}{i}", dataset="d", origin="cnndm", split=split, document="doc",
                        summary="sum", model_name=system, label=label, score=human)


def test_threshold_comes_from_valid_rows_only():
    """Valid rows put the threshold at 0.5; test rows alone would put it at 0.15."""
    valid = [_row(i, "valid", h, lab) for i, (h, lab) in enumerate([(0.0, 0), (0.2, 0), (1.0, 1), (0.9, 1)])]
    test = [_row(i, "test", h, lab) for i, (h, lab) in enumerate([(0.0, 0), (0.5, 1), (1.0, 1), (0.2, 0)])]
    values = {"valid0": 0.1, "valid1": 0.4, "valid2": 0.6, "valid3": 0.9,
              "test0": 0.1, "test1": 0.2, "test2": 0.9, "test3": 0.12}
    result = agreement("m", "d", valid + test, {k: MetricValue(v) for k, v in values.items()}, seed=0,
                       n_resamples=200)
    assert result.threshold == pytest.approx(0.5)
    # On test: 0.2 (label 1) falls below 0.5 -> TPR 1/2, TNR 1 -> 0.75 (a test-chosen threshold gives 1.0).
    assert result.balanced_accuracy == pytest.approx(0.75)
    assert result.n_valid_scored == 4 and result.n_test == 4


def test_nulls_are_excluded_and_counted_with_reasons():
    rows = [_row(i, "test", h, int(h > 0.5), system=f"s{i % 2}") for i, h in enumerate([0.1, 0.9, 0.4, 0.8, 0.3, 0.7])]
    values = {r.id: MetricValue(r.score * 2) for r in rows}
    values["test0"] = MetricValue(None, "no kept pair")
    values["test1"] = MetricValue(None, "no kept pair")
    result = agreement("m", "d", rows, values, seed=0, n_resamples=200)
    assert result.n_test == 6 and result.n_scored == 4
    assert result.null_reasons == {"no kept pair": 2}
    assert result.correlations["pearson"].value == pytest.approx(1.0)
    assert result.n_systems == 2 and set(result.partial) == {"pearson", "spearman"}
    assert "threshold" in (result.note or "")


def _labelled(split: str, values, labels, scores=None) -> tuple[list[BenchmarkRow], dict[str, MetricValue]]:
    scores = scores or [None] * len(values)
    rows = [BenchmarkRow(id=f"{split}{i}", dataset="d", origin="", split=split, document="doc", summary="sum",
                         model_name=None, label=label, score=score)
            for i, (label, score) in enumerate(zip(labels, scores, strict=True))]
    return rows, {r.id: MetricValue(v) for r, v in zip(rows, values, strict=True)}


def _reference_balanced_accuracy(valid_x, valid_y, test_x, test_y) -> float:
    """Independent of statistics.py: every cut point between sorted valid values, the first best."""
    valid_x, valid_y, test_x, test_y = map(np.asarray, (valid_x, valid_y, test_x, test_y))
    cuts = np.unique(valid_x)
    candidates = [cuts[0] - 1, *((cuts[:-1] + cuts[1:]) / 2), cuts[-1] + 1]

    def bacc(x, y, t):
        return (np.mean(x[y == 1] >= t) + np.mean(x[y == 0] < t)) / 2

    best = max(candidates, key=lambda t: (bacc(valid_x, valid_y, t), -t))
    return float(bacc(test_x, test_y, best))


def test_label_only_rows_give_auc_and_balanced_accuracy_against_scipy_and_no_correlations():
    rng = np.random.default_rng(5)
    valid_y, test_y = rng.integers(0, 2, 40), rng.integers(0, 2, 60)
    valid_x, test_x = valid_y + rng.normal(0, 0.8, 40), np.round(test_y + rng.normal(0, 0.8, 60), 1)  # ties too
    valid, valid_values = _labelled("valid", valid_x, valid_y)
    test, test_values = _labelled("test", test_x, test_y)
    result = agreement("m", "d", valid + test, {**valid_values, **test_values}, seed=0, n_resamples=200)
    u = stats.mannwhitneyu(test_x[test_y == 1], test_x[test_y == 0]).statistic
    assert result.roc_auc == pytest.approx(u / ((test_y == 1).sum() * (test_y == 0).sum()))
    assert result.balanced_accuracy == pytest.approx(_reference_balanced_accuracy(valid_x, valid_y, test_x, test_y))
    assert result.correlations == {} and result.partial == {} and result.n_systems == 0
    assert result.correlation_note.startswith("label-only")
    assert (result.n_scored, result.n_labeled, result.n_correlated, result.n_valid_scored) == (60, 60, 0, 40)
    assert result.note is None


def test_score_only_rows_give_correlations_and_say_why_there_is_no_auc():
    rows, values = _labelled("test", X, [None] * len(X), Y)
    result = agreement("m", "d", rows, values, seed=0, n_resamples=200)
    assert result.correlations["spearman"].value == pytest.approx(stats.spearmanr(X, Y).statistic)
    assert result.roc_auc is None and result.balanced_accuracy is None and result.note == "no binary labels"
    assert (result.n_labeled, result.n_correlated, result.correlation_note) == (0, len(X), None)


def test_mixed_rows_use_for_each_statistic_the_rows_with_its_judgment():
    """Rows 0-3 have a score only, rows 4-7 a label only: each statistic sees its four rows."""
    labels = [None] * 4 + [0, 1, 0, 1]
    scores = Y[:4] + [None] * 4
    rows, values = _labelled("test", X, labels, scores)
    result = agreement("m", "d", rows, values, seed=0, n_resamples=200)
    assert result.correlations["pearson"].value == pytest.approx(stats.pearsonr(X[:4], Y[:4]).statistic)
    assert result.roc_auc == pytest.approx(roc_auc(X[4:], labels[4:]))
    assert (result.n_correlated, result.n_labeled, result.n_scored) == (4, 4, 8)


def test_the_reason_for_a_missing_threshold_says_which_case_it_is():
    rows, values = _labelled("test", [0.1, 0.9, 0.2, 0.8], [0, 1, 0, 1])
    assert agreement("m", "d", rows, values, seed=0, n_resamples=200).note == "no valid split to choose a threshold on"
    skipped = agreement("m", "d", rows, values, seed=0, n_resamples=200, threshold_note="valid split skipped")
    assert skipped.note == "valid split skipped" and skipped.roc_auc == 1.0 and skipped.balanced_accuracy is None
    valid, valid_values = _labelled("valid", [0.3, 0.4], [1, 1])  # one label only among the valid rows
    one_label = agreement("m", "d", rows + valid, {**values, **valid_values}, seed=0, n_resamples=200,
                          threshold_note="valid split skipped")
    assert one_label.note == "no scored valid rows of both labels to choose a threshold on"


def test_rows_the_metric_left_null_are_out_of_auc_and_balanced_accuracy_too():
    rows, values = _labelled("test", [0.9, 0.1, 0.8, 0.2, 0.7, 0.3], [1, 0, 1, 0, 0, 1])
    values["test4"] = values["test5"] = MetricValue(None, "no kept pair")  # the two misordered rows
    valid, valid_values = _labelled("valid", [0.2, 0.6], [0, 1])
    result = agreement("m", "d", rows + valid, {**values, **valid_values}, seed=0, n_resamples=200)
    assert result.roc_auc == 1.0 and result.balanced_accuracy == 1.0
    assert (result.n_test, result.n_scored, result.n_labeled, result.null_reasons) == (6, 4, 4, {"no kept pair": 2})
