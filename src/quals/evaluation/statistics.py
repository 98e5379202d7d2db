"""Agreement statistics between a metric and human judgments: pure functions over arrays.

Correlations, ROC-AUC and bootstrap intervals come from scipy. Two things scipy has no function
for are written here: the partial correlation controlling for a categorical variable (FRANK's
protocol, which controls for the summarization system) and the balanced-accuracy threshold search.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

CORRELATIONS = ("pearson", "spearman", "kendall")


def correlation(x: Sequence[float], y: Sequence[float], method: str) -> float:
    """Pearson, Spearman or Kendall (tau-b) correlation; NaN when either side is constant."""
    x, y = _pair(x, y)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    if method == "pearson":
        return float(stats.pearsonr(x, y).statistic)
    if method == "spearman":
        return float(stats.spearmanr(x, y).statistic)
    if method == "kendall":
        return float(stats.kendalltau(x, y).statistic)
    raise ValueError(f"method must be one of {CORRELATIONS}, got {method!r}")


def partial_correlation(x: Sequence[float], y: Sequence[float], groups: Sequence[str], method: str) -> float:
    """Correlation of x and y after removing what the group (e.g. the system) explains.

    FRANK (Pagnoni et al. 2021) regresses both variables on one-hot indicators of the system and
    correlates the residuals. With indicators as the only covariates the residual is the value
    minus its group mean. For Spearman both variables are ranked first (ranking the indicators,
    as pingouin does, spans the same space, so it changes nothing). Kendall is not defined this way.
    """
    x, y = _pair(x, y)
    groups = np.asarray(groups)
    if len(groups) != len(x):
        raise ValueError(f"{len(groups)} groups for {len(x)} values")
    if method == "spearman":
        x, y = stats.rankdata(x), stats.rankdata(y)
    elif method != "pearson":
        raise ValueError(f"partial correlation supports 'pearson' and 'spearman', got {method!r}")
    return correlation(_residuals(x, groups), _residuals(y, groups), "pearson")


def _residuals(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=float).copy()
    for group in np.unique(groups):
        mask = groups == group
        out[mask] -= out[mask].mean()
    return out


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Probability that a consistent summary (label 1) outscores an inconsistent one; ties count 1/2.

    This is the Mann-Whitney U statistic divided by n1 * n0.
    """
    scores, labels = _pair(scores, labels)
    positive, negative = scores[labels == 1], scores[labels == 0]
    if len(positive) == 0 or len(negative) == 0:
        return float("nan")
    u = stats.mannwhitneyu(positive, negative, alternative="two-sided").statistic
    return float(u / (len(positive) * len(negative)))


def balanced_accuracy(scores: Sequence[float], labels: Sequence[int], threshold: float) -> float:
    """Mean of the true-positive and true-negative rates when ``score >= threshold`` means consistent."""
    scores, labels = _pair(scores, labels)
    predicted = scores >= threshold
    positive, negative = labels == 1, labels == 0
    if not positive.any() or not negative.any():
        return float("nan")
    return float((predicted[positive].mean() + (~predicted[negative]).mean()) / 2)


def best_threshold(scores: Sequence[float], labels: Sequence[int]) -> float:
    """The threshold with the highest balanced accuracy on these (validation) rows.

    Candidates are midpoints between consecutive distinct scores plus one below and one above all
    of them; ties go to the lowest threshold, so the choice is deterministic.
    """
    scores, labels = _pair(scores, labels)
    if len(scores) == 0:
        raise ValueError("no rows to choose a threshold on")
    if len(np.unique(labels)) < 2:
        raise ValueError("threshold selection needs both labels among the rows")
    distinct = np.unique(scores)
    candidates = np.concatenate([[distinct[0] - 1.0], (distinct[:-1] + distinct[1:]) / 2, [distinct[-1] + 1.0]])
    accuracies = [balanced_accuracy(scores, labels, t) for t in candidates]
    return float(candidates[int(np.nanargmax(accuracies))])


MAX_DEGENERATE = 0.05


def bootstrap_interval(statistic: Callable[..., float], *columns: Sequence, seed: int,
                       n_resamples: int = 1000, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(*columns)``, resampling rows together.

    Seeded through its own generator, so the same inputs and seed give the same interval.
    """
    arrays = [np.asarray(c) for c in columns]
    if len(arrays[0]) < 3:
        return (float("nan"), float("nan"))
    with warnings.catch_warnings():  # degenerate resamples (a constant column) give NaN
        warnings.simplefilter("ignore")
        result = stats.bootstrap(
            arrays, statistic, paired=True, vectorized=False, n_resamples=n_resamples,
            confidence_level=confidence, method="percentile", rng=np.random.default_rng(seed),
        )
    # scipy's interval is NaN as soon as one resample is, e.g. one that drew only rows with human
    # score 0 (FRANK's XSum part is 90% zeros). Up to MAX_DEGENERATE of the resamples are left out of
    # the percentiles; beyond that the interval is reported as undefined.
    distribution = np.asarray(result.bootstrap_distribution, dtype=float)
    finite = distribution[np.isfinite(distribution)]
    if finite.size < (1 - MAX_DEGENERATE) * distribution.size:
        return (float("nan"), float("nan"))
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def _pair(x: Sequence, y: Sequence) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"lengths differ: {len(x)} vs {len(y)}")
    return x, y
