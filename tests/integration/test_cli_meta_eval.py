"""``quals meta-eval`` end to end on a tiny model: selection, report files, baselines, resume."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest
from fixtures.fake_qa import fake_generate

from quals.batch.output import dumps_record, sidecar_path
from quals.cli.main import main
from quals.data.benchmarks import read_benchmark, select_rows
from quals.evaluation.metaeval import MetaEvalResult
from quals.metrics.baselines import LexicalBaselines, token_overlap
from quals.metrics.quals import QUALS
from quals.reports.metaeval import render_markdown

RUN = ["--no-progress", "--device", "cpu", "--bootstrap", "200", "--chunk-size", "3"]
SMALL = ["--num-groups", "3", "--min-length", "1", "--max-length", "8", *RUN]


def _bench_rows(dataset: str, n_test: int, n_valid: int) -> list[dict]:
    rows = []
    for split, n in (("test", n_test), ("valid", n_valid)):
        for i in range(n):
            bad = i % 3 == 0
            rows.append({
                "id": f"{dataset}-{split}-{i}", "dataset": dataset, "origin": "cnndm" if i % 2 else "xsum",
                "split": split, "model_name": f"sys{i % 3}", "label": 0 if bad else 1,
                "score": 0.2 if bad else 0.9 - 0.01 * i,
                "document": f"The cat sat on the mat in Paris on day {i}. Officials said {i} people were hurt.",
                "summary": (f"A dog ran in Rome on day {i + 7}." if bad else f"The cat sat on the mat on day {i}."),
                "extra": {},
            })
    return rows


@pytest.fixture
def bench(tmp_path) -> Path:
    folder = tmp_path / "bench"
    folder.mkdir()
    (folder / "small.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _bench_rows("small", 9, 6)))
    with gzip.open(folder / "other.jsonl.gz", "wt") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in _bench_rows("other", 6, 0))
    return folder


def test_meta_eval_writes_report_json_and_plot(bench, tiny_dirs, tmp_path, monkeypatch):
    monkeypatch.setattr(QUALS, "generate", fake_generate)
    out = tmp_path / "out"
    code = main(["meta-eval", str(bench), "-o", str(out), "--model", str(tiny_dirs["llama"]),
                 "--metrics", "quals,overlap,rouge2,loglik,pmi", *SMALL])
    assert code == 0
    report = json.loads((out / "meta_eval.json").read_text())
    groups = {(a["metric"], a["group"]) for a in report["agreements"]}
    assert ("quals", "small") in groups and ("pmi", "small/cnndm") in groups and ("overlap", "other/xsum") in groups
    small = {a["metric"]: a for a in report["agreements"] if a["group"] == "small"}
    assert small["overlap"]["n_test"] == 9 and small["overlap"]["n_valid_scored"] == 6
    # Inconsistent summaries share few words with the document: overlap must rank them last.
    assert small["overlap"]["roc_auc"] == pytest.approx(1.0)
    assert small["overlap"]["threshold"] is not None and small["overlap"]["n_systems"] == 3
    assert set(report["runs"]) == {"quals", "lexical", "likelihood"}
    assert (out / "meta_eval.png").stat().st_size > 1000
    markdown = (out / "meta_eval.md").read_text()
    assert "| overlap |" in markdown and "## small/cnndm" in markdown


def test_meta_eval_resumes_an_interrupted_run_to_identical_scores(bench, tiny_dirs, tmp_path):
    args = ["meta-eval", str(bench / "small.jsonl"), "-o", str(tmp_path / "o"), "--model", str(tiny_dirs["llama"]),
            "--metrics", "loglik,pmi", *RUN]
    assert main(args) == 0
    scores = tmp_path / "o" / "scores" / "small" / "likelihood.jsonl"
    complete = scores.read_text()
    report = (tmp_path / "o" / "meta_eval.json").read_text()
    # Simulate a kill after the first chunk: the rerun must finish the file exactly as before.
    scores.write_text("".join(complete.splitlines(keepends=True)[:3]) + '{"row": 3, "trunc')
    sidecar = sidecar_path(scores)
    info = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**info, "complete": False}))
    assert main(args) == 0
    assert scores.read_text() == complete
    assert (tmp_path / "o" / "meta_eval.json").read_text() == report


def test_limits_and_scorer_limits_select_nested_seeded_subsets(bench, tmp_path):
    out = tmp_path / "o"
    assert main(["meta-eval", str(bench / "small.jsonl"), "-o", str(out), "--metrics", "overlap,rouge1",
                 "--limit", "test=6,valid=4", "--seed", "3", "--no-progress", "--bootstrap", "200"]) == 0
    inputs = [json.loads(line)["id"] for line in (out / "inputs" / "small.jsonl").read_text().splitlines()]
    assert sum("-test-" in i for i in inputs) == 6 and sum("-valid-" in i for i in inputs) == 4
    rows = read_benchmark(bench / "small.jsonl")
    small = [r.id for r in select_rows(rows, {"test": 3, "valid": 2}, seed=3)]
    large = [r.id for r in select_rows(rows, {"test": 6, "valid": 4}, seed=3)]
    assert [i for i in large if "-test-" in i][:3] == [i for i in small if "-test-" in i]
    assert small != [r.id for r in select_rows(rows, {"test": 3, "valid": 2}, seed=4)]
    # the typed result reads its own JSON back: same JSON, same Markdown
    text = (out / "meta_eval.json").read_text()
    result = MetaEvalResult.from_dict(json.loads(text))
    assert json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n" == text
    assert render_markdown(result) == (out / "meta_eval.md").read_text()
    assert result.config.limits == {"test": 6, "valid": 4} and result.config.seed == 3


def test_scorer_limit_per_split_or_test_only_nests_in_the_main_selection(bench, tmp_path):
    out = tmp_path / "o"
    base = ["meta-eval", str(bench / "small.jsonl"), "-o", str(out), "--metrics", "overlap", "--limit",
            "test=6,valid=4", "--no-progress", "--bootstrap", "200"]
    assert main([*base, "--scorer-limit", "lexical=2"]) == 0
    assert main([*base, "--scorer-limit", "lexical.test=3"]) == 0

    def ids(name):
        return [json.loads(line)["id"] for line in (out / "inputs" / name).read_text().splitlines()]

    main_ids = [r.id for r in select_rows(read_benchmark(bench / "small.jsonl"), {"test": 6, "valid": 4}, seed=0)]
    tests, valids = [i for i in main_ids if "-test-" in i], [i for i in main_ids if "-valid-" in i]
    assert ids("small.first2.jsonl") == [i for i in main_ids if i in tests[:2] + valids[:2]]
    assert ids("small.test3.jsonl") == tests[:3]  # test rows only: a costly scorer skips valid
    scored = (out / "scores" / "small" / "lexical.test3.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in scored] == tests[:3]
    report = json.loads((out / "meta_eval.json").read_text())
    row = next(a for a in report["agreements"] if a["metric"] == "overlap" and a["group"] == "small")
    assert row["n_test"] == 3 and row["balanced_accuracy"] is None


def test_report_only_reads_score_files_as_they_stand_and_scores_nothing(bench, tmp_path):
    out = tmp_path / "o"
    base = ["meta-eval", str(bench / "small.jsonl"), "-o", str(out), "--metrics", "overlap,rouge2",
            "--no-progress", "--bootstrap", "200", "--chunk-size", "3"]
    assert main(base) == 0
    full = json.loads((out / "meta_eval.json").read_text())
    scores = out / "scores" / "small" / "lexical.jsonl"
    lines = scores.read_text().splitlines(keepends=True)
    # a run in progress: six rows written, a seventh half-written by the other process
    partial = "".join(lines[:6]) + lines[6][:20]
    scores.write_text(partial)
    assert main([*base, "--report-only"]) == 0
    assert scores.read_text() == partial  # nothing scored, nothing truncated
    report = json.loads((out / "meta_eval.json").read_text())
    assert report["incomplete"] == {"small/lexical": {"scored_rows": 6, "selected_rows": len(lines)}}
    assert report["runs"]["lexical"] == full["runs"]["lexical"]  # settings come from the sidecar
    written = {json.loads(line)["id"] for line in lines[:6]}
    n_test = sum("-test-" in i for i in written)
    row = next(a for a in report["agreements"] if a["metric"] == "overlap" and a["group"] == "small")
    assert row["n_test"] == n_test < next(a for a in full["agreements"]
                                          if a["metric"] == "overlap" and a["group"] == "small")["n_test"]
    assert "Incomplete" in (out / "meta_eval.md").read_text()


def test_unknown_metric_and_bad_benchmark_rows_are_clear_errors(bench, tmp_path, capsys):
    assert main(["meta-eval", str(bench), "-o", str(tmp_path / "o"), "--metrics", "bleu"]) == 2
    assert "unknown metrics ['bleu']" in capsys.readouterr().err
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"id": "x", "dataset": "d", "origin": "o", "split": "test",
                                  "document": "d", "summary": "s"}) + "\n")
    assert main(["meta-eval", str(broken), "-o", str(tmp_path / "o2"), "--metrics", "overlap"]) == 2
    assert "broken.jsonl:1: neither 'label' nor 'score'" in capsys.readouterr().err
    assert main(["meta-eval", str(bench), "-o", str(tmp_path / "o3"), "--metrics", "overlap",
                 "--num-groups", "5"]) == 2
    assert "only apply when --metrics includes quals" in capsys.readouterr().err


def test_lexical_baselines_by_hand():
    assert token_overlap("The cat sat.", "the cat ran") == pytest.approx(2 / 3)
    assert token_overlap("anything", "  ") is None
    result = LexicalBaselines().score(["the cat sat on the mat"], ["the cat sat"])
    values = result.examples[0].values
    assert values.overlap == 1.0 and values.rouge1 == 1.0 and values.rouge2 == 1.0
    assert dumps_record(result.examples[0].to_dict()) == (  # the score file's line, key order included
        '{"score": 1.0, "reason": null, "scores": {"overlap": 1.0, "rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0}}')
    empty = LexicalBaselines().score(["doc"], [""]).examples[0]
    assert empty.score is None and empty.reason == "empty summary"
    assert empty.to_dict() == {"score": None, "reason": "empty summary",
                               "scores": {"overlap": None, "rouge1": None, "rouge2": None, "rougeL": None}}


def test_report_only_re_aggregates_quals_as_a_fresh_run_would(bench, tiny_dirs, tmp_path, monkeypatch):
    monkeypatch.setattr(QUALS, "generate", fake_generate)
    data = str(bench / "small.jsonl")
    common = ["--model", str(tiny_dirs["llama"]), "--metrics", "quals", *SMALL]
    assert main(["meta-eval", data, "-o", str(tmp_path / "wide"), *common]) == 0
    scores = tmp_path / "wide" / "scores" / "small" / "quals.jsonl"
    before = scores.read_text()
    settings = ["--token-set", "answer_eos", "--pair-reduction", "sum", "--pair-aggregation", "min"]
    assert main(["meta-eval", data, "-o", str(tmp_path / "wide"), "--metrics", "quals", *RUN, "--report-only",
                 *settings]) == 0
    assert scores.read_text() == before  # re-aggregation writes no score file
    again = json.loads((tmp_path / "wide" / "meta_eval.json").read_text())
    assert main(["meta-eval", data, "-o", str(tmp_path / "fresh"), *common, *settings]) == 0
    fresh = json.loads((tmp_path / "fresh" / "meta_eval.json").read_text())

    def correlations(report):
        return {(a["group"], k): v["value"] for a in report["agreements"] for k, v in a["correlations"].items()}

    assert correlations(again) == pytest.approx(correlations(fresh), abs=1e-9)
    assert again["runs"]["quals"]["settings"]["aggregation"] == fresh["runs"]["quals"]["settings"]["aggregation"]
    assert again["runs"]["quals"]["reaggregated"]["overrides"]["token_set"] == "answer_eos"


def test_report_only_refuses_what_re_aggregation_cannot_do(bench, tiny_dirs, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(QUALS, "generate", fake_generate)
    data = str(bench / "small.jsonl")
    common = ["--model", str(tiny_dirs["llama"]), "--metrics", "quals", *SMALL]
    assert main(["meta-eval", data, "-o", str(tmp_path / "o"), *common, "--max-pairs", "3"]) == 0
    capsys.readouterr()
    assert main(["meta-eval", data, "-o", str(tmp_path / "o"), "--metrics", "quals", *RUN, "--report-only",
                 "--max-pairs", "5"]) == 2
    assert "kept at most 3 pairs per summary; max_pairs=5 needs a new scoring run" in capsys.readouterr().err
    assert main(["meta-eval", data, "-o", str(tmp_path / "o"), "--metrics", "quals", "--report-only",
                 "--token-set", "answer", "--num-groups", "5"]) == 2
    assert "--num-groups change generation or scoring: --report-only can only re-aggregate" in capsys.readouterr().err


def test_meta_eval_of_factcc_reads_its_own_classifier(bench, tmp_path, capsys):
    from fixtures.tiny_models import build_bert_classifier

    classifier = build_bert_classifier(tmp_path / "clf", max_positions=64)
    out = tmp_path / "out"
    argv = ["meta-eval", str(bench), "-o", str(out), "--metrics", "factcc,overlap", "--factcc-model",
            str(classifier), "--device", "cpu", "--no-progress", "--bootstrap", "100"]
    assert main([*argv, "--sentence-aggregation", "min"]) == 0
    report = json.loads((out / "meta_eval.json").read_text())
    assert set(report["runs"]) == {"factcc", "lexical"}
    assert report["runs"]["factcc"]["models"]["classifier"]["model"] == str(classifier)
    small = {a["metric"]: a for a in report["agreements"] if a["group"] == "small"}
    assert small["factcc"]["n_test"] == 9
    records = [json.loads(line) for line in (out / "scores" / "small" / "factcc.jsonl").read_text().splitlines()]
    assert all(r["score"] == pytest.approx(min(s["score"] for s in r["sentences"])) for r in records if r["sentences"])
    assert main(["meta-eval", str(bench), "-o", str(tmp_path / "o2"), "--metrics", "overlap",
                 "--factcc-model", str(classifier)]) == 2
    assert "--factcc-model" in capsys.readouterr().err


def _aggrefact_rows(dataset: str, splits: dict[str, int]) -> list[dict]:
    """LLM-AggreFact's layout: doc, claim, label, dataset (no id, no origin, no score)."""
    rows = []
    for split, n in splits.items():
        for i in range(n):
            label = int(i % 3 != 0)
            document = f"The council in {dataset} approved the budget on day {i}. The vote was close."
            claim = f"The council approved the budget on day {i}." if label else f"A mob burned {i + 4} cars in Rome."
            rows.append({"dataset": dataset, "split": split, "doc": document, "claim": claim, "label": label})
    return rows


