"""Crash-safe JSONL outputs: a run sidecar, resume after the last complete chunk, ordered merge.

Rows are processed in fixed chunks aligned to absolute row numbers and a chunk's lines are written
together. After a crash the file is cut back to the last complete chunk, so a resumed run batches
exactly the rows an uninterrupted run would and writes byte-identical lines.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from quals.files import atomic_open


def sidecar_path(output: Path) -> Path:
    return output.with_name(output.name + ".run.json")


def part_path(output: Path, rank: int, world: int) -> Path:
    return output.with_name(f"{output.name}.part-{rank:05d}-of-{world:05d}")


def dumps_record(record: dict) -> str:
    """One output line; ``allow_nan=False`` so a NaN can never slip into a file as invalid JSON."""
    return json.dumps(record, ensure_ascii=False, allow_nan=False)


def recover(path: Path, chunk_size: int) -> set[int]:
    """Cut ``path`` back to its complete chunks; return their chunk numbers.

    A chunk counts as complete when all ``chunk_size`` of its rows are present; a shorter final
    chunk is recomputed (cheap, and the sidecar's ``complete`` flag skips finished runs anyway).
    """
    if not path.exists():
        return set()
    data = path.read_bytes()
    keep_bytes, done, offset = 0, set(), 0
    current, count = None, 0
    for line in data.split(b"\n")[:-1]:  # the piece after the last newline is incomplete
        end = offset + len(line) + 1
        try:
            row = json.loads(line)["row"]
        except (ValueError, KeyError, TypeError):
            break
        chunk = row // chunk_size
        if chunk != current:
            current, count = chunk, 0
        count += 1
        if count == chunk_size:
            done.add(chunk)
            keep_bytes = end
        offset = end
    with open(path, "r+b") as handle:
        handle.truncate(keep_bytes)
    return done


def merge_parts(parts: Iterable[Path], output: Path) -> None:
    """Merge part files into ``output`` in input-row order (atomically)."""
    lines: list[tuple[int, str]] = []
    for part in parts:
        with open(part, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    lines.append((json.loads(line)["row"], line if line.endswith("\n") else line + "\n"))
    lines.sort(key=lambda item: item[0])
    with atomic_open(output) as handle:
        handle.writelines(line for _, line in lines)


@dataclass(frozen=True)
class CorpusSummary:
    """Corpus-level numbers of an output file; null scores and errors never enter the mean."""

    n_rows: int
    n_scored: int
    n_null: int
    n_errors: int
    mean: float | None

    def to_dict(self) -> dict:
        return {"n_rows": self.n_rows, "n_scored": self.n_scored, "n_null": self.n_null,
                "n_errors": self.n_errors, "mean": self.mean}


def first_errors(output: Path, n: int) -> list[dict]:
    """The first ``n`` error records of a score file, in row order."""
    found = []
    with open(output, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                if record.get("error"):
                    found.append(record)
                    if len(found) == n:
                        break
    return found


def summarize(output: Path) -> CorpusSummary:
    scores, n_rows, n_null, n_errors = [], 0, 0, 0
    with open(output, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            n_rows += 1
            if record.get("error"):
                n_errors += 1
            elif record.get("score") is None:
                n_null += 1
            else:
                scores.append(record["score"])
    mean = math.fsum(scores) / len(scores) if scores else None
    return CorpusSummary(n_rows, len(scores), n_null, n_errors, mean)
