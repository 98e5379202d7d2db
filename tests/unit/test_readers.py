"""Input readers: formats, field mapping, row errors, row counts."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quals.data.readers import FieldMap, count_rows, detect_format, read_rows

ROWS = [{"id": 1, "document": "Doc one.", "summary": "Sum one."}, {"id": "b", "document": "Doc two.", "summary": "Sum two."}]


def test_jsonl_gz_and_parquet_give_the_same_rows(tmp_path):
    gz = tmp_path / "in.jsonl.gz"
    with gzip.open(gz, "wt") as handle:
        handle.write("".join(json.dumps(r) + "\n" for r in ROWS))
    parquet = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist([{**r, "id": str(r["id"])} for r in ROWS]), parquet)
    for path in (gz, parquet):
        rows = list(read_rows(path))
        assert [(r.index, r.id, r.document, r.summary, r.error) for r in rows] == [
            (0, "1", "Doc one.", "Sum one.", None), (1, "b", "Doc two.", "Sum two.", None)]
        assert count_rows(path) == 2


def test_row_errors_name_the_problem(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"document": "D", "summary": "S"}\n\n[1, 2]\n{"doc": "D", "summary": "S"}\n{bad\n'
                    '{"document": "  ", "summary": "S"}\n')
    rows = list(read_rows(path))
    assert [r.error for r in rows] == [
        None,
        "line 3: expected a JSON object, got list",
        "missing field(s) ['document']; fields present: doc, summary",
        "line 5: malformed JSON (Expecting property name enclosed in double quotes at column 2)",
        "empty document",
    ]
    assert [r.index for r in rows] == [0, 1, 2, 3, 4]
    assert count_rows(path) == 5


def test_custom_fields_and_no_id(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text('article,highlights\n"Doc, with comma\nand newline",Sum\n')
    rows = list(read_rows(path, FieldMap(document="article", summary="highlights", id=None)))
    assert rows[0].document == "Doc, with comma\nand newline" and rows[0].id is None
    assert count_rows(path) == 1


def test_format_detection():
    from pathlib import Path

    assert detect_format(Path("x.jsonl.gz")) == "jsonl"
    assert detect_format(Path("x.data"), "csv") == "csv"
    with pytest.raises(ValueError, match="--input-format"):
        detect_format(Path("x.txt"))
    with pytest.raises(FileNotFoundError):
        list(read_rows("/nonexistent/file.jsonl"))
