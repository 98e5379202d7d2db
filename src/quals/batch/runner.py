"""Score a file of (document, summary) rows into JSONL: resumable, shardable, failure-isolating.

Under ``accelerate launch`` / ``torchrun`` (``WORLD_SIZE`` > 1) chunk k goes to process
k % world; each process writes its own part and the first process merges the parts in input order.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from quals.batch.output import (
    CorpusSummary,
    dumps_record,
    merge_parts,
    part_path,
    recover,
    sidecar_path,
    summarize,
    write_json_atomic,
)
from quals.data.readers import FieldMap, Row, count_rows, read_rows

logger = logging.getLogger(__name__)


class Scorer(Protocol):
    """What the runner needs of a metric (QUALS, QAGS, ...)."""

    def score(self, documents: list[str], summaries: list[str]): ...

    def run_info(self) -> dict: ...

    def count_tokens(self, text: str) -> int: ...


@dataclass(frozen=True)
class RunConfig:
    chunk_size: int = field(default=16, metadata={"help": "Rows per scoring call and per resume unit."})
    details: bool = field(default=True, metadata={"help": "Write QA details, not only scores."})
    max_document_tokens: int = field(
        default=20_000, metadata={"help": "Longer documents get an error record instead of hours of windows."}
    )
    overwrite: bool = field(default=False, metadata={"help": "Discard an existing output instead of resuming."})

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {self.chunk_size}")
        if self.max_document_tokens < 1:
            raise ValueError(f"max_document_tokens must be >= 1, got {self.max_document_tokens}")


def _world() -> tuple[int, int]:
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _chunks(rows: Iterator[Row], size: int) -> Iterator[tuple[int, list[Row]]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk[0].index // size, chunk
            chunk = []
    if chunk:
        yield chunk[0].index // size, chunk


def _error_record(row: Row, message: str) -> dict:
    return {"row": row.index, "id": row.id, "score": None, "error": message}


class _ChunkScorer:
    def __init__(self, scorer: Scorer, config: RunConfig) -> None:
        self.scorer = scorer
        self.config = config

    def records(self, rows: list[Row]) -> list[dict]:
        records: dict[int, dict] = {}
        good: list[Row] = []
        for row in rows:
            problem = row.error or self._check(row)
            if problem:
                records[row.index] = _error_record(row, problem)
            else:
                good.append(row)
        if good:
            for row, example in self._score(good):
                records[row.index] = example
        return [records[row.index] for row in rows]

    def _check(self, row: Row) -> str | None:
        n = self.scorer.count_tokens(row.document)
        if n > self.config.max_document_tokens:
            return (f"document has {n} tokens, over the limit of {self.config.max_document_tokens} "
                    f"(raise --max-document-tokens to score it in windows)")
        return None

    def _score(self, rows: list[Row]) -> list[tuple[Row, dict]]:
        try:
            result = self.scorer.score([r.document for r in rows], [r.summary for r in rows])
        except (ValueError, RuntimeError) as err:
            if len(rows) == 1:
                logger.warning("row %d failed: %s", rows[0].index, err)
                return [(rows[0], _error_record(rows[0], f"{type(err).__name__}: {err}"))]
            # Isolate the failing row(s): score one by one so the others still get scores.
            return [pair for row in rows for pair in self._score([row])]
        return [(row, {"row": row.index, "id": row.id, **example.to_dict(self.config.details), "error": None})
                for row, example in zip(rows, result.examples)]


def score_file(scorer: Scorer, input_path: str | Path, output: str | Path, *, fields: FieldMap = FieldMap(),
               input_format: str | None = None, config: RunConfig = RunConfig(),
               show_progress: bool = False) -> CorpusSummary:
    """Score every row of ``input_path`` into ``output`` (JSONL), resuming an earlier run.

    Raises:
        FileExistsError: ``output`` exists from a run with other settings (and not ``overwrite``).
    """
    output = Path(output)
    rank, world = _world()
    info = {"run": scorer.run_info(), "input": str(Path(input_path).resolve()), "fields": asdict(fields),
            "chunk_size": config.chunk_size, "details": config.details,
            "max_document_tokens": config.max_document_tokens}
    if world > 1 and not config.overwrite and _is_complete(output, info):
        return summarize(output)
    target = output if world == 1 else part_path(output, rank, world)
    if _prepare(target, info, config.overwrite):
        logger.info("%s is already complete", target)
    else:
        total = count_rows(input_path, input_format) if show_progress else None
        _run(_ChunkScorer(scorer, config), read_rows(input_path, fields, input_format), target, info,
             config.chunk_size, rank, world, show_progress, total)
    if world > 1:
        _merge(output, info, world, rank)
    return summarize(output)


def _is_complete(output: Path, info: dict) -> bool:
    import json

    try:
        previous = json.loads(sidecar_path(output).read_text())
    except (OSError, ValueError):
        return False
    return bool(previous.get("complete")) and _same_run(previous, info) and output.exists()


def _same_run(previous: dict, info: dict) -> bool:
    return {k: v for k, v in previous.items() if k not in ("complete", "merged_from")} == info


def _prepare(target: Path, info: dict, overwrite: bool) -> bool:
    """Check or create the sidecar; return True when ``target`` is already complete."""
    sidecar = sidecar_path(target)
    if overwrite:
        for path in (target, sidecar):
            path.unlink(missing_ok=True)
    if target.exists() or sidecar.exists():
        import json

        try:
            previous = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            previous = None
        if previous is None or not _same_run(previous, info):
            raise FileExistsError(
                f"{target} exists from a run with other settings, model or input (see {sidecar}); "
                f"pass --overwrite to replace it or choose another output"
            )
        return bool(previous.get("complete"))
    target.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(sidecar, {**info, "complete": False})
    return False


def _run(chunk_scorer: _ChunkScorer, rows: Iterator[Row], target: Path, info: dict, chunk_size: int,
         rank: int, world: int, show_progress: bool, total: int | None) -> None:
    from tqdm.auto import tqdm

    done = recover(target, chunk_size)
    mine = None
    if total is not None:  # rows of this process still to score: the bar's ETA counts only those
        chunks = [c for c in range(-(-total // chunk_size)) if c % world == rank and c not in done]
        mine = sum(min(chunk_size, total - c * chunk_size) for c in chunks)
    with open(target, "a", encoding="utf-8") as handle, \
            tqdm(total=mine, desc=f"scoring{f' [{rank}/{world}]' if world > 1 else ''}", unit="row",
                 disable=not show_progress) as bar:
        for chunk_id, chunk in _chunks(rows, chunk_size):
            if chunk_id % world != rank or chunk_id in done:
                continue
            lines = [dumps_record(record) + "\n" for record in chunk_scorer.records(chunk)]
            handle.write("".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
            bar.update(len(chunk))
    write_json_atomic(sidecar_path(target), {**info, "complete": True})


def _barrier() -> None:
    """Wait for all processes; a gloo group is enough (only a barrier crosses processes)."""
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    dist.barrier()


def _merge(output: Path, info: dict, world: int, rank: int) -> None:
    _barrier()
    if rank == 0:
        parts = [part_path(output, r, world) for r in range(world)]
        merge_parts(parts, output)
        write_json_atomic(sidecar_path(output), {**info, "complete": True, "merged_from": world})
        for part in parts:
            part.unlink()
            sidecar_path(part).unlink(missing_ok=True)
    _barrier()
