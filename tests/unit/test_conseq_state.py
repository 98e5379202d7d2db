"""reproduce/conseq_state.py: a run carried between sessions comes back byte for byte, without
copies of the data set in what is committed."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
from pathlib import Path

import pytest

from quals.batch.output import dumps_record

SCRIPT = Path(__file__).resolve().parents[2] / "reproduce" / "conseq_state.py"
spec = importlib.util.spec_from_file_location("conseq_state", SCRIPT)
state_tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(state_tool)

POOL = [{"id": f"a{i}", "document": f"secret article {i} text", "summary": f"secret highlight {i}"} for i in range(3)]


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(dumps_record(row) + "\n" for row in rows))  # as the batch runner writes


def _work(root: Path) -> Path:
    _jsonl(root / "pool.jsonl", POOL)
    _jsonl(root / "train.jsonl", POOL)
    _jsonl(root / "candidates.jsonl", [{"row": i, "id": r["id"], "document": r["document"], "reference": r["summary"],
                                        "candidates": [f"cand {i} \u00e9"], "error": None} for i, r in enumerate(POOL)])
    (root / "candidates.jsonl.run.json").write_text(json.dumps({"run": {"seed": 0}}, indent=2))
    _jsonl(root / "triples-quals.jsonl", [{"document": POOL[0]["document"], "positive": POOL[0]["summary"]}])
    _jsonl(root / "triples-quals.quals-scores.jsonl.part-00000-of-00002",
           [{"row": 0, "id": "0:reference", "score": -1.5}])
    # a shard's sidecar is indented JSON, not JSONL
    (root / "triples-quals.quals-scores.jsonl.part-00000-of-00002.run.json").write_text(
        json.dumps({"stage": "conseq-scores", "chunk_size": 7}, indent=2))
    _jsonl(root / "triples-rouge.rouge-scores.jsonl", [{"row": 0, "id": "0:candidate-0", "score": 0.3}])
    (root / "mle").mkdir()
    (root / "mle" / "adapter_config.json").write_text("{}")
    (root / "mle" / "adapter_model.safetensors").write_bytes(bytes(range(256)))
    (root / "mle" / "quals_summarizer.json").write_text('{"complete": true}')
    (root / "mle" / "checkpoints" / "checkpoint-5").mkdir(parents=True)
    (root / "mle" / "checkpoints" / "checkpoint-5" / "optimizer.pt").write_bytes(b"x" * 100)
    (root / "conseq-quals" / "checkpoints").mkdir(parents=True)
    (root / "conseq-quals" / "adapter_config.json").write_text("{}")
    return root


def test_saved_state_restores_byte_for_byte_without_data_texts(tmp_path):
    work, state = _work(tmp_path / "work"), tmp_path / "state"
    manifest = state_tool.save(work, state)
    stored = {e["path"] for e in manifest["files"]}
    assert stored == {"candidates.jsonl", "candidates.jsonl.run.json", "mle/adapter_config.json",
                      "mle/adapter_model.safetensors", "mle/quals_summarizer.json",
                      "triples-quals.quals-scores.jsonl.part-00000-of-00002",
                      "triples-quals.quals-scores.jsonl.part-00000-of-00002.run.json",
                      "triples-rouge.rouge-scores.jsonl"}
    for path in state.rglob("*.gz"):
        assert b"secret" not in gzip.decompress(path.read_bytes()), path

    fresh = tmp_path / "fresh"
    _jsonl(fresh / "pool.jsonl", POOL)  # the script's step 0 rebuilds it
    state_tool.restore(state, fresh)
    for rel in stored:
        assert (fresh / rel).read_bytes() == (work / rel).read_bytes(), rel
    # Progress made since the save is newer than the state: a second restore keeps it.
    _jsonl(fresh / "candidates.jsonl", [{"row": 0, "candidates": ["newer"]}])
    assert "candidates.jsonl" in state_tool.restore(state, fresh)["kept"]
    assert "newer" in (fresh / "candidates.jsonl").read_text()


def test_restore_refuses_another_pool_and_a_missing_one(tmp_path):
    state = tmp_path / "state"
    state_tool.save(_work(tmp_path / "work"), state)
    with pytest.raises(FileNotFoundError, match="step 0"):
        state_tool.restore(state, tmp_path / "empty")
    other = tmp_path / "other"
    _jsonl(other / "pool.jsonl", [{**row, "document": row["document"] + " changed"} for row in POOL])
    with pytest.raises(ValueError, match="candidates.jsonl: restored bytes differ"):
        state_tool.restore(state, other)


def test_a_file_carrying_data_texts_without_a_rule_is_refused(tmp_path):
    work = _work(tmp_path / "work")
    _jsonl(work / "summaries" / "mle.jsonl", [{"row": 0, "summary": "s", "document": POOL[0]["document"]}])
    with pytest.raises(ValueError, match="summaries/mle.jsonl line 1 holds data text"):
        state_tool.save(work, tmp_path / "state")


def test_a_file_too_large_to_commit_is_refused_and_the_previous_state_is_kept(tmp_path, monkeypatch):
    work, state = _work(tmp_path / "work"), tmp_path / "state"
    before = state_tool.save(work, state)
    monkeypatch.setattr(state_tool, "MAX_STORED_BYTES", 2000)
    (work / "mle" / "adapter_model.safetensors").write_bytes(os.urandom(4000))
    with pytest.raises(ValueError, match="mle/adapter_model.safetensors is .* over the"):
        state_tool.save(work, state)
    assert json.loads((state / "manifest.json").read_text()) == before
