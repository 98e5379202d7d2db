"""Human-annotated factual-consistency benchmarks in one schema (QAGS-C, QAGS-X, FRANK, ...).

Schema, one JSON object a line (``.jsonl`` or ``.jsonl.gz``): ``id, dataset, origin, split,
document, summary, model_name, label, score`` (``extra`` is ignored). ``score`` is the continuous
human judgment, higher = more consistent; ``label`` is 1 for a fully consistent summary.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quals.data.readers import strict_json_lines
from quals.files import atomic_write_text

REQUIRED = ("id", "dataset", "origin", "split", "document", "summary", "score")


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
    score: float


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


def read_benchmark(path: str | Path) -> list[BenchmarkRow]:
    """All rows of one benchmark file.

    Raises:
        ValueError: a row is malformed or misses a field (the message names file and line):
            a benchmark with holes would silently change the correlations.
    """
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    rows = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for _, record in strict_json_lines(handle, str(path), REQUIRED):
            label = record.get("label")
            rows.append(BenchmarkRow(
                id=str(record["id"]), dataset=str(record["dataset"]), origin=str(record["origin"]),
                split=str(record["split"]), document=record["document"], summary=record["summary"],
                model_name=record.get("model_name"), label=None if label is None else int(label),
                score=float(record["score"]),
            ))
    ids = [r.id for r in rows]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: row ids are not unique")
    return rows


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
