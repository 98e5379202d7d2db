"""Score a file of (document, summary) rows into JSONL: resumable, shardable, failure-isolating.

:func:`map_rows` is the engine underneath, for any per-row stage (summary generation, ConSeq
candidates, evaluation metrics): same chunking, sidecar, resume and ordered merge.

Under ``accelerate launch`` / ``torchrun`` (``WORLD_SIZE`` > 1) chunk k goes to process
k % world; each process writes its own part and the first process merges the parts in input order.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from quals import distributed
from quals.batch.output import (
    CorpusSummary,
    dumps_record,
    merge_parts,
    part_path,
    recover,
    sidecar_path,
    summarize,
)
from quals.data.readers import FieldMap, Row, count_rows, read_rows
from quals.files import atomic_write_json

logger = logging.getLogger(__name__)


class Scorer(Protocol):
    """What the runner needs of a metric (QUALS, QAGS, ...)."""

    def score(self, documents: list[str], summaries: list[str]): ...

    def run_info(self) -> dict: ...

    def count_tokens(self, text: str) -> int: ...


class RowMapper(Protocol):
    """Any per-row stage (scoring, generation, ...): one JSON-ready record per row, each with ``row``."""

    def records(self, rows: list) -> list[dict]: ...


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
    return distributed.rank(), distributed.world_size()


def _chunks(rows: Iterator, size: int) -> Iterator[tuple[int, list]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk[0].index // size, chunk
            chunk = []
    if chunk:
        yield chunk[0].index // size, chunk


def _error_record(row: Row, message: str) -> dict:
    """``line`` (1-based, where the row starts in the input) beside ``row`` (0-based data row)."""
    return {"row": row.index, "line": getattr(row, "line", None), "id": row.id, "score": None, "error": message}


def _where(row: Row) -> str:
    line = getattr(row, "line", None)
    return f"line {line}" if line is not None else f"row {row.index}"


class _ChunkScorer:
    def __init__(self, scorer: Scorer, config: RunConfig) -> None:
        self.scorer = scorer
        self.config = config

    def records(self, rows: list[Row]) -> list[dict]:
        records: dict[int, dict] = {}
        good: list[Row] = []
        for row in rows:
            problem = row.error
            if problem is None:
                why = self._check(row)
                problem = f"{_where(row)}: {why}" if why else None
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
                return [(rows[0], _error_record(rows[0], f"{_where(rows[0])}: {type(err).__name__}: {err}"))]
            # Isolate the failing row(s): score one by one so the others still get scores.
            return [pair for row in rows for pair in self._score([row])]
        return [(row, {"row": row.index, "id": row.id, **example.to_dict(self.config.details), "error": None})
                for row, example in zip(rows, result.examples, strict=True)]


def score_file(scorer: Scorer, input_path: str | Path, output: str | Path, *, fields: FieldMap = FieldMap(),
               input_format: str | None = None, config: RunConfig = RunConfig(),
               show_progress: bool = False, desc: str = "scoring") -> CorpusSummary:
    """Score every row of ``input_path`` into ``output`` (JSONL), resuming an earlier run.

    ``desc`` labels the progress bar (e.g. which scorer on which dataset); it is not part of the
    run's settings, so it never stops a resume.

    Raises:
        FileExistsError: ``output`` exists from a run with other settings (and not ``overwrite``).
        ValueError: ``output`` is the input file (by path or by inode, e.g. a hard link).
    """
    refuse_same_file(input_path, output)
    info = {"run": scorer.run_info(), "input": str(Path(input_path).resolve()),
            "input_sha256": file_sha256(input_path), "fields": asdict(fields)}
    return score_rows(scorer, read_rows(input_path, fields, input_format), output, info=info, config=config,
                      show_progress=show_progress,
                      count=(lambda: count_rows(input_path, input_format)) if show_progress else None, desc=desc)


def file_sha256(path: str | Path) -> str:
    """Content hash of the input: a resume over an edited file (a row added, changed or removed)
    would otherwise mix scores of two different inputs."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def refuse_same_file(input_path: str | Path, output: str | Path) -> None:
    """Writing the output over the input would destroy the rows being read, ``--overwrite`` or not."""
    source, target = Path(input_path), Path(output)
    same = source.resolve() == target.resolve()
    if not same and source.exists() and target.exists():
        same = os.path.samefile(source, target)
    if same:
        raise ValueError(f"the output {target} is the input file {source}: choose another output path")


def score_rows(scorer: Scorer, rows: Iterable[Row], output: str | Path, *, info: dict,
               config: RunConfig = RunConfig(), show_progress: bool = False,
               count: Callable[[], int] | None = None, desc: str = "scoring") -> CorpusSummary:
    """:func:`score_file` over rows from anywhere (e.g. built in memory from another stage's output).

    ``info`` names the input (it goes into the run sidecar next to the scorer's ``run_info`` and
    ``config``); ``rows`` must be in ``index`` order, indices counting from 0.
    """
    info = {**info, "chunk_size": config.chunk_size, "details": config.details,
            "max_document_tokens": config.max_document_tokens}
    map_rows(_ChunkScorer(scorer, config), rows, output, info=info, chunk_size=config.chunk_size,
             overwrite=config.overwrite, show_progress=show_progress, count=count, desc=desc)
    return summarize(Path(output))


