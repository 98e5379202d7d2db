"""``quals score --metric qags`` end to end on tiny models: output records, explicit QG/QA models,
flags of the other metric, determinism and resume, ``--help`` without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fixtures.tiny_qa import build_bert_qa, fake_questions

from quals.cli.main import main
from quals.metrics.qags import QAGS

ROWS = [
    {"id": f"r{i}", "document": f"The cat sat on the mat in Paris on day {i}. Officials said {i} people were hurt.",
     "summary": f"The cat sat on the mat in Paris on day {i}."}
    for i in range(5)
]
SMALL = ["--metric", "qags", "--beam-size", "2", "--questions-per-answer", "2", "--max-question-tokens", "6",
         "--max-answer-tokens", "4", "--answer-match-f1", "0", "--no-progress", "--device", "cpu"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def fake_generation(monkeypatch):
    monkeypatch.setattr(QAGS, "generate_questions", fake_questions)


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return build_bert_qa(tmp_path_factory.mktemp("tiny-bert-qa"))


def _write(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("kind", ["llama", "bart"])
def test_qags_records_list_questions_with_both_answers(tiny_dirs, tmp_path, fake_generation, kind, capsys):
    data = _write(tmp_path / "in.jsonl", [*ROWS[:2], {"id": "empty", "document": "Text.", "summary": " "}])
    out = tmp_path / "out.jsonl"
    status = main(["score", str(data), "-o", str(out), "--model", str(tiny_dirs[kind]), *SMALL])
    assert status == 1  # the empty summary is an error row
    records = _lines(out)
    assert [r["id"] for r in records] == ["r0", "r1", "empty"]
    assert records[2]["error"] == "line 3: empty summary"
    for record in records[:2]:
        assert record["error"] is None and {"n_candidates", "n_clean", "n_consistent", "candidates"} <= set(record)
        if record["score"] is None:
            assert record["reason"]
            continue
        for question in record["questions"]:
            assert {"question", "answer_candidate", "answer_summary", "answer_document", "f1"} <= set(question)
        assert record["score"] == pytest.approx(sum(q["f1"] for q in record["questions"]) / len(record["questions"]))
    run = json.loads((tmp_path / "out.jsonl.run.json").read_text())
    assert run["run"]["metric"] == "qags" and run["run"]["settings"]["beam_size"] == 2
    assert "QAGS mean" in capsys.readouterr().err


def test_explicit_qg_and_qa_models(tiny_dirs, bert_dir, tmp_path, fake_generation):
    data = _write(tmp_path / "in.jsonl", ROWS[:2])
    out = tmp_path / "out.jsonl"
    assert main(["score", str(data), "-o", str(out), "--qg-model", str(tiny_dirs["bart"]),
                 "--qa-model", str(bert_dir), "--qa-max-length", "32", "--qa-stride", "8", *SMALL]) == 0
    run = json.loads((tmp_path / "out.jsonl.run.json").read_text())["run"]
    assert run["models"]["qa"]["model"] == str(bert_dir) and run["models"]["qa"]["kind"] == "extractive"
    assert run["models"]["qa"]["weights"].startswith("sha256:")
    assert run["models"]["qg"]["model"] == str(tiny_dirs["bart"])
    for record in _lines(out):
        for question in record.get("questions", []):
            assert question["answer_document"].lower() in ROWS[record["row"]]["document"].lower()


def test_real_generation_runs_on_the_explicit_qg_model(tiny_dirs, bert_dir, tmp_path):
    data = _write(tmp_path / "in.jsonl", ROWS[:1])
    out = tmp_path / "out.jsonl"
    assert main(["score", str(data), "-o", str(out), "--qg-model", str(tiny_dirs["t5"]),
                 "--qa-model", str(bert_dir), *SMALL]) == 0
    record = _lines(out)[0]
    assert record["n_generated"] == 2 * record["n_candidates"] > 0


def test_flags_of_the_other_metric_are_errors(tiny_dirs, tmp_path, capsys):
    data = _write(tmp_path / "in.jsonl", ROWS[:1])
    model = ["--model", str(tiny_dirs["llama"]), "--device", "cpu", "--no-progress"]
    assert main(["score", str(data), "-o", str(tmp_path / "a.jsonl"), *model, "--metric", "qags",
                 "--num-groups", "3"]) == 2
    assert "--num-groups only apply to --metric quals" in capsys.readouterr().err
    assert main(["score", str(data), "-o", str(tmp_path / "b.jsonl"), *model, "--beam-size", "3",
                 "--qa-model", "x"]) == 2
    assert "--beam-size, --qa-model only apply to --metric qags" in capsys.readouterr().err


def test_runs_are_byte_identical_and_resume(tiny_dirs, tmp_path, fake_generation):
    data = _write(tmp_path / "in.jsonl", ROWS)
    args = ["--model", str(tiny_dirs["llama"]), "--chunk-size", "2", *SMALL]
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main(["score", str(data), "-o", str(first), *args]) == 0
    assert main(["score", str(data), "-o", str(second), *args]) == 0
    assert first.read_bytes() == second.read_bytes()
    lines = first.read_bytes().split(b"\n")
    crashed = tmp_path / "c.jsonl"
    crashed.write_bytes(b"\n".join(lines[:3]) + b"\n" + lines[3][:10])
    sidecar = json.loads((tmp_path / "a.jsonl.run.json").read_text())
    (tmp_path / "c.jsonl.run.json").write_text(json.dumps({**sidecar, "complete": False}))
    assert main(["score", str(data), "-o", str(crashed), *args]) == 0
    assert crashed.read_bytes() == first.read_bytes()


def test_help_lists_qags_flags_without_torch():
    code = ("import sys\nfrom quals.cli.main import main\ntry:\n    main(['score', '--help'])\nexcept SystemExit:\n"
            "    pass\nprint('torch' in sys.modules, 'spacy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--metric {quals,qags,factcc}" in result.stdout and "--qa-model" in result.stdout
    assert result.stdout.strip().endswith("False False")