AGGREFACT_FIELDS = ["--document-field", "doc", "--summary-field", "claim"]


@pytest.fixture
def aggrefact(tmp_path) -> Path:
    path = tmp_path / "llm_aggrefact.jsonl"
    rows = (_aggrefact_rows("CNN", {"val": 6, "test": 9, "train": 4})
            + _aggrefact_rows("MediaS", {"validation": 3, "dev": 3, "test": 6}))
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_label_only_benchmark_with_other_field_names_and_split_names(aggrefact, tmp_path, capsys, caplog):
    out = tmp_path / "o"
    with caplog.at_level(logging.WARNING):
        assert main(["meta-eval", str(aggrefact), "-o", str(out), "--metrics", "overlap,rouge2", *AGGREFACT_FIELDS,
                     "--no-progress", "--bootstrap", "200"]) == 0
    # the unknown split: named, counted and left out
    assert "CNN: 'train' (4 rows)" in caplog.text and "--test-splits" in caplog.text
    err = capsys.readouterr().err
    assert "  CNN: test 9 of 9, val 6 of 6 (as valid), train 0 of 4 (left out" in err  # announced before scoring
    report = json.loads((out / "meta_eval.json").read_text())
    cnn = next(a for a in report["agreements"] if a["metric"] == "overlap" and a["group"] == "CNN")
    assert cnn["n_test"] == 9 and cnn["n_valid_scored"] == 6 and cnn["correlations"] == {}
    assert cnn["correlation_note"].startswith("label-only") and cnn["roc_auc"] == pytest.approx(1.0)
    assert cnn["balanced_accuracy"] == pytest.approx(1.0) and cnn["threshold"] is not None
    media = next(a for a in report["agreements"] if a["metric"] == "overlap" and a["group"] == "MediaS")
    assert media["n_valid_scored"] == 6  # validation and dev rows together
    summary = report["benchmark_summary"]["metrics"]["overlap"]
    assert summary["n_datasets"] == {"balanced_accuracy": 2, "roc_auc": 2} and summary["mean"]["roc_auc"] == 1.0
    assert {s["split"]: s["role"] for s in report["splits"] if s["dataset"] == "CNN"} == {
        "test": "test", "val": "valid", "train": None}
    assert report["config"]["fields"]["document"] == "doc"
    inputs = [json.loads(line) for line in (out / "inputs" / "CNN.jsonl").read_text().splitlines()]
    assert len(inputs) == 15 and inputs[0]["id"].startswith("llm_aggrefact.jsonl:")
    markdown = (out / "meta_eval.md").read_text()
    assert "## Benchmark summary" in markdown and "| overlap | 1.000 / 1.000 | 1.000 / 1.000 |" in markdown
    assert "Not computed: correlations for every metric (label-only" in markdown
    assert "| CNN | train | not used (unknown split name) | 4 | 0 |" in markdown
    assert (out / "meta_eval.png").is_file()


