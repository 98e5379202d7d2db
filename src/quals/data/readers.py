"""Read (document, summary) rows from JSONL, CSV or Parquet, with named fields.

A bad row never stops the reader: it comes back as a :class:`Row` with ``error`` set (row number
and reason), so the caller can report it and go on with the others.
"""

from __future__ import annotations

import csv
import functools
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

FORMATS = ("jsonl", "csv", "parquet")


@dataclass(frozen=True)
class FieldMap:
    """Which input fields hold the document, the summary and (optionally) the id."""

    document: str = field(default="document", metadata={"help": "Field with the source document."})
    summary: str = field(default="summary", metadata={"help": "Field with the summary to check."})
    id: str | None = field(default="id", metadata={"help": "Optional field with a row id."})


@dataclass(frozen=True)
class Row:
    """One input row; ``index`` counts data rows from 0 in file order."""

    index: int
    id: str | None
    document: str | None
    summary: str | None
    error: str | None = None
    line: int | None = None  # 1-based line of the file where the row starts (None for Parquet)


def detect_format(path: Path, explicit: str | None = None) -> str:
    if explicit:
        if explicit not in FORMATS:
            raise ValueError(f"input format must be one of {FORMATS}, got {explicit!r}")
        return explicit
    suffixes = [s.lower() for s in path.suffixes]
    for fmt, names in (("jsonl", (".jsonl", ".json", ".ndjson")), ("csv", (".csv",)), ("parquet", (".parquet",))):
        if any(s in names for s in suffixes):
            return fmt
    raise ValueError(f"cannot tell the format of {path} from its name; pass --input-format {'|'.join(FORMATS)}")


def read_records(path: Path, fmt: str) -> Iterator[tuple[dict | None, str | None]]:
    """Raw records in file order as ``(record, None)`` or ``(None, why it is malformed)``; for
    readers whose rows are not (document, summary) pairs, e.g. documents to summarize."""
    for _, record, problem in read_numbered_records(path, fmt):
        yield record, problem


def read_numbered_records(path: Path, fmt: str) -> Iterator[tuple[int | None, dict | None, str | None]]:
    """:func:`read_records` with the 1-based line where each record starts (None for Parquet).

    One bad line or CSV record never stops the file: a byte that is not UTF-8, JSON nested too
    deep, a CSV record with the wrong number of fields or broken quoting each become that row's
    reason. A UTF-8 byte-order mark (what Excel writes) is dropped.
    """
    if fmt == "jsonl":
        yield from _jsonl_records(path)
    elif fmt == "csv":
        yield from _csv_records(path)
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        for batch in table.to_batches():
            for record in batch.to_pylist():
                yield None, record, None


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict | None, str | None]]:
    # Lines are decoded one by one (not the whole stream), so a bad byte costs one row only.
    with _open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                yield number, None, f"line {number}: not UTF-8 (byte 0x{raw[err.start]:02x} at byte {err.start + 1})"
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as err:
                yield number, None, f"line {number}: malformed JSON ({err.msg} at column {err.colno})"
                continue
            except RecursionError:
                yield number, None, f"line {number}: JSON nested too deeply to read"
                continue
            if not isinstance(value, dict):
                yield number, None, f"line {number}: expected a JSON object, got {type(value).__name__}"
                continue
            yield number, value, None


def _csv_records(path: Path) -> Iterator[tuple[int, dict | None, str | None]]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # documents can be longer than csv's 128 KiB default
    # surrogateescape keeps going past a byte that is not UTF-8; the record holding it is reported
    with open_text(path, encoding="utf-8-sig", errors="surrogateescape") as handle:
        reader = csv.reader(handle, strict=True)
        header: list[str] | None = None
        while True:
            start = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                lines = f"line {start}" if reader.line_num <= start else f"lines {start}-{reader.line_num}"
                yield start, None, f"{lines}: malformed CSV ({err}; an unbalanced quote takes the lines after it along)"
                continue
            if header is None:
                header = values
                continue
            if not values:
                continue
            lines = f"line {start}" if reader.line_num == start else f"lines {start}-{reader.line_num}"
            if len(values) != len(header):
                yield start, None, (f"{lines}: {len(values)} fields where the header has {len(header)} "
                             "(an unbalanced quote or a stray delimiter?)")
                continue
            if not all(map(_encodable, values)):
                yield start, None, f"{lines}: not UTF-8 text"
                continue
            yield start, dict(zip(header, values, strict=True)), None


