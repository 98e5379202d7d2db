"""Study results: per-attribute counts, sign test, alpha, the Markdown/JSON files and the chart."""

from __future__ import annotations

import json

import pytest

from quals.annotate.assignment import AssignmentConfig
from quals.annotate.export import export_study, render_markdown, summarise_judgments
from quals.annotate.stats import PreferenceCounts
from quals.annotate.storage import Judgment, StudyStore
from quals.annotate.study import ATTRIBUTES, Study, StudyItem


def _judgment(item, annotator, consistency, informativeness="equal", grammaticality="a"):
    choices = {"consistency": consistency, "informativeness": informativeness, "grammaticality": grammaticality}
    return Judgment(item, annotator, choices, False, "", "t", "t", 0)


# Four items, two annotators each. Consistency: items 1-3 both say B, item 4 splits B / A.
JUDGMENTS = [
    _judgment("1", "x", "b"), _judgment("1", "y", "b"),
    _judgment("2", "x", "b"), _judgment("2", "y", "b"),
    _judgment("3", "x", "b"), _judgment("3", "y", "b", "b"),
    _judgment("4", "x", "b"), _judgment("4", "y", "a"),
]


def test_summary_counts_verdicts_p_values_and_alpha():
    results = summarise_judgments(JUDGMENTS, "mle", "conseq", n_items=5, n_assignments=10, signature="sig")
    assert [r.attribute for r in results.attributes] == list(ATTRIBUTES)
    consistency, informativeness, grammaticality = results.attributes
    assert consistency.judgments == PreferenceCounts(better=7, equal=0, worse=1)
    assert consistency.items == PreferenceCounts(better=3, equal=1, worse=0)  # item 4 nets to a tie
    assert consistency.p_value == pytest.approx(2 / 8)
    # Coincidences: o_bb = 6, o_ab = o_ba = 1, n_b = 7, n_a = 1, n = 8: alpha = 1 - 7 * 2 / 14 = 0.
    assert consistency.alpha == pytest.approx(0.0)
    assert informativeness.judgments == PreferenceCounts(better=1, equal=7, worse=0)
    assert grammaticality.judgments == PreferenceCounts(better=0, equal=0, worse=8)
    assert grammaticality.p_value == pytest.approx(2 / 16) and grammaticality.alpha is None  # one value only
    assert (results.n_judgments, results.n_judged_items, results.n_annotators) == (8, 4, 2)
    record = results.to_dict()
    assert record["complete"] is False and record["attributes"][0]["shares"]["better"] == 7 / 8
    json.dumps(record)


def test_markdown_reports_every_attribute_and_incompleteness():
    text = render_markdown(summarise_judgments(JUDGMENTS, "mle", "conseq", 5, 10, "sig"))
    assert "# Human evaluation: conseq (B) vs mle (A)" in text
    assert "**incomplete: 8 of 10 assigned judgments**" in text
    assert "| Factual consistency | 87.5% (7) | 0.0% (0) | 12.5% (1) | 3/1/0 | 0.25 | 0.000 |" in text
    assert "| Grammatical correctness | 0.0% (0) | 0.0% (0) | 100.0% (8) | 0/0/0 | n/a | n/a |" not in text
    assert "| Grammatical correctness | 0.0% (0) | 0.0% (0) | 100.0% (8) | 0/0/4 | 0.125 | n/a |" in text
    empty = render_markdown(summarise_judgments([], "mle", "conseq", 5, 10, "sig"))
    assert "| Informativeness | n/a | n/a | n/a | 0/0/0 | n/a | n/a |" in empty


def test_export_writes_all_files_deterministically(tmp_path):
    items = tuple(StudyItem(str(k), f"Doc {k}.", f"A {k}", f"B {k}") for k in range(4))
    store = StudyStore.create(tmp_path / "s.sqlite", Study.from_items(items, "mle", "conseq $x$"),
                              AssignmentConfig(annotators=2, per_item=2))
    for annotator in store.annotators():
        for position in range(annotator.assigned):
            store.save(annotator.index, position, {"consistency": "left", "informativeness": "equal",
                                                   "grammaticality": "right"}, "note")
    first = export_study(store, tmp_path / "one")
    second = export_study(store, tmp_path / "two")
    assert [p.name for p in first] == ["human-eval.md", "human-eval.json", "human-eval.png", "human-eval.svg",
                                       "judgments.jsonl"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    record = json.loads(first[1].read_text())
    assert record["complete"] is True and record["n_judgments"] == 8
    assert record["signature"].startswith("quals-annotate:")
    assert record["attributes"][1]["judgments"] == {"better": 0, "equal": 8, "worse": 0}
    rows = [json.loads(line) for line in first[4].read_text().splitlines()]
    assert len(rows) == 8 and {r["comment"] for r in rows} == {"note"}
    # "left" is B exactly where B was shown on the left.
    assert all(r["consistency"] == ("b" if r["b_shown"] == "left" else "a") for r in rows)