def test_named_splits_are_scored_and_a_row_with_neither_judgment_stops_the_run(aggrefact, tmp_path, capsys,
                                                                                caplog):
    out = tmp_path / "o"
    with caplog.at_level(logging.WARNING):
        assert main(["meta-eval", str(aggrefact), "-o", str(out), "--metrics", "overlap", *AGGREFACT_FIELDS,
                     "--test-splits", "train", "--no-progress", "--bootstrap", "200"]) == 0
    assert "left out" not in caplog.text + capsys.readouterr().err
    report = json.loads((out / "meta_eval.json").read_text())
    assert next(a for a in report["agreements"] if a["group"] == "CNN")["n_test"] == 13  # test 9 + train 4
    broken = tmp_path / "broken.jsonl"
    broken.write_text(aggrefact.read_text() + json.dumps({"dataset": "CNN", "split": "test", "doc": "D",
                                                           "claim": "C"}) + "\n")
    assert main(["meta-eval", str(broken), "-o", str(tmp_path / "o2"), "--metrics", "overlap",
                 *AGGREFACT_FIELDS]) == 2
    assert "broken.jsonl:32: neither 'label' nor 'score'" in capsys.readouterr().err


def test_a_test_limit_announces_the_other_splits_and_valid_zero_skips_the_threshold(aggrefact, tmp_path, capsys):
    base = ["meta-eval", str(aggrefact), "--metrics", "overlap", *AGGREFACT_FIELDS, "--no-progress",
            "--bootstrap", "200"]
    assert main([*base, "-o", str(tmp_path / "a"), "--limit", "test=4"]) == 0
    err = capsys.readouterr().err
    assert "CNN: test 4 of 9 (limit 4), val 6 of 6 (as valid; all: --limit does not name it)" in err
    assert main([*base, "-o", str(tmp_path / "b"), "--limit", "test=4,val=0"]) == 0
    assert "val 0 of 6 (as valid; skipped: limit 0)" in capsys.readouterr().err
    inputs = (tmp_path / "b" / "inputs" / "CNN.jsonl").read_text().splitlines()
    assert len(inputs) == 4  # test rows only
    report = json.loads((tmp_path / "b" / "meta_eval.json").read_text())
    cnn = next(a for a in report["agreements"] if a["group"] == "CNN")
    assert cnn["balanced_accuracy"] is None and cnn["roc_auc"] is not None and "valid=0" in cnn["note"]
    assert report["config"]["limits"] == {"test": 4, "valid": 0}
    assert "balanced accuracy for overlap (valid split skipped (--limit valid=0)" in (
        tmp_path / "b" / "meta_eval.md").read_text()
    assert main([*base, "-o", str(tmp_path / "c"), "--limit", "tset=4"]) == 2
    assert "--limit names split 'tset'" in capsys.readouterr().err


