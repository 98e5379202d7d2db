"""reproduce/conseq_cnndm.sh end to end on tiny models: every stage of the at-scale run (split,
MLE, candidates, both selections, both ConSeq runs, test summaries, the three evaluations, the
merged table, the human study) runs, and a second run after a state save and restore into an
emptied work directory resumes instead of redoing anything.

QUALS generation is the fake of ``fixtures/fake_qa.py`` (tiny random models never write a QA pair);
everything else is real, the packaged FactCC classifier and spaCy pipeline included."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from quals.annotate import read_study

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def _articles(prefix: str, n: int) -> list[dict]:
    return [{"id": f"{prefix}{i}", "document": f"The mayor of Paris opened {i} new parks on Monday. Officials said "
                                               f"{i + 3} more would follow in {2020 + i}. Residents welcomed the plan.",
             "summary": f"Paris opened {i} parks. {i + 3} more will follow."} for i in range(n)]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_at_scale_script_runs_every_stage_and_resumes_from_saved_state(tiny_dirs, tmp_path):
    llama = str(tiny_dirs["llama"])
    quals_bin = tmp_path / "quals"
    quals_bin.write_text(f"#!/bin/sh\nexec {sys.executable} {FIXTURES / 'fake_qa.py'} \"$@\"\n")
    quals_bin.chmod(0o755)
    work = tmp_path / "work"
    env = {**os.environ, "PYTHONPATH": str(FIXTURES.parent), "OMP_NUM_THREADS": "1", "QUALS_BIN": str(quals_bin),
           "PYTHON": sys.executable, "DATA": str(_write(tmp_path / "train.jsonl", _articles("t", 8))),
           "TEST_DATA": str(_write(tmp_path / "test.jsonl", _articles("x", 5))), "N_TEST": "3", "N_TRAIN": "6",
           "N_SELECT": "3", "EPOCHS": "1", "SAVE_STEPS": "2", "BASE": llama, "QAGEN": llama,
           "QUALS_FLAGS": "--num-groups 3 --min-length 1 --max-length 8 --device cpu",
           "SELECT_FLAGS": "--negative-share 1 --positive-share 1",
           "METRICS": "rouge,rougelsum,entities,abstractiveness,quals,factcc", "PAPER_QUALS": "1", "QAGS_N": "2",
           "QAGS_QG": llama, "QAGS_QA": llama, "STUDY_N": "2"}
    script = [str(ROOT / "reproduce" / "conseq_cnndm.sh"), str(work)]
    first = subprocess.run(script, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert first.returncode == 0, first.stderr[-3000:]

    table = (work / "table.md").read_text().splitlines()
    assert table[0].startswith("| system | rows | ROUGE-1 |") and "| QUALS (paper) |" in table[0]
    assert "QAGS (qags2)" in table[0] and "FactCC" in table[0] and "novel 2-grams" in table[0]
    assert [line.split(" | ")[0] for line in table[2:5]] == ["| mle", "| conseq-rouge", "| conseq-quals"]
    assert table[3].split(" | ")[1] == "3" and "p=" in table[3]
    study = read_study(work / "study.jsonl", work / "test.jsonl")  # holds no documents: they come from the test file
    assert len(study.items) == 2 and study.detached and (study.system_a, study.system_b) == ("mle", "conseq-quals")
    assert "document\"" not in (work / "study.jsonl").read_text()

    # A later session: the work directory is gone, the committed state comes back, nothing reruns.
    state = tmp_path / "state"
    subprocess.run([sys.executable, str(ROOT / "reproduce" / "conseq_state.py"), "save", str(work), str(state)],
                   env=env, check=True, capture_output=True)
    saved = {p: (work / p).read_bytes() for p in ("summaries/conseq-quals.jsonl", "eval/mle.jsonl",
                                                  "triples-quals.quals-scores.jsonl")}
    shutil.rmtree(work)
    second = subprocess.run(script, cwd=ROOT, env={**env, "STATE": str(state)}, capture_output=True, text=True,
                            timeout=1200)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "already complete" in second.stderr
    assert all((work / p).read_bytes() == data for p, data in saved.items())
    assert (work / "table.md").read_text().splitlines() == table