def map_rows(mapper: RowMapper, rows: Iterable, output: str | Path, *, info: dict, chunk_size: int = 16,
             overwrite: bool = False, show_progress: bool = False, count: Callable[[], int] | None = None,
             desc: str = "processing") -> None:
    """Write ``mapper.records(chunk)`` for every chunk of ``rows`` to ``output`` (JSONL), resumably.

    The generic engine of :func:`score_file`: fixed chunks aligned to absolute row numbers, a run
    sidecar holding ``info`` (a rerun with different ``info`` refuses to mix outputs), resume after
    the last complete chunk, and under ``WORLD_SIZE`` > 1 chunk k on process k % world with an
    ordered merge by the first process. Rows need an ``index`` attribute (0, 1, 2, ... in order).

    Args:
        mapper: makes one record (a dict with ``"row"``) per row of a chunk.
        rows: the input rows, in index order; every process iterates all of them.
        output: the JSONL file to write.
        info: what determines the output (model, settings, input); JSON-serialisable.
        chunk_size: rows per ``records`` call and per resume unit.
        overwrite: discard an existing output instead of resuming.
        show_progress: progress bar on stderr.
        count: returns the number of rows, for the progress bar's ETA (called only when needed).
        desc: progress bar label.

    Raises:
        FileExistsError: ``output`` exists from a run with other ``info`` (and not ``overwrite``).
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    output = Path(output)
    rank, world = _world()
    if world > 1 and not overwrite and _is_complete(output, info):
        return
    target = output if world == 1 else part_path(output, rank, world)
    if _prepare(target, info, overwrite):
        logger.info("%s is already complete", target)
    else:
        total = count() if (show_progress and count is not None) else None
        _run(mapper, iter(rows), target, info, chunk_size, rank, world, show_progress, total, desc)
    if world > 1:
        _merge(output, info, world, rank)


def _is_complete(output: Path, info: dict) -> bool:
    import json

    try:
        previous = json.loads(sidecar_path(output).read_text())
    except (OSError, ValueError):
        return False
    return bool(previous.get("complete")) and _same_run(previous, info) and output.exists()


def _same_run(previous: dict, info: dict) -> bool:
    return {k: v for k, v in previous.items() if k not in ("complete", "merged_from")} == info


def _differences(old, new, path: str = "", limit: int = 5) -> list[str]:
    """What differs between two run records, as ``field: old -> new`` (the first ``limit``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append(f"{where}: not recorded before")
            elif key not in new:
                out.append(f"{where}: recorded before, not now")
            elif old[key] != new[key]:
                out.extend(_differences(old[key], new[key], where, limit))
        if len(out) > limit:
            out = [*out[:limit], f"{len(out) - limit} more"]
        return out
    if path.endswith("sha256"):
        return [f"{path}: the content changed"]
    return [f"{path}: {_short(old)} -> {_short(new)}"]


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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
        if previous is None:
            raise FileExistsError(f"{target} exists without a readable run record ({sidecar}); "
                                  f"pass --overwrite to replace it or choose another output")
        if not _same_run(previous, info):
            changed = "; ".join(_differences({k: v for k, v in previous.items()
                                              if k not in ("complete", "merged_from")}, info))
            raise FileExistsError(f"{target} exists from another run ({changed}); pass --overwrite to replace it "
                                  f"or choose another output")
        if previous.get("complete") and not target.exists():
            logger.warning("%s is missing though %s says the run was complete: running it again", target, sidecar)
            atomic_write_json(sidecar, {**info, "complete": False})
            return False
        return bool(previous.get("complete"))
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(sidecar, {**info, "complete": False})
    return False


def _run(mapper: RowMapper, rows: Iterator, target: Path, info: dict, chunk_size: int,
         rank: int, world: int, show_progress: bool, total: int | None, desc: str) -> None:
    from tqdm.auto import tqdm

    done = recover(target, chunk_size)
    mine = None
    if total is not None:  # rows of this process still to score: the bar's ETA counts only those
        chunks = [c for c in range(-(-total // chunk_size)) if c % world == rank and c not in done]
        mine = sum(min(chunk_size, total - c * chunk_size) for c in chunks)
    with open(target, "a", encoding="utf-8") as handle, \
            tqdm(total=mine, desc=f"{desc}{f' [{rank}/{world}]' if world > 1 else ''}", unit="row",
                 disable=not show_progress) as bar:
        for chunk_id, chunk in _chunks(rows, chunk_size):
            if chunk_id % world != rank or chunk_id in done:
                continue
            lines = [dumps_record(record) + "\n" for record in mapper.records(chunk)]
            handle.write("".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
            bar.update(len(chunk))
    atomic_write_json(sidecar_path(target), {**info, "complete": True})


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
        atomic_write_json(sidecar_path(output), {**info, "complete": True, "merged_from": world})
        for part in parts:
            part.unlink()
            sidecar_path(part).unlink(missing_ok=True)
    _barrier()
