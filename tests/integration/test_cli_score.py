"""``quals score`` end to end on a tiny model: output format, bad rows, determinism, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures.fake_qa import fake_generate

from quals.cli.main import main
from quals.metrics.quals import QUALS

FIXTURES = Path(__file__).parents[1] / "fixtures"
GOOD = [
    {"id": f"r{i}", "document": f"The cat sat on the mat in Paris on day {i}. Officials said {i} people were hurt.",
     "summary": f"The cat sat on the mat on day {i}."}
    for i in range(7)
]
SMALL = ["--num-groups", "3", "--min-length", "1", "--max-length", "8", "--no-progress", "--device", "cpu"]


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def fake_generation(monkeypatch):
    monkeypatch.setattr(QUALS, "generate", fake_generate)


def test_score_writes_one_line_per_row_with_run_sidecar(tiny_dirs, tmp_path, fake_generation):
    data = _write_jsonl(tmp_path / "in.jsonl", GOOD[:3])
    out = tmp_path / "out.jsonl"
    summary = tmp_path / "summary.json"
    assert main(["score", str(data), "-o", str(out), "--model", str(tiny_dirs["llama"]),
                 "--summary-json", str(summary), *SMALL]) == 0
    records = _lines(out)
    assert [r["row"] for r in records] == [0, 1, 2] and [r["id"] for r in records] == ["r0", "r1", "r2"]
    for record in records:
        assert isinstance(record["score"], float) and record["error"] is None
        pair = record["pairs"][0]
        assert {"question", "answer", "answer_span", "logprob_document", "logprob_summary",
                "token_logprobs_document", "token_logprobs_summary", "difference"} <= set(pair)
    run = json.loads((tmp_path / "out.jsonl.run.json").read_text())
    assert run["complete"] is True
    assert run["run"]["model"]["fingerprint"].startswith("sha256:")
    assert run["run"]["settings"]["generation"]["num_groups"] == 3
    assert {"torch_version", "transformers_version", "quals_version"} <= set(run["run"]["model"])
    corpus = json.loads(summary.read_text())
    assert corpus["n_scored"] == 3 and corpus["n_errors"] == 0
    assert corpus["mean"] == pytest.approx(sum(r["score"] for r in records) / 3)


def test_bad_rows_get_error_records_and_others_are_scored(tiny_dirs, tmp_path, fake_generation, capsys):
    huge = {"id": "huge", "document": "word " * 50_000, "summary": "A word."}
    rows = [GOOD[0], '{"id": "broken", "document": ', {"id": "empty", "document": "Text.", "summary": "  "},
            {"id": "nofield", "text": "Text.", "summary": "Sum."}, huge, {"id": "num", "document": 3, "summary": "x"},
            GOOD[1]]
    data = _write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    status = main(["score", str(data), "-o", str(out), "--model", str(tiny_dirs["llama"]), "--no-details", *SMALL])
    assert status == 1  # some rows failed
    records = _lines(out)
    assert [r["row"] for r in records] == list(range(7))
    assert records[0]["score"] is not None and records[6]["score"] is not None
    assert "pairs" not in records[0]
    errors = {r["row"]: r["error"] for r in records if r["error"]}
    assert set(errors) == {1, 2, 3, 4, 5}
    assert "line 2: malformed JSON" in errors[1]
    assert errors[2] == "line 3: empty summary"
    assert "line 4: missing field(s) ['document']" in errors[3] and "text" in errors[3]
    assert errors[4].startswith("line 5: document has") and "--max-document-tokens" in errors[4]
    assert errors[5] == "line 6: field(s) ['document'] must be text"
    assert [r["line"] for r in records if r["error"]] == [2, 3, 4, 5, 6]
    err = capsys.readouterr().err
    assert "  row 1: line 2: malformed JSON" in err and "  row 5: line 6:" in err  # the failed rows, listed


def test_field_names_and_csv_input(tiny_dirs, tmp_path, fake_generation):
    import csv

    data = tmp_path / "in.csv"
    with open(data, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["key", "article", "highlights"])
        writer.writeheader()
        for row in GOOD[:2]:
            writer.writerow({"key": row["id"], "article": row["document"], "highlights": row["summary"]})
    out = tmp_path / "out.jsonl"
    assert main(["score", str(data), "-o", str(out), "--model", str(tiny_dirs["llama"]), "--document-field",
                 "article", "--summary-field", "highlights", "--id-field", "key", *SMALL, "--progress"]) == 0
    assert [r["id"] for r in _lines(out)] == ["r0", "r1"]


def test_two_runs_are_byte_identical_and_rerun_resumes(tiny_dirs, tmp_path, fake_generation):
    data = _write_jsonl(tmp_path / "in.jsonl", GOOD)
    args = ["--model", str(tiny_dirs["llama"]), "--chunk-size", "2", *SMALL]
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main(["score", str(data), "-o", str(first), *args]) == 0
    assert main(["score", str(data), "-o", str(second), *args]) == 0
    assert first.read_bytes() == second.read_bytes()
    # Simulate a crash mid-write: two complete chunks and half a line remain.
    content = first.read_bytes()
    lines = content.split(b"\n")
    crashed = tmp_path / "c.jsonl"
    crashed.write_bytes(b"\n".join(lines[:5]) + b"\n" + lines[5][:20])
    sidecar = json.loads((tmp_path / "a.jsonl.run.json").read_text())
    (tmp_path / "c.jsonl.run.json").write_text(json.dumps({**sidecar, "complete": False}))
    assert main(["score", str(data), "-o", str(crashed), *args]) == 0
    assert crashed.read_bytes() == content
    # The output lost (not carried to another machine), its record kept: scored again, not "complete".
    first.unlink()
    assert main(["score", str(data), "-o", str(first), *args]) == 0
    assert first.read_bytes() == content


def test_existing_output_from_other_settings_is_not_clobbered(tiny_dirs, tmp_path, fake_generation):
    data = _write_jsonl(tmp_path / "in.jsonl", GOOD[:2])
    out = tmp_path / "out.jsonl"
    assert main(["score", str(data), "-o", str(out), "--model", str(tiny_dirs["llama"]), *SMALL]) == 0
    before = out.read_bytes()
    other = ["score", str(data), "-o", str(out), "--model", str(tiny_dirs["llama"]), *SMALL, "--max-pairs", "3"]
    assert main(other) == 2
    assert out.read_bytes() == before
    assert main([*other, "--overwrite"]) == 0


def test_output_equal_to_the_input_is_refused_and_the_input_kept(tiny_dirs, tmp_path, fake_generation, capsys):
    data = _write_jsonl(tmp_path / "in.jsonl", GOOD[:2])
    before = data.read_bytes()
    base = ["--model", str(tiny_dirs["llama"]), *SMALL, "--overwrite"]
    linked = tmp_path / "linked.jsonl"
    os.link(data, linked)  # another name, the same file
    for output in (data, tmp_path / "." / "in.jsonl", linked):
        assert main(["score", str(data), "-o", str(output), *base]) == 2
        assert "is the input file" in capsys.readouterr().err
        assert data.read_bytes() == before


def test_resume_refuses_a_changed_input_or_setting_and_names_it(tiny_dirs, tmp_path, fake_generation, capsys):
    data = _write_jsonl(tmp_path / "in.jsonl", GOOD[:2])
    out = tmp_path / "out.jsonl"
    base = ["score", str(data), "-o", str(out), "--model", str(tiny_dirs["llama"]), *SMALL]
    assert main(base) == 0
    before = out.read_bytes()
    _write_jsonl(data, GOOD[:3])  # a row appended: resuming would never score it
    capsys.readouterr()
    assert main(base) == 2
    assert "input_sha256: the content changed" in capsys.readouterr().err
    assert out.read_bytes() == before
    _write_jsonl(data, GOOD[:2])
    assert main([*base, "--batch-size", "4", "--token-set", "answer"]) == 2
    err = capsys.readouterr().err
    assert "run.batch_size: 64 -> 4" in err and "run.settings.aggregation.token_set: 'all' -> 'answer'" in err
    assert main(base) == 0 and out.read_bytes() == before  # the same input and settings resume


def test_sigkill_mid_run_then_resume_equals_uninterrupted(tiny_dirs, tmp_path):
    data = _write_jsonl(tmp_path / "in.jsonl", GOOD)
    args = [sys.executable, str(FIXTURES / "fake_qa.py"), "score", str(data), "--model", str(tiny_dirs["llama"]),
            "--chunk-size", "2", *SMALL]
    env = {**os.environ, "PYTHONPATH": str(FIXTURES.parent)}
    reference = tmp_path / "reference.jsonl"
    subprocess.run([*args, "-o", str(reference)], env=env, check=True, capture_output=True)
    killed = tmp_path / "killed.jsonl"
    process = subprocess.Popen([*args, "-o", str(killed)], env={**env, "FAKE_QA_DELAY": "0.7"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not killed.exists() or killed.read_text().count("\n") < 2):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = killed.read_text().count("\n")
    assert 2 <= partial < len(GOOD)  # killed after some rows, before the end
    subprocess.run([*args, "-o", str(killed)], env=env, check=True, capture_output=True)
    assert killed.read_bytes() == reference.read_bytes()
    assert [r["row"] for r in _lines(killed)] == list(range(len(GOOD)))


def test_help_renders_without_torch():
    code = ("import sys\nfrom quals.cli.main import main\ntry:\n    main(['score', '--help'])\n"
            "except SystemExit:\n    pass\nprint('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--summary-field" in result.stdout and result.stdout.strip().endswith("False")


def test_failed_starts_say_why_briefly_and_block_nothing(tiny_dirs, tmp_path, fake_generation, capsys, monkeypatch):
    data, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    base = ["score", str(data), "-o", str(out), "--model", str(tiny_dirs["llama"]), *SMALL]
    assert main(base) == 2  # the input does not exist yet
    assert "No such file or directory" in capsys.readouterr().err
    _write_jsonl(data, GOOD[:2])
    assert main(base) == 0  # nothing left behind blocks the corrected run
    assert main(["score", str(data), "-o", str(tmp_path / "o2.jsonl"), "--model", str(tmp_path / "no-model"),
                 *SMALL]) == 2
    err = capsys.readouterr().err
    assert "no such directory" in err and "Traceback" not in err and len(err.splitlines()) <= 3

    def interrupted(self, summaries):
        raise KeyboardInterrupt

    monkeypatch.setattr(QUALS, "generate", interrupted)
    assert main(["score", str(data), "-o", str(tmp_path / "o3.jsonl"), "--model", str(tiny_dirs["llama"]),
                 *SMALL]) == 130
    assert "interrupted; re-run the same command to resume" in capsys.readouterr().err
