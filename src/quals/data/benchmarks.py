"""Human-annotated factual-consistency benchmarks in one schema (QAGS-C, QAGS-X, FRANK, ...).

Schema, one JSON object a line (``.jsonl`` or ``.jsonl.gz``): ``id, dataset, origin, split,
document, summary, model_name, label, score`` (``extra`` is ignored). ``score`` is the continuous
human judgment, higher = more consistent; ``label`` is 1 for a fully consistent summary. A row
needs at least one of the two: most public benchmarks (SummaC, AggreFact, LLM-AggreFact, ...) give
only a binary label. Other field names are mapped with :class:`BenchmarkFields`; ``id`` and
``origin`` may be absent (the id becomes ``<file name>:<line>``).

Split names: ``valid``, ``val``, ``validation`` and ``dev`` are the validation split (thresholds
are chosen there), ``test`` the test split (see :func:`split_role`).
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from quals.data.readers import strict_json_lines
from quals.files import atomic_write_text

TEST, VALID = "test", "valid"
SPLIT_ALIASES = {"valid": VALID, "val": VALID, "validation": VALID, "dev": VALID, "test": TEST}


@dataclass(frozen=True)
class BenchmarkFields:
    """Which fields of a benchmark row hold what (the defaults are the shared schema's names)."""

    document: str = field(default="document", metadata={"help": "Field with the source document."})
    summary: str = field(default="summary", metadata={"help": "Field with the summary (or claim) to check."})
    label: str = field(default="label", metadata={"help": "Field with the binary human label (1 = consistent)."})
    score: str = field(default="score", metadata={"help": "Field with the continuous human score (higher = more "
                                                           "consistent)."})
    dataset: str = field(default="dataset", metadata={"help": "Field naming the dataset a row belongs to."})
    system: str = field(default="model_name", metadata={"help": "Field naming the system that wrote the summary "
                                                                 "(for the partial correlation by system)."})
    split: str = field(default="split", metadata={"help": "Field with the split name (test, valid, val, ...)."})
    id: str = field(default="id", metadata={"help": "Optional field with a row id; a row without one is named "
                                                     "FILE:LINE."})
    origin: str = field(default="origin", metadata={"help": "Optional field with the source corpus (e.g. cnndm, "
                                                             "xsum): statistics are also given per origin."})


@dataclass(frozen=True)
class BenchmarkRow:
    id: str
    dataset: str
    origin: str
    split: str
    document: str
    summary: str
    model_name: str | None
    label: int | None
    score: float | None


def split_role(name: str, valid_splits: Sequence[str] = (), test_splits: Sequence[str] = ()) -> str | None:
    """``"valid"``, ``"test"`` or None (not used) for a split called ``name``.

    Names the user gives (``valid_splits``, ``test_splits``, matched exactly) come first, then the
    usual spellings of :data:`SPLIT_ALIASES` (any case). Anything else, e.g. ``train``, is no
    split of the evaluation: guessing a role for it could put training rows into the test set.

    >>> split_role("val"), split_role("Test"), split_role("train"), split_role("train", test_splits=["train"])
    ('valid', 'test', None, 'test')
    """
    if name in valid_splits:
        return VALID
    if name in test_splits:
        return TEST
    return SPLIT_ALIASES.get(name.lower())


def benchmark_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand directories into their ``*.jsonl`` / ``*.jsonl.gz`` files (sorted); keep files as given."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.name.endswith((".jsonl", ".jsonl.gz")))
            if not found:
                raise FileNotFoundError(f"{path} holds no .jsonl or .jsonl.gz benchmark file")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"benchmark {path} does not exist")
    return files


def read_benchmark(path: str | Path, fields: BenchmarkFields = BenchmarkFields()) -> list[BenchmarkRow]:
    """All rows of one benchmark file, read with ``fields``.

    Raises:
        ValueError: a row is malformed, misses a field, has neither a label nor a score, or a
            label other than 0/1 or a score that is not a finite number (the message names file
            and line): a benchmark with holes would silently change the numbers.
    """
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    required = (fields.dataset, fields.split, fields.document, fields.summary)
    rows = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for line, record in strict_json_lines(handle, str(path), required):
            where = f"{path}:{line}"
            label, score = _label(record.get(fields.label), fields.label, where), record.get(fields.score)
            if label is None and score is None:
                present = ", ".join(sorted(map(str, record)))
                raise ValueError(f"{where}: neither {fields.label!r} nor {fields.score!r}: a row needs a binary "
                                 f"label or a human score (or both); fields present: {present}")
            row_id, origin = record.get(fields.id), record.get(fields.origin)
            rows.append(BenchmarkRow(
                id=f"{path.name}:{line}" if row_id is None else str(row_id), dataset=str(record[fields.dataset]),
                origin="" if origin is None else str(origin), split=str(record[fields.split]),
                document=record[fields.document], summary=record[fields.summary],
                model_name=record.get(fields.system), label=label,
                score=None if score is None else _score(score, fields.score, where),
            ))
    ids = [r.id for r in rows]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: row ids are not unique")
    return rows


def _label(value, name: str, where: str) -> int | None:
    # bool is an int; 1.0 from a float column is fine; 2, 0.5 or "yes" are not labels.
    if value is None:
        return None
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    raise ValueError(f"{where}: {name!r} must be 0 or 1 (1 = consistent), got {value!r}")


def _score(value, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}: {name!r} must be a finite number, got {value!r}")
    return float(value)


def select_rows(rows: Sequence[BenchmarkRow], limits: dict[str, int] | None, seed: int) -> list[BenchmarkRow]:
    """A seeded order of the rows, split by split, cut to ``limits[split]`` rows where given.

    Every split is shuffled with its own generator seeded from ``seed`` and the split name, so a
    smaller limit gives a prefix of a larger one (subsets nest) and splits do not influence each
    other. Splits absent from ``limits`` are kept whole; ``limits=None`` keeps everything.
    """
    selected: list[BenchmarkRow] = []
    for split in sorted({r.split for r in rows}):
        members = [r for r in rows if r.split == split]
        order = np.random.default_rng([seed, _stable_int(split)]).permutation(len(members))
        shuffled = [members[i] for i in order]
        if limits is not None and split in limits:
            shuffled = shuffled[:limits[split]]
        selected.extend(shuffled)
    return selected


def _stable_int(text: str) -> int:
    # Python's hash() of a str changes per process; seeds must not.
    return int.from_bytes(text.encode("utf-8")[:8].ljust(8, b"\0"), "little")


def write_rows(rows: Sequence[BenchmarkRow], path: Path) -> None:
    """The (id, document, summary) input the batch scorer reads; rewritten only when it changes."""
    text = "".join(json.dumps({"id": r.id, "document": r.document, "summary": r.summary}, ensure_ascii=False) + "\n"
                   for r in rows)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)  # concurrent runs may write the same input: each writes it whole