def strict_json_lines(handle, source: str, required: tuple[str, ...] = (), *,
                      kind: type | None = None) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` of a JSON-lines stream that must be whole (training data,
    benchmarks): the first malformed line, or one missing a ``required`` field (or whose field is
    not of type ``kind``), raises ``ValueError`` naming ``source`` and the line."""
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{source}:{number}: malformed JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{source}:{number}: expected a JSON object, got {type(record).__name__}")
        missing = [name for name in required
                   if record.get(name) is None or (kind is not None and not isinstance(record[name], kind))]
        if missing:
            what = "missing" if kind is None else f"missing or not {kind.__name__}"
            raise ValueError(f"{source}:{number}: field(s) {missing} {what}; expected {list(required)}")
        yield number, record


def open_text(path: Path, encoding: str = "utf-8", errors: str = "strict"):
    """A text file, gzip-compressed when its name ends in ``.gz``."""
    path = Path(path)
    if path.suffix == ".gz":
        import gzip

        return gzip.open(path, "rt", encoding=encoding, errors=errors, newline="")
    return open(path, encoding=encoding, errors=errors, newline="")


def _open_binary(path: Path):
    if path.suffix == ".gz":
        import gzip

        return gzip.open(path, "rb")
    return open(path, "rb")


def count_rows(path: str | Path, fmt: str | None = None) -> int:
    """Number of rows :func:`read_rows` will yield (for progress bars with an ETA)."""
    path = Path(path)
    fmt = detect_format(path, fmt)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return sum(1 for _ in read_records(path, fmt))


def read_rows(path: str | Path, fields: FieldMap = FieldMap(), fmt: str | None = None) -> Iterator[Row]:
    """Yield every row of ``path``; rows that cannot be used carry an ``error``.

    ``Row.index`` counts data rows from 0 (blank lines are no rows) and is the output's ``row``;
    every error names the 1-based ``line`` of the file where its row starts (Parquet: the row).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input file {path} does not exist")
    for index, (line, record, problem) in enumerate(read_numbered_records(path, detect_format(path, fmt))):
        where = f"line {line}" if line is not None else f"row {index}"
        bad = functools.partial(_bad_row, index, line, where)
        if problem is not None:
            yield Row(index, None, None, None, problem, line)
            continue
        row_id = record.get(fields.id) if fields.id else None
        row_id = None if row_id is None else str(row_id)
        unpaired = [name for name in (fields.id, fields.document, fields.summary)
                    if name and isinstance(record.get(name), str) and not _encodable(record[name])]
        if unpaired:
            yield bad(None if fields.id in unpaired else row_id,
                      f"field(s) {unpaired} hold an unpaired UTF-16 surrogate (an escape such as \\ud800 "
                      "with no partner), which is no text")
            continue
        missing = [name for name in (fields.document, fields.summary) if name not in record]
        if missing:
            present = ", ".join(sorted(map(str, record))) or "none"
            yield bad(row_id, f"missing field(s) {missing}; fields present: {present}")
            continue
        document, summary = record[fields.document], record[fields.summary]
        wrong = [name for name, value in ((fields.document, document), (fields.summary, summary))
                 if not isinstance(value, str)]
        if wrong:
            yield bad(row_id, f"field(s) {wrong} must be text")
            continue
        if not summary.strip():
            yield bad(row_id, "empty summary", document, summary)
            continue
        if not document.strip():
            yield bad(row_id, "empty document", document, summary)
            continue
        yield Row(index, row_id, document, summary, None, line)


def _bad_row(index: int, line: int | None, where: str, row_id: str | None, why: str, document: str | None = None,
             summary: str | None = None) -> Row:
    return Row(index, row_id, document, summary, f"{where}: {why}", line)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
