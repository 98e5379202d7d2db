"""Input readers: formats, field mapping, row errors, row counts."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quals.data.readers import FieldMap, count_rows, detect_format, read_rows

ROWS = [{"id": 1, "document": "Doc one.", "summary": "Sum one."},
        {"id": "b", "document": "Doc two.", "summary": "Sum two."}]


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
        "line 4: missing field(s) ['document']; fields present: doc, summary",
        "line 5: malformed JSON (Expecting property name enclosed in double quotes at column 2)",
        "line 6: empty document",
    ]
    assert [r.index for r in rows] == [0, 1, 2, 3, 4]  # data rows; the blank line 2 is none
    assert [r.line for r in rows] == [1, 3, 4, 5, 6]
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


def _errors(path):
    rows = list(read_rows(path))
    assert count_rows(path) == len(rows)
    return [(r.summary, r.error) for r in rows]


def test_csv_with_a_byte_order_mark_reads_its_first_field(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfdocument,summary\r\nDoc one.,Sum one.\r\n")
    assert _errors(path) == [("Sum one.", None)]


def test_csv_unbalanced_quote_is_an_error_record_not_a_silent_merge(tmp_path):
    path = tmp_path / "in.csv"
    lines = ["document,summary", "Doc 1.,Sum 1.", 'Doc 2.,"Sum 2.', "Doc 3.,Sum 3.", "Doc 4.,Sum 4."]
    path.write_text("\n".join(lines) + "\n")
    assert _errors(path) == [("Sum 1.", None), (None, "lines 3-5: malformed CSV (unexpected end of data; an "
                                                     "unbalanced quote takes the lines after it along)")]
    closed = tmp_path / "closed.csv"  # the quote closes on a later line: that record is garbled, not scored
    closed.write_text("\n".join([*lines[:4], 'Doc 4.,"Sum 4."', "Doc 5.,Sum 5."]) + "\n")
    rows = _errors(closed)
    assert rows[0] == ("Sum 1.", None) and rows[2] == ("Sum 5.", None)
    assert rows[1][0] is None and rows[1][1].startswith("lines 3-5: malformed CSV")
    extra = tmp_path / "extra.csv"
    extra.write_text("document,summary\nDoc 1.,Sum 1.,oops\nDoc 2.,Sum 2.\n")
    assert _errors(extra) == [(None, "line 2: 3 fields where the header has 2 (an unbalanced quote or a stray "
                                     "delimiter?)"), ("Sum 2.", None)]


def test_csv_field_longer_than_the_csv_module_default_limit(tmp_path):
    path = tmp_path / "long.csv"
    document = "word " * 40_000  # 200,000 characters, over csv's 131,072 default
    path.write_text(f'document,summary\n"{document}",Sum.\nDoc 2.,Sum 2.\n')
    rows = list(read_rows(path))
    assert [r.error for r in rows] == [None, None] and rows[0].document == document


def test_csv_bad_byte_costs_its_row_only(tmp_path):
    path = tmp_path / "bytes.csv"
    path.write_bytes(b"document,summary\nDoc \xff.,Sum 1.\nDoc 2.,Sum 2.\n")
    assert _errors(path) == [(None, "line 2: not UTF-8 text"), ("Sum 2.", None)]


def test_jsonl_bom_bad_bytes_surrogates_and_deep_nesting_cost_one_row_each(tmp_path):
    good = json.dumps({"id": "ok", "document": "Doc.", "summary": "Sum."}).encode()
    deep = b'{"document": "D", "summary": "S", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    lines = [b"\xef\xbb\xbf" + good, b'{"document": "D\xff", "summary": "S"}', b'{"id": "\\ud800", "document": "D", '
             b'"summary": "S"}', deep, good]
    for name, opener in (("in.jsonl", open), ("in.jsonl.gz", gzip.open)):
        path = tmp_path / name
        with opener(path, "wb") as handle:
            handle.write(b"\n".join(lines) + b"\n")
        rows = list(read_rows(path))
        assert count_rows(path) == 5
        assert [(r.id, r.summary) for r in rows if r.error is None] == [("ok", "Sum."), ("ok", "Sum.")]
        assert rows[1].error == "line 2: not UTF-8 (byte 0xff at byte 16)"
        assert "unpaired UTF-16 surrogate" in rows[2].error and rows[2].id is None
        assert rows[3].error == "line 4: JSON nested too deeply to read"
