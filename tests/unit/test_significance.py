"""Paired bootstrap: fixed points, seeding, interval properties, and the comparison table."""

from __future__ import annotations

import numpy as np
import pytest

from quals.evaluation.significance import paired_bootstrap


def test_identical_systems_have_no_difference():
    result = paired_bootstrap([0.1, 0.5, 0.3], [0.1, 0.5, 0.3])
    assert (result.delta, result.ci_low, result.ci_high, result.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_a_constant_improvement_is_significant():
    a = [0.1, 0.4, 0.2, 0.9, 0.5]
    result = paired_bootstrap(a, [x + 1.0 for x in a], n_resamples=500)
    assert result.delta == pytest.approx(1.0)
    assert result.ci_low == pytest.approx(1.0) and result.ci_high == pytest.approx(1.0)
    assert result.p_value == 0.0
    assert result.mean_b - result.mean_a == pytest.approx(1.0)


def test_seeded_and_reproducible():
    a = [0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.5, 0.2]
    b = [1.0, 0.0, 0.5, 1.0, 1.0, 0.0, 0.9, 0.1]
    first, second = paired_bootstrap(a, b, seed=3), paired_bootstrap(a, b, seed=3)
    assert first == second
    assert 0.0 < first.p_value <= 1.0


def test_rejects_bad_inputs():
    with pytest.raises(ValueError, match="same rows"):
        paired_bootstrap([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="at least 2"):
        paired_bootstrap([1.0], [1.0])
    with pytest.raises(ValueError, match="finite"):
        paired_bootstrap([1.0, float("nan")], [1.0, 2.0])


def test_interval_covers_the_true_difference_about_as_often_as_it_says():
    """Coverage on simulated pairs with a known mean difference: a confidence level misused (a 99.9%
    or a 50% interval) or a shifted interval falls outside the band. Under no difference, p < 0.05
    about 5% of the time."""
    rng = np.random.default_rng(0)
    covered = rejected = 0
    trials = 300
    for k in range(trials):
        a = rng.normal(size=60)
        b = a + 0.3 + rng.normal(size=60)  # true mean difference 0.3
        result = paired_bootstrap(a, b, n_resamples=400, seed=k)
        covered += result.ci_low <= 0.3 <= result.ci_high
        null = paired_bootstrap(a, a + rng.normal(size=60), n_resamples=400, seed=k)
        rejected += null.p_value < 0.05
    assert 0.89 <= covered / trials <= 0.99
    assert rejected / trials <= 0.11


def test_comparison_table_marks_differences_against_the_first_system():
    from pathlib import Path

    from quals.evaluation.summaries import compare_systems, markdown_table

    base = [{"row": i, "rouge1": 0.2 + 0.01 * i, "quals": -1.0, "error": None} for i in range(6)]
    better = [{"row": i, "rouge1": 0.3 + 0.01 * i, "quals": None if i == 0 else -0.5, "error": None} for i in range(6)]
    systems = compare_systems(["mle", "conseq"], [Path("a"), Path("b")], [base, better], ["rouge1", "quals"],
                              n_resamples=200)
    assert systems[0].comparison == {}
    assert systems[1].counts == {"rouge1": 6, "quals": 5}
    assert systems[1].comparison["rouge1"].delta == pytest.approx(0.1)
    assert systems[1].comparison["quals"].n == 5  # rows both systems score
    table = markdown_table(systems, ["rouge1", "quals"])
    assert "| mle | 6 | 22.50 | -1.0000 |" in table
    assert "| conseq | 6 | 32.50 (+10.00, p=0.000) | -0.5000 (+0.5000, p=0.000) |" in table
