"""``quals annotate build|serve|export`` in-process, and ``--help`` without torch."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from http.server import ThreadingHTTPServer

import pytest

from quals.annotate import StudyStore, read_study
from quals.annotate.study import ATTRIBUTES
from quals.cli.main import main


@pytest.fixture
def summary_files(tmp_path):
    for name, prefix in (("mle", "A"), ("conseq", "B")):
        rows = [{"id": k, "document": f"Document {k}.", "summary": f"{prefix} {k}", "system": name} for k in range(12)]
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path / "mle.jsonl", tmp_path / "conseq.jsonl"


@pytest.fixture
def no_serving(monkeypatch):
    """``serve`` binds, prints its links, then stops as if Ctrl-C were pressed."""
    def interrupted(self, poll_interval=0.5):
        raise KeyboardInterrupt

    monkeypatch.setattr(ThreadingHTTPServer, "serve_forever", interrupted)


def _links(text: str) -> dict[str, str]:
    return dict(re.findall(r"^\s+(annotator-\d+)\s+\d+/\d+ done\s+(\S+)$", text, flags=re.M))


def test_build_serve_export(tmp_path, summary_files, no_serving, capsys):
    study = tmp_path / "study.jsonl"
    assert main(["annotate", "build", *map(str, summary_files), "-o", str(study), "--n-items", "5", "--seed", "2"]) == 0
    assert "5 items, mle (A) vs conseq (B)" in capsys.readouterr().err
    assert main(["annotate", "build", *map(str, summary_files), "-o", str(study)]) == 2
    assert "--overwrite" in capsys.readouterr().err

    assert main(["annotate", "serve", str(study), "--port", "0", "--annotators", "2", "--per-item", "2"]) == 0
    out = capsys.readouterr().out
    links = _links(out)
    assert set(links) == {"annotator-1", "annotator-2"} and all(link.startswith("http://127.0.0.1:") for link in
                                                                 links.values())
    assert "A = mle, B = conseq" in out and "2 annotators, 2 per item, seed 0" in out
    store = StudyStore.open(tmp_path / "study.sqlite", read_study(study))
    store.save(0, 0, dict.fromkeys(ATTRIBUTES, "equal"))

    assert main(["annotate", "serve", str(study), "--port", "0"]) == 0  # resumes: same tokens, progress shown
    again = capsys.readouterr().out
    assert [link.rsplit("/", 1)[1] for link in _links(again).values()] == \
        [link.rsplit("/", 1)[1] for link in links.values()]
    assert re.search(r"annotator-1\s+1/5 done", again)

    assert main(["annotate", "export", str(study), "-o", str(tmp_path / "results")]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == [str(tmp_path / "results" / name) for name in (
        "human-eval.md", "human-eval.json", "human-eval.png", "human-eval.svg", "judgments.jsonl")]
    assert "1 of 10 assigned judgments" in captured.err
    record = json.loads((tmp_path / "results" / "human-eval.json").read_text())
    assert record["attributes"][0]["judgments"] == {"better": 0, "equal": 1, "worse": 0}


def test_a_study_without_documents_is_served_and_exported_with_the_test_file(tmp_path, no_serving, capsys):
    ids = [f"x{k}" for k in range(8)]
    test = tmp_path / "test.jsonl"
    test.write_text("".join(json.dumps({"id": k, "document": f"Secret article {k}."}) + "\n" for k in ids))
    for name in ("mle", "conseq"):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"id": k, "summary": f"{name} {k}"}) + "\n"
                                                        for k in ids))
    study = tmp_path / "study.jsonl"
    assert main(["annotate", "build", str(tmp_path / "mle.jsonl"), str(tmp_path / "conseq.jsonl"), "-o", str(study),
                 "--documents", str(test), "--n-items", "4", "--no-embed-documents"]) == 0
    assert "document hashes only" in capsys.readouterr().err
    assert "Secret" not in study.read_text()

    assert main(["annotate", "serve", str(study), "--port", "0", "--annotators", "1", "--per-item", "1"]) == 2
    assert "pass the test file it was built from with --documents" in capsys.readouterr().err
    assert main(["annotate", "serve", str(study), "--port", "0", "--annotators", "1", "--per-item", "1",
                 "--documents", str(test)]) == 0
    capsys.readouterr()
    store = StudyStore.open(tmp_path / "study.sqlite", read_study(study, test))
    assert store.task(0, 0).document.startswith("Secret article x")
    store.save(0, 0, dict.fromkeys(ATTRIBUTES, "right"))
    assert main(["annotate", "export", str(study), "--documents", str(test), "-o", str(tmp_path / "out")]) == 0
    assert "1 of 4 assigned judgments" in capsys.readouterr().err


def test_serve_refuses_another_design_for_an_existing_database(tmp_path, summary_files, no_serving, capsys):
    study = tmp_path / "study.jsonl"
    main(["annotate", "build", *map(str, summary_files), "-o", str(study), "--n-items", "4"])
    db = tmp_path / "custom.sqlite"
    assert main(["annotate", "serve", str(study), "--db", str(db), "--port", "0", "--annotators", "2"]) == 0
    capsys.readouterr()
    assert main(["annotate", "serve", str(study), "--db", str(db), "--port", "0", "--annotators", "4"]) == 2
    err = capsys.readouterr().err
    assert "another design: --annotators 4 (database: 2)" in err
    assert main(["annotate", "serve", str(study), "--port", "0", "--annotators", "2", "--per-item", "3"]) == 2
    assert "per_item must be between 1 and annotators (2)" in capsys.readouterr().err


def test_serve_reports_a_busy_port(tmp_path, summary_files, no_serving, capsys):
    study = tmp_path / "study.jsonl"
    main(["annotate", "build", *map(str, summary_files), "-o", str(study), "--n-items", "4"])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["annotate", "serve", str(study), "--port", str(port)]) == 2
    assert "pick another --port" in capsys.readouterr().err


def test_export_needs_the_database(tmp_path, summary_files, capsys):
    study = tmp_path / "study.jsonl"
    main(["annotate", "build", *map(str, summary_files), "-o", str(study), "--n-items", "4"])
    assert main(["annotate", "export", str(study), "-o", str(tmp_path / "out")]) == 2
    assert "study.sqlite does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("action", [[], ["build"], ["serve"], ["export"]])
def test_help_renders_without_torch_or_matplotlib(action):
    code = ("import sys\nfrom quals.cli.main import main\ntry:\n    main(['annotate', *sys.argv[1:], '--help'])\n"
            "except SystemExit:\n    pass\nprint('torch' in sys.modules, 'matplotlib' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, *action], capture_output=True, text=True, check=True)
    assert "usage: quals annotate" in result.stdout and result.stdout.strip().endswith("False False")
