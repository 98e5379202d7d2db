"""Atomic writes: the target is the old file or the new one, never a part, and nothing is left over."""

from __future__ import annotations

import json

import pytest

from quals.files import atomic_open, atomic_path, atomic_write_json, atomic_write_text


def _leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_write_text_creates_and_replaces(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "first\n")
    atomic_write_text(target, "second: é\n")
    assert target.read_text(encoding="utf-8") == "second: é\n"
    assert _leftovers(tmp_path, {"out.txt"}) == []


def test_write_json_layout_is_sorted_indented_with_newline(tmp_path):
    target = tmp_path / "run.json"
    atomic_write_json(target, {"b": 1, "a": [1, 2]})
    assert target.read_text() == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'


def test_failed_json_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "run.json"
    atomic_write_json(target, {"complete": True})
    with pytest.raises(TypeError, match="not JSON serializable"):
        atomic_write_json(target, {"complete": object()})
    assert json.loads(target.read_text()) == {"complete": True}
    assert _leftovers(tmp_path, {"run.json"}) == []


def test_interrupted_stream_keeps_the_old_file(tmp_path):
    target = tmp_path / "rows.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError, match="interrupted"):
        with atomic_open(target) as handle:
            handle.write("new line 1\n")
            handle.flush()
            raise RuntimeError("interrupted")
    assert target.read_text() == "old\n"
    assert _leftovers(tmp_path, {"rows.jsonl"}) == []
    with atomic_open(target) as handle:
        handle.write("new\n")
        assert target.read_text() == "old\n"  # not visible before the block ends
    assert target.read_text() == "new\n"


def test_atomic_path_for_other_writers(tmp_path):
    target = tmp_path / "study.db"
    with pytest.raises(OSError):
        with atomic_path(target) as temporary:
            temporary.write_bytes(b"half")
            raise OSError("disk full")
    assert not target.exists() and _leftovers(tmp_path, set()) == []
    with atomic_path(target) as temporary:
        assert temporary.parent == tmp_path and temporary.name.endswith(".tmp")
        temporary.write_bytes(b"whole")
    assert target.read_bytes() == b"whole"


def test_atomic_open_refuses_appending(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with atomic_open(tmp_path / "x", "a"):
            pass


def test_json_outputs_are_strict_json_with_undefined_numbers_as_null(tmp_path):
    import math

    from quals.files import atomic_write_json

    path = tmp_path / "report.json"
    atomic_write_json(path, {"interval": (math.nan, math.inf), "nested": [{"low": -math.inf, "x": 0.5}], "n": 3})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"interval": [None, None], "nested": [{"low": None, "x": 0.5}], "n": 3}
