"""Reading benchmark files: label-only and score-only rows, other field names, split names."""

from __future__ import annotations

import json

import pytest

from quals.data.benchmarks import BenchmarkFields, read_benchmark, split_role

AGGREFACT = BenchmarkFields(document="doc", summary="claim")  # LLM-AggreFact's names; label, dataset as ours


def _write(path, rows) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def test_label_only_and_score_only_rows_read_with_the_other_judgment_none(tmp_path):
    path = tmp_path / "b.jsonl"
    base = {"dataset": "d", "origin": "cnndm", "split": "test", "document": "doc", "summary": "sum"}
    _write(path, [{**base, "id": "a", "label": 1}, {**base, "id": "b", "score": 0.25},
                  {**base, "id": "c", "label": 0, "score": 0.5}, {**base, "id": "d", "label": True, "score": 1}])
    rows = {r.id: r for r in read_benchmark(path)}
    assert (rows["a"].label, rows["a"].score) == (1, None)
    assert (rows["b"].label, rows["b"].score) == (None, 0.25)
    assert (rows["c"].label, rows["c"].score) == (0, 0.5)
    assert (rows["d"].label, rows["d"].score) == (1, 1.0) and isinstance(rows["d"].score, float)


def test_custom_field_names_read_an_llm_aggrefact_file_without_ids_or_origins(tmp_path):
    path = tmp_path / "llm_aggrefact.jsonl"
    _write(path, [{"dataset": "AggreFact-CNN", "split": "val", "doc": "The cat sat.", "claim": "A cat sat.",
                   "label": 1},
                  "",  # a blank line is no row, and does not shift the line numbers of the ids
                  {"dataset": "AggreFact-CNN", "split": "test", "doc": "D", "claim": "C", "label": 0,
                   "system": "gpt"}])
    first, second = read_benchmark(path, AGGREFACT)
    assert (first.id, first.document, first.summary, first.label, first.score) == (
        "llm_aggrefact.jsonl:1", "The cat sat.", "A cat sat.", 1, None)
    assert second.id == "llm_aggrefact.jsonl:3" and first.origin == "" and second.model_name is None
    with_system = BenchmarkFields(document="doc", summary="claim", system="system")
    assert read_benchmark(path, with_system)[1].model_name == "gpt"
    with pytest.raises(ValueError, match=r"llm_aggrefact.jsonl:1: field\(s\) \['document', 'summary'\] missing"):
        read_benchmark(path)  # the default names are not there: said, not guessed


def test_a_row_with_neither_label_nor_score_names_file_and_line(tmp_path):
    path = tmp_path / "holes.jsonl"
    ok = {"dataset": "d", "split": "test", "doc": "D", "claim": "C"}
    _write(path, [{**ok, "label": 1}, {**ok, "label": None}])
    with pytest.raises(ValueError, match=r"holes.jsonl:2: neither 'label' nor 'score'.*fields present: claim, "
                                         r"dataset, doc, label, split"):
        read_benchmark(path, AGGREFACT)
    relabelled = BenchmarkFields(document="doc", summary="claim", label="gold", score="human")
    with pytest.raises(ValueError, match=r"holes.jsonl:1: neither 'gold' nor 'human'"):
        read_benchmark(path, relabelled)


@pytest.mark.parametrize(("value", "field"), [(2, "label"), (0.5, "label"), ("yes", "label"),
                                              ("high", "score"), (float("nan"), "score"), (True, "score")])
def test_a_label_that_is_not_binary_or_a_score_that_is_not_a_number_is_an_error(tmp_path, value, field):
    path = tmp_path / "bad.jsonl"
    row = {"dataset": "d", "split": "test", "document": "D", "summary": "S", "label": 1, field: value}
    path.write_text(json.dumps({"id": "ok", **row, field: 1}) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(ValueError, match=rf"bad.jsonl:2: '{field}' must be"):
        read_benchmark(path)


@pytest.mark.parametrize(("name", "role"), [("valid", "valid"), ("val", "valid"), ("validation", "valid"),
                                            ("dev", "valid"), ("Validation", "valid"), ("DEV", "valid"),
                                            ("test", "test"), ("TEST", "test"), ("train", None), ("testing", None),
                                            ("", None)])
def test_split_names_and_their_aliases(name, role):
    assert split_role(name) == role


def test_named_splits_come_before_the_aliases():
    assert split_role("train", test_splits=["train"]) == "test"
    assert split_role("dev", test_splits=["dev"]) == "test"  # a benchmark whose only labelled split is dev
    assert split_role("held_out", valid_splits=["held_out"]) == "valid"
    assert split_role("Train", test_splits=["train"]) is None  # names given by the user match exactly
