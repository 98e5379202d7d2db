"""``quals explain`` end to end on a tiny model: the files, the three ways to give input, errors."""

from __future__ import annotations

import html
import json
import subprocess
import sys

import pytest
from fixtures.fake_qa import fake_generate

from quals.cli.main import main
from quals.metrics.quals import QUALS

DOCUMENT = "The cat sat on the mat in Paris on Monday. Officials said 12 people were hurt."
SUMMARY = "The cat sat on the mat in Leeds <script>alert(1)</script>."
SMALL = ["--num-groups", "3", "--min-length", "1", "--max-length", "8", "--device", "cpu"]


@pytest.fixture
def fake_generation(monkeypatch):
    monkeypatch.setattr(QUALS, "generate", fake_generate)


@pytest.fixture
def model_flags(tiny_dirs):
    return ["--model", str(tiny_dirs["llama"]), *SMALL]


def test_explain_literals_writes_page_figure_and_json(tmp_path, fake_generation, model_flags, capsys):
    out = tmp_path / "explain"
    assert main(["explain", "--document", DOCUMENT, "--summary", SUMMARY, "-o", str(out), *model_flags]) == 0
    assert capsys.readouterr().out.strip() == str(out / "explain.html")
    assert {p.name for p in out.iterdir()} == {"explain.html", "explanation.json", "tokens.png", "tokens.svg"}
    assert all((out / name).stat().st_size > 0 for name in ("tokens.png", "tokens.svg"))
    record = json.loads((out / "explanation.json").read_text())
    assert record["document"] == DOCUMENT and record["summary"] == SUMMARY
    assert isinstance(record["score"], float) and record["n_pairs"] == len(record["pairs"]) >= 1
    assert record["signature"].startswith("quals:")
    page = (out / "explain.html").read_text()
    assert f"{record['score']:.4f}" in page and '<img class="figure" src="tokens.png"' in page
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<tr>") == record["n_pairs"] + 1  # header + one row per kept pair


def test_explain_files_and_input_row_give_the_same_explanation(tmp_path, fake_generation, model_flags, capsys):
    (tmp_path / "doc.txt").write_text(DOCUMENT + "\n")
    (tmp_path / "sum.txt").write_text(SUMMARY + "\n")
    rows = [{"article": "Other text.", "highlights": "Other."}, {"article": DOCUMENT, "highlights": SUMMARY}]
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["explain", "--document-file", str(tmp_path / "doc.txt"), "--summary-file", str(tmp_path / "sum.txt"),
                 "-o", str(tmp_path / "a"), *model_flags]) == 0
    assert main(["explain", "--input", str(data), "--row", "1", "--document-field", "article", "--summary-field",
                 "highlights", "-o", str(tmp_path / "b"), *model_flags]) == 0
    for name in ("explain.html", "explanation.json", "tokens.svg"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_explain_null_example_has_no_table(tmp_path, monkeypatch, model_flags, capsys):
    monkeypatch.setattr(QUALS, "generate", lambda self, summaries: [[] for _ in summaries])
    out = tmp_path / "null"
    assert main(["explain", "--document", DOCUMENT, "--summary", SUMMARY, "-o", str(out), *model_flags]) == 0
    page = (out / "explain.html").read_text()
    assert "no well-formed QA pair generated" in page and "<table" not in page
    assert json.loads((out / "explanation.json").read_text())["score"] is None


@pytest.mark.parametrize("flags, message", [
    (["--document", "D.", "--document-file", "d.txt", "--summary", "S."], "give the document once"),
    (["--document", "D."], "no summary"),
    (["--summary", "S."], "no document"),
    (["--document", "  ", "--summary", "S."], "the document is empty"),
    (["--input", "in.jsonl", "--row", "0", "--summary", "S."], "--input cannot be combined with --summary"),
    (["--input", "in.jsonl"], "--input needs --row"),
    (["--document", "D.", "--summary", "S.", "--row", "0"], "--row needs --input"),
    (["--input", "in.jsonl", "--row", "5"], "--row 5 is out of range: .* has 2 data rows"),
    (["--input", "in.jsonl", "--row", "1"], "row 1 of .* cannot be explained: line 2: empty summary"),
    (["--document-file", "missing.txt", "--summary", "S."], "missing.txt"),
])
def test_explain_input_errors_exit_2_before_loading_a_model(tmp_path, monkeypatch, capsys, flags, message):
    import re

    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text('{"document": "D.", "summary": "S."}\n{"document": "D.", "summary": " "}\n')
    status = main(["explain", "-o", str(tmp_path / "out"), "--model", str(tmp_path / "no-such-model"), *flags])
    assert status == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_explain_help_renders_without_torch_or_matplotlib():
    code = ("import sys\nfrom quals.cli.main import main\ntry:\n    main(['explain', '--help'])\n"
            "except SystemExit:\n    pass\nprint('torch' in sys.modules, 'matplotlib' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--document-file" in result.stdout and result.stdout.strip().endswith("False False")


QAGS_SMALL = ["--metric", "qags", "--beam-size", "2", "--questions-per-answer", "2", "--max-question-tokens", "6",
              "--max-answer-tokens", "4", "--answer-match-f1", "0", "--device", "cpu"]


def test_explain_qags_lists_every_question_with_both_answers(tmp_path, tiny_dirs, monkeypatch, model_flags, capsys):
    from fixtures.tiny_qa import fake_questions

    from quals.metrics.qags import QAGS

    monkeypatch.setattr(QAGS, "generate_questions", fake_questions)
    monkeypatch.setattr(QUALS, "generate", fake_generate)
    out = tmp_path / "explain"
    # A QUALS explanation first: its figure must not stay beside the QAGS page written over it.
    assert main(["explain", "--document", DOCUMENT, "--summary", SUMMARY, "-o", str(out), *model_flags]) == 0
    assert main(["explain", "--document", DOCUMENT, "--summary", SUMMARY, "-o", str(out), "--model",
                 str(tiny_dirs["llama"]), *QAGS_SMALL]) == 0
    assert {p.name for p in out.iterdir()} == {"explain.html", "explanation.json"}
    record = json.loads((out / "explanation.json").read_text())
    assert record["metric"] == "qags" and record["signature"].startswith("qags:")
    assert record["n_questions"] == len(record["questions"]) >= 1
    page = (out / "explain.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<title>QAGS explanation</title>" in page
    assert page.count("<tr>") == record["n_questions"] + 1
    assert f"{record['score']:.4f}" in page
    for question in record["questions"]:
        assert html.escape(question["question"]) in page
    # The candidate "script" gets a highlight, so the escaped tag is split by a <mark>.
    assert "<script" not in page and "&gt;alert(1)&lt;/script&gt;" in page
    assert "QAGS " in capsys.readouterr().err


def test_explain_refuses_flags_of_the_other_metric(tmp_path, tiny_dirs, capsys):
    status = main(["explain", "--document", DOCUMENT, "--summary", SUMMARY, "-o", str(tmp_path / "out"), "--model",
                   str(tiny_dirs["llama"]), "--metric", "qags", "--num-groups", "3"])
    assert status == 2 and "--num-groups only apply to --metric quals" in capsys.readouterr().err
