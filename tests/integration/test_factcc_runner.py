"""FactCC through the shared batch runner: per-row errors, empty summaries, byte-identical reruns
and resume after an interruption."""

from __future__ import annotations

import json

import pytest
from fixtures.tiny_models import build_bert_classifier

from quals.batch.runner import RunConfig, score_file
from quals.metrics.factcc import FactCC

ROWS = [
    {"id": "a", "document": "the cat sat on the mat in paris on monday .", "summary": "the cat sat on the mat ."},
    {"id": "b", "document": "scientists found water on mars .", "summary": ""},
    {"id": "c", "document": "the company reported profits .", "summary_text": "wrong field"},
    {"id": "d", "document": "officials said 12 people were hurt .", "summary": "12 people were hurt . nasa spoke ."},
    {"id": "e", "document": "the mayor said the bridge will open in may .", "summary": "the bridge will open ."},
]


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    directory = build_bert_classifier(tmp_path_factory.mktemp("clf") / "c", max_positions=32)
    return FactCC(str(directory), device="cpu", dtype="float32", batch_size=4)


@pytest.fixture()
def data(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS) + "{not json\n")
    return path


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_bad_rows_are_named_and_the_others_scored(scorer, data, tmp_path):
    out = tmp_path / "out.jsonl"
    score_file(scorer, data, out, config=RunConfig(chunk_size=2))
    records = {r["row"]: r for r in _lines(out)}
    assert len(records) == 6
    assert 0 < records[0]["score"] < 1 and records[0]["n_sentences"] == 1 and records[0]["error"] is None
    assert records[1]["score"] is None and "empty summary" in records[1]["error"]
    assert records[2]["score"] is None and "summary" in records[2]["error"] and "line 3" in records[2]["error"]
    assert records[3]["n_sentences"] == 2 and len(records[3]["sentences"]) == 2
    assert records[5]["error"] and "line 6" in records[5]["error"]
    sidecar = json.loads(out.with_name(out.name + ".run.json").read_text())
    assert sidecar["run"]["metric"] == "factcc" and sidecar["run"]["signature"] == scorer.signature


def test_interrupted_run_resumes_to_the_bytes_of_an_uninterrupted_one(scorer, data, tmp_path, monkeypatch):
    straight, resumed = tmp_path / "straight.jsonl", tmp_path / "resumed.jsonl"
    score_file(scorer, data, straight, config=RunConfig(chunk_size=2))
    real, calls = FactCC.score, []

    def crash_on_second_chunk(self, documents, summaries):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, documents, summaries)

    monkeypatch.setattr(FactCC, "score", crash_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        score_file(scorer, data, resumed, config=RunConfig(chunk_size=2))
    monkeypatch.setattr(FactCC, "score", real)
    score_file(scorer, data, resumed, config=RunConfig(chunk_size=2))
    assert resumed.read_bytes() == straight.read_bytes()


def test_quals_score_metric_factcc_end_to_end(scorer, data, tmp_path, capsys):
    from quals.cli.main import main

    out = tmp_path / "cli.jsonl"
    base = ["score", str(data), "-o", str(out), "--metric", "factcc", "--model", scorer.model_id, "--device", "cpu",
            "--dtype", "float32", "--no-progress"]
    assert main([*base, "--sentence-aggregation", "min"]) == 1  # rows with errors exit 1, the others are scored
    records = _lines(out)
    assert records[3]["score"] == pytest.approx(min(s["score"] for s in records[3]["sentences"]))
    assert "FACTCC mean" in capsys.readouterr().err
    assert main([*base[:3], str(tmp_path / "o2.jsonl"), *base[4:], "--num-groups", "4"]) == 2
    assert "--num-groups only apply to --metric quals" in capsys.readouterr().err
    assert main([*base[:3], str(tmp_path / "o3.jsonl"), *base[4:], "--window-tokens", "64"]) == 2
    assert "--window-tokens" in capsys.readouterr().err
