"""Assignment of items to annotators: every item gets per_item annotators, loads and sides balance."""

from __future__ import annotations

from collections import Counter

import pytest

from quals.annotate.assignment import AssignmentConfig, assign_items

DESIGNS = [(1, 1, 1), (7, 3, 2), (10, 3, 3), (100, 3, 2), (25, 4, 1), (13, 5, 4), (2, 6, 3)]


@pytest.mark.parametrize("n_items,annotators,per_item", DESIGNS)
@pytest.mark.parametrize("seed", [0, 1, 17])
def test_each_item_gets_per_item_distinct_annotators(n_items, annotators, per_item, seed):
    rows = assign_items(n_items, AssignmentConfig(annotators, per_item, seed))
    by_item = Counter(r.item for r in rows)
    assert sorted(by_item) == list(range(n_items)) and set(by_item.values()) == {per_item}
    assert len({(r.annotator, r.item) for r in rows}) == len(rows) == n_items * per_item


@pytest.mark.parametrize("n_items,annotators,per_item", DESIGNS)
@pytest.mark.parametrize("seed", [0, 1, 17])
def test_workloads_and_left_right_sides_are_balanced(n_items, annotators, per_item, seed):
    rows = assign_items(n_items, AssignmentConfig(annotators, per_item, seed))
    loads = Counter(r.annotator for r in rows)
    assert max(loads.values()) - min(loads.values()) <= 1
    assert sum(loads.values()) == n_items * per_item
    for annotator in range(annotators):
        mine = [r for r in rows if r.annotator == annotator]
        assert sorted(r.position for r in mine) == list(range(len(mine)))  # a queue 0..m-1
        on_left = sum(r.b_on_left for r in mine)
        assert abs(on_left - (len(mine) - on_left)) <= 1


def test_same_seed_same_assignment_other_seed_other_order():
    config = AssignmentConfig(annotators=3, per_item=2, seed=5)
    assert assign_items(30, config) == assign_items(30, config)
    assert assign_items(30, config) != assign_items(30, AssignmentConfig(annotators=3, per_item=2, seed=6))


def test_sides_and_orders_are_random_not_fixed_patterns():
    rows = assign_items(200, AssignmentConfig(annotators=1, per_item=1, seed=0))
    items = [r.item for r in rows]
    assert items != sorted(items)
    sides = [r.b_on_left for r in rows]
    assert sides != [k % 2 == 0 for k in range(200)] and sides != [k % 2 == 1 for k in range(200)]


@pytest.mark.parametrize("kwargs,message", [
    ({"annotators": 0}, "annotators must be >= 1"),
    ({"annotators": 2, "per_item": 3}, "per_item must be between 1 and annotators"),
    ({"annotators": 2, "per_item": 0}, "per_item must be between 1 and annotators"),
])
def test_bad_designs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AssignmentConfig(**kwargs)


def test_no_items_is_refused():
    with pytest.raises(ValueError, match="n_items must be >= 1"):
        assign_items(0, AssignmentConfig())
