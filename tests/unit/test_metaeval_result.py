"""Typed meta-evaluation results: ``meta_eval.json`` reads back into the same result, files written
before the typed results included."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from quals.data.benchmarks import BenchmarkFields
from quals.evaluation.agreement import Agreement, Estimate
from quals.evaluation.metaeval import (
    IncompleteScores,
    MetaEvalConfig,
    MetaEvalResult,
    Reaggregation,
    ScorerRun,
    write_outputs,
)
from quals.evaluation.selection import SplitCount
from quals.reports.metaeval import render_markdown

# Written by the string-keyed MetaEvalResult (a report-only run over a half-written score file).
REPORT = Path(__file__).parent.parent / "fixtures" / "meta_eval_report"


def _dumps(value) -> str:  # the layout of atomic_write_json
    from quals.files import dumps_json

    return dumps_json(value)


def _contains(old, new, where="") -> None:
    """Every key and value of ``old`` is in ``new`` (which may have more keys)."""
    if isinstance(old, dict):
        for key, value in old.items():
            assert key in new, f"{where}/{key} is lost"
            _contains(value, new[key], f"{where}/{key}")
    elif isinstance(old, list):
        assert len(old) == len(new), where
        for k, (a, b) in enumerate(zip(old, new, strict=True)):
            _contains(a, b, f"{where}[{k}]")
    else:
        assert old == new, f"{where}: {old!r} became {new!r}"


def _in_order(old_lines: list[str], new_lines: list[str]) -> bool:
    remaining = iter(new_lines)
    return all(line in remaining for line in old_lines)


def test_report_written_before_the_typed_result_reads_back_with_every_number():
    """A report of the string-keyed result (before label-only rows, field names and split names)
    reads back: nothing of it is lost, what it lacks takes its default, and its Markdown tables
    render as they did (new sections and notes are added between them)."""
    text = (REPORT / "meta_eval.json").read_text()
    result = MetaEvalResult.from_dict(json.loads(text))
    _contains(json.loads(text), json.loads(_dumps(result.to_dict())))
    assert _in_order((REPORT / "meta_eval.md").read_text().splitlines(), render_markdown(result).splitlines())
    assert "## Benchmark summary" in render_markdown(result)
    assert result.splits == () and result.config.fields == BenchmarkFields() and result.config.test_splits == ()
    assert result.agreements[0].n_labeled is None and result.agreements[0].correlation_note is None
    assert result.incomplete == (IncompleteScores("small", "lexical", 7, 15),)
    assert result.config.metrics == ("overlap", "rougeL") and result.files == ("BENCH/other.jsonl.gz",
                                                                               "BENCH/small.jsonl")
    lexical = result.run("lexical")
    assert lexical.signature.startswith("lexical|rouge-score:") and lexical.info["names"][0] == "overlap"
    first = result.agreements[0]
    assert isinstance(first.correlations["pearson"], Estimate) and isinstance(first.partial["spearman"], Estimate)


COMMITTED = sorted((Path(__file__).parents[2] / "docs" / "results" / "meta-eval").glob("*meta_eval.json"))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_committed_reports_read_back_to_the_same_json_and_markdown(path):
    """The published meta-evaluations (real QUALS, QAGS and baseline runs, written before the typed
    result and rewritten, no number changed, when the benchmark summary and split counts came) read
    back: same JSON byte for byte, and the Markdown beside them renders again. Undefined intervals are
    null, never a bare NaN (which strict JSON parsers refuse)."""
    text = path.read_text()
    assert "NaN" not in text
    result = MetaEvalResult.from_dict(json.loads(text))
    assert _dumps(result.to_dict()) == text
    assert render_markdown(result) == path.with_suffix(".md").read_text()


def test_the_committed_reports_are_found():
    assert len(COMMITTED) >= 3


def _agreement(metric: str, group: str) -> Agreement:
    return Agreement(metric=metric, group=group, n_test=4, n_scored=3, null_reasons={"empty summary": 1},
                     correlations={m: Estimate(0.5, 0.1, 0.9) for m in ("pearson", "spearman", "kendall")},
                     partial={"pearson": Estimate(0.4, 0.0, 0.8), "spearman": Estimate(0.3, -0.1, 0.7)},
                     n_systems=2, roc_auc=0.75, threshold=0.5, balanced_accuracy=0.6, n_valid_scored=2)


def test_runs_with_a_reaggregation_round_trip_in_scorer_order(tmp_path):
    quals_info = {"metric": "quals", "signature": "quals:0.1.0|...", "settings": {"max_pairs": 10}}
    reaggregated = ScorerRun("quals", quals_info, Reaggregation("scores/d/quals.jsonl", {"lowest_k": 2},
                                                                {"max_pairs": 10, "lowest_k": 2}))
    result = MetaEvalResult(
        agreements=(_agreement("quals", "z"), _agreement("quals", "d/with-slash"),
                    _agreement("overlap", "d/with-slash")),
        common=(_agreement("quals", "z"),),
        runs=(reaggregated, ScorerRun("lexical", {"metric": "lexical", "signature": "lexical|x"})),
        config=MetaEvalConfig(metrics=("quals", "overlap"), limits={"test": 4}, scorer_limits={"quals": 2},
                              fields=BenchmarkFields(document="doc", summary="claim"), test_splits=("held_out",)),
        files=("/data/d.jsonl",), incomplete=(IncompleteScores("z", "lexical", 3, 4),
                                              IncompleteScores("d/with-slash", "quals", 1, 2),
                                              IncompleteScores("d/with-slash", "lexical", 0, 2)),
        splits=(SplitCount("z", "test", "test", 4, 4), SplitCount("z", "train", None, 9, 0)))
    data = result.to_dict()
    assert data["runs"]["quals"] == {"metric": "quals", "signature": "quals:0.1.0|...",
                                     "settings": {"max_pairs": 10, "lowest_k": 2},
                                     "reaggregated": {"from": "scores/d/quals.jsonl", "overrides": {"lowest_k": 2}}}
    assert data["incomplete"]["d/with-slash/quals"] == {"scored_rows": 1, "selected_rows": 2}
    assert data["config"] == {"metrics": ("quals", "overlap"), "limits": {"test": 4}, "scorer_limits": {"quals": 2},
                              "seed": 0, "n_resamples": 1000, "files": ["/data/d.jsonl"],
                              "fields": {**asdict(BenchmarkFields()), "document": "doc", "summary": "claim"},
                              "valid_splits": (), "test_splits": ("held_out",)}
    assert data["splits"][1] == {"dataset": "z", "split": "train", "role": None, "rows": 9, "selected": 0}
    assert set(data["benchmark_summary"]["metrics"]["quals"]["per_dataset"]) == {"z", "d/with-slash"}
    paths = write_outputs(result, tmp_path)
    assert "plot" not in paths  # no points (a result read back from its JSON): no plot
    back = MetaEvalResult.from_dict(json.loads(paths["json"].read_text()))
    # the file sorts its keys; the order of the run is restored (and with it the Markdown)
    assert [r.scorer for r in back.runs] == ["quals", "lexical"]
    assert back.run("quals").reaggregated == reaggregated.reaggregated
    assert _dumps(back.to_dict()) == _dumps(data) == paths["json"].read_text()
    assert back.incomplete == result.incomplete and back.agreements == result.agreements
    assert back.config == result.config and back.splits == result.splits
    assert render_markdown(back) == paths["markdown"].read_text()


def test_reading_a_bad_config_fails_loudly():
    data = json.loads((REPORT / "meta_eval.json").read_text())
    data["config"]["metrics"] = ["no-such-metric"]
    with pytest.raises(ValueError, match="unknown metrics"):
        MetaEvalResult.from_dict(data)
