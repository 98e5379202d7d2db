"""Study statistics against numbers worked out by hand and Krippendorff's published example."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quals.annotate.stats import (
    PreferenceCounts,
    count_preferences,
    item_preferences,
    krippendorff_alpha_nominal,
    sign_test,
)


def test_counts_read_b_against_a():
    counts = count_preferences(["b", "b", "equal", "a", "b"])
    assert counts == PreferenceCounts(better=3, equal=1, worse=1)
    assert counts.shares() == {"better": 0.6, "equal": 0.2, "worse": 0.2}
    assert count_preferences([]).shares() == {"better": None, "equal": None, "worse": None}


def test_unknown_choice_is_refused():
    with pytest.raises(ValueError, match="'a', 'equal' or 'b'"):
        count_preferences(["b", "left"])


def test_item_verdict_is_the_net_vote():
    units = [["b", "b", "a"], ["a", "equal"], ["b", "a"], ["equal", "equal"], []]
    assert item_preferences(units) == PreferenceCounts(better=1, equal=2, worse=1)


def test_sign_test_by_hand():
    # P(X <= 2) for X ~ Bin(10, 1/2) is (1 + 10 + 45) / 1024; two-sided doubles it.
    assert sign_test(8, 2) == pytest.approx(112 / 1024)
    assert sign_test(2, 8) == pytest.approx(112 / 1024)
    assert sign_test(5, 0) == pytest.approx(2 / 32)
    assert sign_test(3, 3) == pytest.approx(1.0)
    assert sign_test(0, 0) is None
    with pytest.raises(ValueError, match=">= 0"):
        sign_test(-1, 2)


def test_alpha_by_hand():
    # Coincidences: o_aa = o_bb = 2 (units 1, 2), o_ab = o_ba = 1 (unit 3); n_a = n_b = 3, n = 6.
    # alpha = 1 - (n - 1) * (o_ab + o_ba) / (n_a n_b + n_b n_a) = 1 - 5 * 2 / 18 = 4/9.
    assert krippendorff_alpha_nominal([["a", "a"], ["b", "b"], ["a", "b"]]) == pytest.approx(4 / 9)


def test_alpha_matches_krippendorffs_published_example():
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C: 4 observers,
    # 12 units, nominal values with missing data; published alpha = 0.743.
    missing = None
    observers = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, missing, missing, missing],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, missing, 3],
        [missing, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, missing],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, missing],
    ]
    units = [[v for v in column if v is not None] for column in zip(*observers, strict=True)]
    assert round(krippendorff_alpha_nominal(units), 3) == 0.743


def test_alpha_extremes_and_undefined_cases():
    assert krippendorff_alpha_nominal([["a", "a"], ["b", "b", "b"], ["equal", "equal"]]) == 1.0
    # Systematic disagreement on every unit is below chance.
    assert krippendorff_alpha_nominal([["a", "b"], ["a", "b"]]) < 0
    assert krippendorff_alpha_nominal([["a"], ["b"]]) is None  # no unit with two values
    assert krippendorff_alpha_nominal([["a", "a"], ["a", "a"]]) is None  # no variation at all
    assert krippendorff_alpha_nominal([]) is None


@given(st.lists(st.lists(st.sampled_from("xyz"), min_size=0, max_size=5), max_size=12))
def test_alpha_at_most_one_and_blind_to_names_and_order(units):
    alpha = krippendorff_alpha_nominal(units)
    if alpha is None:
        return
    assert alpha <= 1 + 1e-12
    renamed = [[{"x": "y", "y": "z", "z": "x"}[v] for v in reversed(unit)] for unit in reversed(units)]
    assert math.isclose(krippendorff_alpha_nominal(renamed), alpha, abs_tol=1e-12)
