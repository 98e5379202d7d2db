"""Crash recovery and merging of JSONL outputs."""

from __future__ import annotations

import json

from quals.batch.output import merge_parts, recover, summarize


def _line(row, score=0.5, error=None):
    return json.dumps({"row": row, "score": score, "error": error}) + "\n"


def test_recover_keeps_only_complete_chunks(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text(_line(0) + _line(1) + _line(2) + _line(3) + _line(4) + '{"row": 5, "sc')
    assert recover(path, chunk_size=2) == {0, 1}
    assert path.read_text() == _line(0) + _line(1) + _line(2) + _line(3)


def test_recover_drops_a_garbled_line_and_what_follows(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text(_line(0) + _line(1) + "garbage\n" + _line(2) + _line(3))
    assert recover(path, chunk_size=2) == {0}
    assert path.read_text() == _line(0) + _line(1)


def test_recover_missing_file(tmp_path):
    assert recover(tmp_path / "none.jsonl", 4) == set()


def test_merge_orders_rows_and_summarize_counts(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text(_line(0) + _line(1) + _line(4, None))
    b.write_text(_line(2, -1.5) + _line(3, None, "empty summary"))
    out = tmp_path / "out.jsonl"
    merge_parts([b, a], out)
    assert [json.loads(line)["row"] for line in out.read_text().splitlines()] == [0, 1, 2, 3, 4]
    summary = summarize(out)
    assert (summary.n_rows, summary.n_scored, summary.n_null, summary.n_errors) == (5, 3, 1, 1)
    assert summary.mean == (0.5 + 0.5 - 1.5) / 3
