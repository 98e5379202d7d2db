"""Statistics of a pairwise study: preference counts, the sign test, Krippendorff's alpha.

Pure functions over plain sequences. A choice is ``a``, ``equal`` or ``b`` (which summary of the
study file is better); statistics read "system B against system A", so ``b`` counts as *better*.

Example:
    >>> count_preferences(["b", "b", "equal", "a"])
    PreferenceCounts(better=2, equal=1, worse=1)
    >>> round(krippendorff_alpha_nominal([["a", "a"], ["b", "b"], ["a", "b"]]), 3)
    0.444
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PreferenceCounts:
    """How often B was better than, equal to, or worse than A."""

    better: int
    equal: int
    worse: int

    @property
    def total(self) -> int:
        return self.better + self.equal + self.worse

    def shares(self) -> dict[str, float | None]:
        """Each count over the total (None when there is nothing to share)."""
        total = self.total
        return {name: (getattr(self, name) / total if total else None) for name in ("better", "equal", "worse")}

    def to_dict(self) -> dict[str, int]:
        return {"better": self.better, "equal": self.equal, "worse": self.worse}


def count_preferences(choices: Iterable[str]) -> PreferenceCounts:
    """Count ``b`` as better, ``a`` as worse, ``equal`` as equal.

    Raises:
        ValueError: a choice is none of the three.
    """
    counts = Counter(choices)
    unknown = set(counts) - {"a", "equal", "b"}
    if unknown:
        raise ValueError(f"choices must be 'a', 'equal' or 'b', got {sorted(unknown)}")
    return PreferenceCounts(counts["b"], counts["equal"], counts["a"])


def item_preferences(units: Iterable[Sequence[str]]) -> PreferenceCounts:
    """One verdict per item from all its judgments: the net vote (``b`` minus ``a``) decides, 0 is equal.

    Judgments of one item by several annotators are not independent observations; this verdict
    is the unit the sign test counts.
    """
    verdicts = []
    for choices in units:
        counts = count_preferences(choices)
        if counts.total == 0:
            continue
        net = counts.better - counts.worse
        verdicts.append("b" if net > 0 else "a" if net < 0 else "equal")
    return count_preferences(verdicts)


def sign_test(better: int, worse: int) -> float | None:
    """Two-sided sign test p-value of ``better`` against ``worse`` (ties are left out beforehand).

    Under the null hypothesis B and A are equally likely to win a non-tied comparison, so
    ``better`` ~ Binomial(better + worse, 1/2). Returns None when there is no non-tied comparison.

    Raises:
        ValueError: a negative count.
    """
    if better < 0 or worse < 0:
        raise ValueError(f"counts must be >= 0, got better={better}, worse={worse}")
    if better + worse == 0:
        return None
    from scipy.stats import binomtest

    return float(binomtest(better, better + worse, 0.5, alternative="two-sided").pvalue)


def krippendorff_alpha_nominal(units: Iterable[Sequence[Hashable]]) -> float | None:
    """Krippendorff's alpha for nominal values, any number of coders per unit, missing values allowed.

    Written here because none of our dependencies provides it (scipy and statsmodels have Fleiss'
    kappa at best, which needs every unit rated by the same number of coders; the ``krippendorff``
    package would be a new dependency for twenty lines). Follows Krippendorff (2011), "Computing
    Krippendorff's alpha-reliability": build the coincidence matrix o_ck = sum over units of
    (number of c-k pairs of values in the unit) / (m_u - 1), with n_c its row sums and n their total,
    then alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c n_k.

    Args:
        units: the values given to each unit (item) by its coders, missing ones left out; units
            with fewer than two values are not pairable and are ignored.

    Returns:
        alpha in [-1, 1] (1: perfect agreement, 0: chance level), or None when undefined: no unit
        has two values, or only one value occurs at all (no variation to agree on).
    """
    coincidences: Counter = Counter()
    for values in units:
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                coincidences[c, k] += (n_c * (n_c - 1) if c == k else n_c * n_k) / (m - 1)
    totals: Counter = Counter()
    for (c, _), o in coincidences.items():
        totals[c] += o
    n = sum(totals.values())
    expected = sum(totals[c] * totals[k] for c in totals for k in totals if c != k)
    if n == 0 or expected == 0:
        return None
    observed = sum(o for (c, k), o in coincidences.items() if c != k)
    return 1.0 - (n - 1) * observed / expected
