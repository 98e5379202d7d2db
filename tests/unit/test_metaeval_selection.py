"""Which rows a meta-evaluation scores: split names, limits per split, and what is announced."""

from __future__ import annotations

import json
import logging
from collections import Counter

import pytest

from quals.data.benchmarks import read_benchmark, select_rows
from quals.evaluation.metaeval import MetaEvalConfig
from quals.evaluation.selection import (
    SplitCount,
    canonical_limits,
    canonical_scorer_limits,
    describe_selection,
    select_benchmarks,
)


def _bench(path, splits: dict[str, int], dataset: str = "d"):
    rows = [{"id": f"{dataset}-{split}-{i}", "dataset": dataset, "split": split, "document": f"doc {i}",
             "summary": f"sum {i}", "label": i % 2} for split, n in splits.items() for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_validation_aliases_join_the_valid_split_and_unknown_splits_are_left_out_with_a_warning(tmp_path, caplog):
    path = _bench(tmp_path / "b.jsonl", {"test": 5, "val": 2, "validation": 1, "dev": 3, "train": 7, "Test-2": 1})
    with caplog.at_level(logging.WARNING):
        selection = select_benchmarks([path])
    assert Counter(r.split for r in selection.datasets["d"]) == {"test": 5, "valid": 6}
    assert not any("train" in r.id or "Test-2" in r.id for r in selection.datasets["d"])
    assert [(s.split, s.role, s.rows, s.selected) for s in selection.splits] == [
        ("test", "test", 5, 5), ("dev", "valid", 3, 3), ("val", "valid", 2, 2), ("validation", "valid", 1, 1),
        ("Test-2", None, 1, 0), ("train", None, 7, 0)]
    assert "d: 'Test-2' (1 row); d: 'train' (7 rows)" in caplog.text and "--test-splits" in caplog.text


def test_named_splits_are_used_as_the_user_says(tmp_path, caplog):
    path = _bench(tmp_path / "b.jsonl", {"test": 2, "dev": 3, "train": 4})
    with caplog.at_level(logging.WARNING):
        selection = select_benchmarks([path], test_splits=["train"], valid_splits=["test"])
    assert not caplog.text
    assert {s.split: s.role for s in selection.splits} == {"train": "test", "test": "valid", "dev": "valid"}


def test_a_limit_cuts_only_the_split_it_names_and_zero_skips_one(tmp_path):
    path = _bench(tmp_path / "b.jsonl", {"test": 6, "val": 4})
    only_test = select_benchmarks([path], limits={"test": 2})
    assert Counter(r.split for r in only_test.datasets["d"]) == {"test": 2, "valid": 4}  # valid whole, and said:
    assert describe_selection(only_test, {"test": 2}) == [
        "rows to score per dataset and split (seeded):",
        "  d: test 2 of 6 (limit 2), val 4 of 4 (as valid; all: --limit does not name it)"]
    test_only = select_benchmarks([path], limits={"test": 2, "valid": 0})
    assert Counter(r.split for r in test_only.datasets["d"]) == {"test": 2}
    assert describe_selection(test_only, {"test": 2, "valid": 0}, scoring=False)[1] == (
        "  d: test 2 of 6 (limit 2), val 0 of 4 (as valid; skipped: limit 0)")


def test_existing_split_names_select_exactly_the_rows_they_did_so_score_files_stay_valid(tmp_path):
    """The selected rows are the scorer's input file, whose hash the resume checks: the rows and
    their order must not change for benchmarks in the old split names."""
    path = _bench(tmp_path / "b.jsonl", {"test": 20, "valid": 9})
    before = select_rows(read_benchmark(path), {"test": 7, "valid": 4}, seed=3)
    assert select_benchmarks([path], limits={"test": 7, "valid": 4}, seed=3).datasets["d"] == before
    # a "val" split is seeded as the valid split it is: the same rows as the same file with "valid"
    renamed = tmp_path / "val.jsonl"
    renamed.write_text(path.read_text().replace('"split": "valid"', '"split": "val"'))
    assert ([r.id for r in select_benchmarks([renamed], limits={"valid": 4}, seed=3).datasets["d"]]
            == [r.id for r in select_benchmarks([path], limits={"valid": 4}, seed=3).datasets["d"]])


def test_no_test_rows_at_all_is_an_error_naming_the_splits(tmp_path):
    path = _bench(tmp_path / "b.jsonl", {"train": 3, "val": 2})
    with pytest.raises(ValueError, match=r"no test rows to evaluate: the splits found are d: 'val' \(2 rows\); "
                                         r"d: 'train' \(3 rows\)"):
        select_benchmarks([path])


def test_limit_names_are_split_roles():
    assert canonical_limits({"val": 0, "test": 5}) == {"valid": 0, "test": 5}
    assert canonical_limits({"*": 3}) == {"test": 3, "valid": 3}
    assert canonical_limits({"held_out": 3}, test_splits=["held_out"]) == {"test": 3}
    assert canonical_limits(None) is None
    with pytest.raises(ValueError, match="--limit names split 'tset'"):
        canonical_limits({"tset": 5})
    with pytest.raises(ValueError, match="two limits"):
        canonical_limits({"val": 1, "dev": 2})
    assert canonical_scorer_limits({"qags.val": 5, "qags.test": 2, "quals": 3, "x.train": 1}) == {
        "qags.valid": 5, "qags.test": 2, "quals": 3, "x.train": 1}


@pytest.mark.parametrize(("settings", "message"), [
    ({"limits": {"train": 3}}, "limits are rows per split, test or valid"),
    ({"limits": {"test": -1}}, "limits are rows per split"),
    ({"scorer_limits": {"lexical.val": 3}, "metrics": ("overlap",)}, "SCORER.test=N"),
    ({"valid_splits": ("dev2",), "test_splits": ("dev2",)}, "named as both"),
])
def test_config_refuses_limits_and_split_names_that_mean_nothing(settings, message):
    with pytest.raises(ValueError, match=message):
        MetaEvalConfig(**settings)
    assert MetaEvalConfig(limits={"valid": 0}).limits == {"valid": 0}  # 0 skips the split: allowed


def test_split_counts_serialise():
    assert SplitCount("d", "val", "valid", 3, 2).to_dict() == {"dataset": "d", "split": "val", "role": "valid",
                                                              "rows": 3, "selected": 2}