def test_the_progress_bar_names_the_scorer_and_the_dataset(bench, tmp_path, capsys):
    assert main(["meta-eval", str(bench / "small.jsonl"), "-o", str(tmp_path / "o"), "--metrics", "overlap",
                 "--progress", "--bootstrap", "200"]) == 0
    assert "lexical on small" in capsys.readouterr().err


def test_the_label_only_example_of_the_docs_gives_the_numbers_it_shows(tmp_path, monkeypatch, capsys):
    """docs/meta-eval.md pastes the output of its example; the example, run again, must still give it."""
    import re
    import shlex

    text = (Path(__file__).parents[2] / "docs" / "meta-eval.md").read_text()
    section = text[text.index("## A label-only benchmark"):text.index("## Results")]
    script = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    command = re.search(r"```bash\n(.*?)```", section, re.S).group(1).replace("\\\n", " ")
    monkeypatch.chdir(tmp_path)
    exec(compile(script, "docs/meta-eval.md", "exec"), {})  # writes llm_aggrefact_small.jsonl
    argv = shlex.split(command)
    assert argv[0] == "quals"
    assert main([*argv[1:], "--no-progress"]) == 0
    shown = [line for line in section.splitlines() if line.startswith(("| overlap |", "| rouge1 |", "| rouge2 |"))]
    written = (tmp_path / "runs" / "llm-aggrefact" / "meta_eval.md").read_text().splitlines()
    assert len(shown) == 6 and all(line in written for line in shown)
    err = capsys.readouterr().err
    announced = [line for line in section.splitlines() if line.startswith("  AggreFact-CNN: test")]
    assert announced and announced[0] in err
